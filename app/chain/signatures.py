"""Signature blocks: "/s/ NAME", the typed name and the signer's title, as filings, their
certifications and contracts print them. They answer "who" questions about a role ("Who is
Intel's chief financial officer?", "Who signed Amazon's 10-Q?") better than any sentence: the
name and the title stand on lines of their own, with no full stop to make a sentence of them.

    By: /s/ DAVID ZINSNER
      David Zinsner
    Executive Vice President, Chief Financial Officer, and
    Principal Financial Officer
"""

import re
from dataclasses import dataclass

from app.retrieval.dates import DateMention, date_mentions

_SIGNED = re.compile(r"/s/[ \t]*([^\n]+)")
# A line that ends a block: the next signature, a date line, a page number or footer.
_BLOCK_END = re.compile(r"^\s*(?:By:|Date|Dated|/s/|\d{1,3}\s*$|Table of Contents)|\|", re.IGNORECASE)
_MAX_TITLE_LINES = 3
_GLUED = re.compile(r"(?<=[a-z])(?=[A-Z])")


@dataclass(frozen=True)
class Signer:
    name: str  # as typed under the signature ("Alice L. Jolla")
    title: str  # "Corporate Vice President and Chief Accounting Officer (Duly Authorized Officer)"
    date: DateMention | None  # printed with the block ("October 24, 2023"); its span is in the lines read
    start: int  # offset of "/s/" in the text
    end: int  # end of the block's last line

    def who(self) -> str:
        title = self.title.rstrip(".")
        return f"{self.name}, {title}" if title else self.name

    def render(self) -> str:
        return f"{self.who()} (signed {self.date.text})" if self.date is not None else self.who()

    def render_dated(self) -> str:
        """For a question about when: the date first."""
        return f"Signed {self.date.text} by {self.who()}" if self.date is not None else self.render()


def _same_name(signed: str, typed: str) -> bool:
    letters = re.compile(r"[^a-z]")
    return letters.sub("", signed.lower()) == letters.sub("", typed.lower())


def signers(text: str) -> list[Signer]:
    found = []
    for match in _SIGNED.finditer(text):
        signed = " ".join(match.group(1).split())
        if not signed or len(signed) > 60:
            continue
        name, title, end = _block(text, signed, match.end())
        if name.isupper():  # "ALICE L. JOLLA"; a firm's "LLP" stays as it is
            name = " ".join(w if len(w) <= 3 and "." not in w else w.title() for w in name.split())
        found.append(Signer(name, title, _date_near(text, match.start(), end), match.start(), end))
    return found


def _block(text: str, signed: str, at: int) -> tuple[str, str, int]:
    """The typed name (or the signed one), the title and the block's end, from the lines after
    the "/s/" line that starts at `at`."""
    name = signed
    title_lines: list[str] = []
    at = text.find("\n", at)
    while at != -1 and len(title_lines) < _MAX_TITLE_LINES:
        next_break = text.find("\n", at + 1)
        line = text[at + 1 : next_break if next_break != -1 else len(text)]
        stripped = " ".join(line.split())
        if not stripped:  # blank lines between the name and the title
            if title_lines:
                break
        elif _BLOCK_END.search(line) or date_mentions(stripped):
            break
        elif name is signed and _same_name(signed, stripped):
            name = stripped
        elif name is signed and _same_name(signed, " ".join(stripped.split()[: len(signed.split())])):
            words = stripped.split()  # the typed name and the title on one line
            name, title_lines = " ".join(words[: len(signed.split())]), [" ".join(words[len(signed.split()) :])]
        else:
            glued = _GLUED.search(line) if len(stripped) > 120 else None  # "OfficerA signed original"
            if len(stripped) > 120 and (glued is None or glued.start() > 120):
                break
            if glued is not None:
                title_lines.append(" ".join(line[: glued.start()].split()))
                return name, " ".join(title_lines), at + 1 + glued.start()
            title_lines.append(stripped)
        at = next_break
    return name, " ".join(title_lines), (at if at != -1 else len(text))


def _date_near(text: str, start: int, end: int) -> DateMention | None:
    """The date printed just before the block ("Date: July 27, 2023 By: /s/ ...") or right after it."""
    before = [d for d in date_mentions(text[max(0, start - 250) : start]) if d.day]
    if before:
        return before[-1]
    after = [d for d in date_mentions(text[end : end + 120]) if d.day]
    return after[0] if after else None
