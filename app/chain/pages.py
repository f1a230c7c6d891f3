"""Which page an offset inside a chunk falls on.

Chunks ingested since revision 0003 record where inside them each page begins, and that decides.
For older ones the page is estimated: pages are joined with a blank line
(ParsedDocument.PAGE_SEPARATOR), so every page break is at a blank line, though not every blank
line is a page break. Text before the first blank line is on the first page, text after the last
on the last page, and with exactly as many blank lines as breaks each one is a break; otherwise
the page is bounded by the blank lines around the offset and estimated by position.
"""

import bisect

from store.records import StoredChunk

SEPARATOR = "\n\n"


def page_of(chunk: StoredChunk, offset: int) -> int:
    """The 1-based page of character `offset` of `chunk.text`."""
    breaks = chunk.page_end - chunk.page_start
    if breaks <= 0:
        return chunk.page_start
    if len(chunk.page_breaks) == breaks:  # recorded at ingestion: exact
        return chunk.page_start + bisect.bisect_right(chunk.page_breaks, offset)
    gaps = _separator_offsets(chunk.text)
    before = sum(1 for g in gaps if g < offset)
    after = len(gaps) - before
    low = max(chunk.page_start, chunk.page_end - after)  # at most `after` breaks can follow
    high = min(chunk.page_end, chunk.page_start + before)  # at most `before` breaks can precede
    if low >= high:
        return low
    share = offset / max(len(chunk.text), 1)
    return min(high, max(low, chunk.page_start + int(share * (breaks + 1))))


def _separator_offsets(text: str) -> list[int]:
    found, start = [], text.find(SEPARATOR)
    while start >= 0:
        found.append(start)
        start = text.find(SEPARATOR, start + len(SEPARATOR))
    return found
