"""Each bad file fails alone, with a sentence naming the file and the cause; the caller lives on."""

import os
from pathlib import Path

import pytest

from ingestion.errors import IngestError, ParseError, UnsupportedFileError
from ingestion.parsing import ParseLimits, parse_file
from ingestion.parsing.sandbox import run_loader_in_child
from tests.ingestion import parse_fixtures as fx

DEFAULT_LIMITS = ParseLimits()
GOOD_PAGES = [["Quarterly revenue grew by nine percent."], ["Operating costs were flat."]]


def child_pids() -> set[int]:
    """Live (not zombie) children of this process, read from /proc."""
    children = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            children.add(int(entry))
    return children


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: 256 MB of spaces deflated to 0.25 MB."""
    return fx.write_decompression_bomb_pdf(tmp_path_factory.mktemp("bomb") / "bomb.pdf")


@pytest.fixture
def good_pdf(tmp_path: Path) -> Path:
    return fx.write_pdf(tmp_path / "good.pdf", GOOD_PAGES)


def assert_refused(path: Path, *phrases: str, limits: ParseLimits = DEFAULT_LIMITS, loader: str = "") -> None:
    with pytest.raises(ParseError) as caught:
        if loader:
            run_loader_in_child(path, limits, loader)
        else:
            parse_file(path, limits)
    message = str(caught.value)
    assert path.name in message
    for phrase in phrases:
        assert phrase in message, message
    assert "Traceback" not in message


def assert_caller_unharmed(good_pdf: Path) -> None:
    assert not child_pids(), "a parse process outlived its call"
    assert [page.text for page in parse_file(good_pdf).pages] == [lines[0] for lines in GOOD_PAGES]


def test_a_good_pdf_parses_in_the_child(good_pdf: Path) -> None:
    doc = parse_file(good_pdf)
    assert doc.file_name == "good.pdf"
    assert doc.mime == "application/pdf"
    assert [(page.number, page.text) for page in doc.pages] == [
        (1, "Quarterly revenue grew by nine percent."),
        (2, "Operating costs were flat."),
    ]


def test_zero_byte_file(tmp_path: Path, good_pdf: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    assert_refused(empty, "is empty")
    assert_caller_unharmed(good_pdf)


def test_truncated_pdf(tmp_path: Path, good_pdf: Path) -> None:
    pages = [[f"Line on page {n}"] for n in range(40)]
    assert_refused(fx.write_truncated_pdf(tmp_path / "cut.pdf", pages), "damaged or truncated")
    assert_caller_unharmed(good_pdf)


def test_pdf_with_a_real_user_password(tmp_path: Path, good_pdf: Path) -> None:
    assert_refused(fx.write_password_pdf(tmp_path / "locked.pdf", GOOD_PAGES), "is encrypted with a password")
    assert_caller_unharmed(good_pdf)


def test_pdf_encrypted_with_an_empty_password_opens(tmp_path: Path) -> None:
    doc = parse_file(fx.write_empty_password_pdf(tmp_path / "rc4.pdf", GOOD_PAGES))
    assert doc.pages[1].text == "Operating costs were flat."


def test_not_a_pdf_named_pdf(tmp_path: Path, good_pdf: Path) -> None:
    assert_refused(fx.write_not_a_pdf(tmp_path / "page.pdf"), "is not a PDF")
    assert_caller_unharmed(good_pdf)


def test_decompression_bomb_is_stopped_by_the_reader_limits(bomb: Path, good_pdf: Path) -> None:
    assert_refused(bomb, "decompression bomb")
    assert_caller_unharmed(good_pdf)


def test_decompression_bomb_is_stopped_by_the_memory_limit_alone(bomb: Path, good_pdf: Path) -> None:
    assert_refused(
        bomb,
        "needs more than 200 MB",
        limits=ParseLimits(memory_mb=200),
        loader=f"{fx.THIS_MODULE}:load_without_pypdf_limits",
    )
    assert_caller_unharmed(good_pdf)


def test_too_many_pages_is_refused_before_extraction(tmp_path: Path, good_pdf: Path) -> None:
    many = fx.write_many_page_pdf(tmp_path / "many.pdf", 5000)
    assert_refused(many, "has 5,000 pages, over the limit of 1,000 pages", limits=ParseLimits(max_pages=1000))
    assert_caller_unharmed(good_pdf)


def test_five_thousand_pages_parse_quickly_under_the_default_limits(tmp_path: Path) -> None:
    doc = parse_file(fx.write_many_page_pdf(tmp_path / "many.pdf", 5000), ParseLimits(timeout_s=30))
    assert len(doc.pages) == 5000
    assert doc.pages[-1] == doc.pages[-1].__class__(number=5000, text="Same text on every page")


def test_file_over_the_byte_limit(tmp_path: Path, good_pdf: Path) -> None:
    assert_refused(good_pdf, "over the limit of", limits=ParseLimits(max_bytes=100))


def test_hanging_parser_is_killed_at_the_timeout(good_pdf: Path) -> None:
    assert_refused(
        good_pdf,
        "took longer than 1.5 s to parse",
        limits=ParseLimits(timeout_s=1.5),
        loader=f"{fx.THIS_MODULE}:hang_forever",
    )
    assert_caller_unharmed(good_pdf)


def test_parser_eating_memory_is_stopped(good_pdf: Path) -> None:
    assert_refused(
        good_pdf,
        "needs more than 256 MB",
        limits=ParseLimits(memory_mb=256),
        loader=f"{fx.THIS_MODULE}:allocate_without_end",
    )
    assert_caller_unharmed(good_pdf)


def test_parser_crash_becomes_a_parse_error(good_pdf: Path) -> None:
    assert_refused(good_pdf, "crashed", "SIGKILL", loader=f"{fx.THIS_MODULE}:die_by_signal")
    assert_caller_unharmed(good_pdf)


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    sheet = tmp_path / "table.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    with pytest.raises(UnsupportedFileError, match=r"table\.xlsx has an unsupported file type"):
        parse_file(sheet)
    with pytest.raises(ParseError, match=r"gone\.pdf does not exist"):
        parse_file(tmp_path / "gone.pdf")
    assert issubclass(ParseError, IngestError)


def test_pdf_without_any_text(tmp_path: Path) -> None:
    assert_refused(fx.write_pdf(tmp_path / "scan.pdf", [[], []]), "contains no text")
