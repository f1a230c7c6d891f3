"""The lines of a technical manual's listings: a package with what it does, or a command with
what it does. A question for a package, command or tool ("lsusb 这个工具在哪个软件包里？") is most
often answered by one such line, which the sentence splitter cannot quote: it has no full stop
and runs into the lines around it.

    usbutils V:71,I:855 325 LinuxUSB 工具: lsusb(8)                 (package, popularity, size, what)
    禁用”$unit”(删除符号链接) ”systemctl disable $unit”               (what, then the command)
    netstat -a 找出所有打开的端口                                     (the command, then what)
"""

import re
from dataclasses import dataclass

from app.retrieval.text import CJK_CHAR

_CJK = CJK_CHAR.pattern
# Debian's package tables: name, popularity ("V:71,I:855", or "I:48" alone), size in KiB, then what
# it does (after a keyword column or "同上", ditto, on some tables).
_PACKAGE = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9.+-]*[a-z0-9])[ \t]*(?:V:\d+,)?I:\d+[ \t]+\d+[ \t]+(?P<what>\S[^\n]*)$", re.M
)
# What a command does, in Chinese, then the command in quotes (pypdf gives ” for both quote marks).
_COMMAND_LAST = re.compile(rf"^(?P<what>[^\n]*?{_CJK}[^\n]*?)[ \t]*[”\"](?P<name>[a-z][^”\"\n]*?)[”\"][ \t]*$", re.M)
# The command (a word and up to three options or arguments), then what it does in Chinese.
_COMMAND_FIRST = re.compile(
    rf"^(?P<name>[a-z][\w.+-]*(?:[ \t]+(?:-{{1,2}}[\w=-]+|[\w./$]+)){{0,3}})[ \t]+(?P<what>{_CJK}[^\n]*)$", re.M
)


@dataclass(frozen=True)
class Listing:
    offset: int  # of the line in the text
    line: str  # as the page prints it
    name: str  # the package or the command
    what: str  # what it does, as the line says
    package: bool  # a package's line (not a command's)


def listings(text: str) -> list[Listing]:
    """Every listing line of a page's text, in the page's order (a line once). A command's line is
    one of a table, beside another listing line: a sentence may start with a command's name too
    ("systemd 不仅仅提供系统初始化，……")."""
    found: dict[int, Listing] = {}
    # the command first where a line reads both ways ("lsof -p pid 列出被某进程打开的文件: ”pid”")
    for pattern, package in ((_PACKAGE, True), (_COMMAND_FIRST, False), (_COMMAND_LAST, False)):
        for match in pattern.finditer(text):
            at = match.start()
            if at not in found:
                line = match.group(0).rstrip()
                found[at] = Listing(at, line, match["name"].strip(), match["what"].strip(), package)
    starts = [0, *(i + 1 for i, c in enumerate(text) if c == "\n")]
    row = {at: n for n, at in enumerate(starts)}
    listed = {row[at] for at in found}
    return [
        found[at]
        for at in sorted(found)
        if found[at].package or row[at] - 1 in listed or row[at] + 1 in listed
    ]


def render(listing: Listing) -> str:
    """The line as an answer: the name first, then what the manual says it does (a package's
    popularity and size are of no use to the asker)."""
    if not listing.package:
        return f"{listing.name}：{listing.what}"
    if CJK_CHAR.search(listing.what):
        return f"软件包 {listing.name}：{listing.what}"
    return f"package {listing.name}: {listing.what}"

