"""A manual's listing lines (a package or a command, with what it does) read from real pages of the
shared Debian manual, and quoted as the answer to a question for a package, command or tool."""

import pytest

from app.chain.extract import Extractor
from app.retrieval.listings import Listing, listings, render
from tests.app.test_verify import _manual_page_as_source


def _listed(page: int, name: str) -> Listing:
    text = _manual_page_as_source(1, page).chunk.text
    return next(listing for listing in listings(text) if listing.name == name)


def test_a_package_line_gives_its_name_and_what_it_does_without_popularity_or_size() -> None:
    usb = _listed(171, "usbutils")  # "usbutils V:71,I:855 325 LinuxUSB 工具: lsusb(8)"
    assert usb.package and usb.what == "LinuxUSB 工具: lsusb(8)"
    assert render(usb) == "软件包 usbutils：LinuxUSB 工具: lsusb(8)"
    nmap = _listed(120, "nmap")  # a table whose second column is "同上" (ditto)
    assert nmap.package and "端口扫描" in nmap.what


def test_a_command_line_is_read_whether_the_command_comes_first_or_last() -> None:
    disable = _listed(106, "systemctl disable $unit")  # 禁用”$unit”(删除符号链接) ”systemctl disable $unit”
    assert not disable.package and disable.what.startswith("禁用")
    netstat = _listed(124, "netstat -a")  # netstat -a 找出所有打开的端口
    assert not netstat.package and netstat.what == "找出所有打开的端口"
    assert render(netstat) == "netstat -a：找出所有打开的端口"


def test_prose_lines_are_not_listings() -> None:
    text = "你可以通过下面的方式使用 wall(1) 给登录系统的每一个人发送信息。\n9.5.3 硬件识别\n"
    text += "Table9.18: 用于系统安全性的工具"
    assert listings(text) == []


@pytest.mark.parametrize(
    ("question", "pages", "package", "page"),
    [
        # the sentence of page 237 on "dpkg -L package_name" was quoted: it names a package and lsusb's "man"
        ("插了个USB设备想看看系统认出来没有，lsusb 这个工具在哪个软件包里？", (171, 237), "usbutils", 171),
        # no sentence of either page says which package: "could not verify" was shown
        ("同事发来一个 .7z 压缩包，想用 7z 命令解压，要装哪个包？", (51, 198), "p7zip-full", 198),
    ],
)
def test_a_question_for_a_package_is_answered_by_its_listing_line(
    question: str, pages: tuple[int, ...], package: str, page: int
) -> None:
    sources = [_manual_page_as_source(n, p) for n, p in enumerate(pages, 1)]
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and extracted.text.startswith(f"软件包 {package}：")
    assert extracted.citation.page == page and package in extracted.citation.sentence
