"""ParsedDocument -> ChunkDraft list: token-sized, overlapping chunks that keep page span and offsets.

Sizes are counted in the embedding model's tokens (count_tokens) so a chunk, with its document's
metadata header in front, fits what the model reads. Offsets index ParsedDocument.text exactly:
doc.text[chunk.char_start:chunk.char_end] == chunk.text.
"""

import bisect
import functools
import re
from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingestion.types import ChunkDraft, ParsedDocument

# Regular expressions, coarse to fine; each level splits at every match (the separator stays at
# the end of the piece before it, so pieces concatenate back to the text exactly). Sentence ends
# come before single newlines: PDF lines are layout wraps, often mid-sentence (Chinese PDFs too).
SEPARATORS: tuple[str, ...] = (
    r"\n\n",  # paragraphs, and the gap between pages
    r"[。！？｡．!?]|\.(?=\s)",  # sentence ends, Chinese (full-width) and Latin
    r"\n",  # lines
    r"[；;]",
    r"[，,、]",
    r"[：:]",
    r" ",
    "",  # characters, the last resort
)
# The header (organisation | kind | period | title) is embedded with every chunk; the body gets
# what is left of the budget, but never less than this share of it.
_MIN_BODY_SHARE = 0.5
# A chunk worth embedding says something: at least this many letters (any script).
_MIN_LETTERS = 3
_LETTER = re.compile(r"[^\W\d_]")


def split_document(
    doc: ParsedDocument,
    count_tokens: Callable[[str], int],
    chunk_tokens: int = 256,
    overlap_tokens: int = 32,
) -> list[ChunkDraft]:
    """Chunks of at most `chunk_tokens` tokens including the metadata header; `overlap_tokens` shared."""
    # The text splitter measures each piece twice (to split, then to merge), and tokenizing is most
    # of its time: remember this document's counts.
    count_tokens = functools.lru_cache(maxsize=None)(count_tokens)
    header = doc.metadata.header()
    header_tokens = count_tokens(header) + 1 if header else 0
    body_tokens = max(chunk_tokens - header_tokens, int(chunk_tokens * _MIN_BODY_SHARE))
    overlap = min(overlap_tokens, body_tokens // 2)
    splitter = RecursiveCharacterTextSplitter(
        separators=list(SEPARATORS),
        keep_separator="end",
        is_separator_regex=True,
        chunk_size=body_tokens,
        chunk_overlap=overlap,
        length_function=count_tokens,
        strip_whitespace=True,
    )
    text = doc.text
    page_starts = _page_start_offsets(doc)
    drafts: list[ChunkDraft] = []
    previous_start, previous_end = -1, 0
    for piece in splitter.split_text(text):
        start = _locate(text, piece, previous_start, previous_end, count_tokens, overlap)
        end = start + len(piece)
        previous_start, previous_end = start, end
        start, end = _without_wordless_edge_pages(text, page_starts, start, end)
        if not _says_something(text[start:end]):
            continue
        first, last = _page_index(page_starts, start), _page_index(page_starts, end - 1)
        drafts.append(
            ChunkDraft(
                ordinal=len(drafts),
                text=text[start:end],
                page_start=doc.pages[first].number,
                page_end=doc.pages[last].number,
                char_start=start,
                char_end=end,
                page_breaks=tuple(page_starts[i] - start for i in range(first + 1, last + 1)),
            )
        )
    return drafts


def _locate(
    text: str,
    piece: str,
    previous_start: int,
    previous_end: int,
    count_tokens: Callable[[str], int],
    overlap: int,
) -> int:
    """Where `piece` starts in `text`, which may hold copies of it (boilerplate, repeated lines).

    Chunks come in order and cover every non-space character, so the next one starts after the
    previous one's start and no later than the first non-space character past its end; within that
    window, the copy sharing about `overlap` tokens with the previous chunk is the one."""
    window_end = previous_end
    while window_end < len(text) and text[window_end].isspace():
        window_end += 1
    candidates = []
    search_from = max(previous_start + 1, 0)
    while (start := text.find(piece, search_from, window_end + len(piece))) >= 0:
        shared = count_tokens(text[start:previous_end]) if start < previous_end else 0
        candidates.append((start, shared))
        search_from = start + 1
    if not candidates:  # should not happen; still never lose the chunk over a bookkeeping doubt
        start = text.find(piece, max(previous_start + 1, 0))
        start = start if start >= 0 else text.find(piece)
        if start < 0:
            raise AssertionError("the text splitter returned text that is not in the document")
        return start
    for allowance in (overlap, overlap + 8):
        for start, shared in candidates:
            if shared <= allowance:
                return start
    return min(candidates, key=lambda candidate: abs(candidate[1] - overlap))[0]


def _without_wordless_edge_pages(text: str, page_starts: list[int], start: int, end: int) -> tuple[int, int]:
    """Drops a first or last page's part of a chunk when it has no words (a page number, leaders),
    so the chunk does not cite a page it takes nothing from."""
    first = _page_index(page_starts, start)
    last = _page_index(page_starts, end - 1)
    if first < last and not _says_something(text[start : page_starts[first + 1]]):
        start = page_starts[first + 1]
        first += 1
    if first < last and not _says_something(text[page_starts[last] : end]):
        end = page_starts[last] - 2  # before the page separator
        while end > start and text[end - 1].isspace():
            end -= 1
    return start, end


def _page_start_offsets(doc: ParsedDocument) -> list[int]:
    """Offset in doc.text where each page's text begins."""
    starts, offset = [], 0
    for page in doc.pages:
        starts.append(offset)
        offset += len(page.text) + len(doc.PAGE_SEPARATOR)
    return starts


def _page_index(page_starts: list[int], offset: int) -> int:
    return bisect.bisect_right(page_starts, offset) - 1


def _says_something(text: str) -> bool:
    """Drops chunks of only digits, punctuation or leaders (page numbers, TOC remnants)."""
    return len(_LETTER.findall(text)) >= _MIN_LETTERS
