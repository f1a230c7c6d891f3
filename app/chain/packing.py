"""Number the retrieved chunks [1]..[n] and fit them into a token budget.

Whole sources are dropped from the end (the least relevant) when they do not fit; the one source
that straddles the budget may be shortened, but only at a sentence boundary, so the model never
reads a clause cut in half.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from app.chain.pages import page_of
from app.chain.sanitize import neutralise
from app.chain.sentences import split_sentences
from app.types import RetrievedChunk, Source
from store.records import StoredChunk

SOURCE_SEPARATOR = "\n\n"
# A trimmed source shorter than this many tokens is not worth its header: drop it instead.
MIN_TRIMMED_TOKENS = 24


def source_heading(n: int, chunk: StoredChunk) -> str:
    pages = (
        f"page {chunk.page_start}"
        if chunk.page_start == chunk.page_end
        else (f"pages {chunk.page_start}-{chunk.page_end}")
    )
    return f"[{n}] {chunk.file_name}, {pages}"


def render_source(n: int, chunk: StoredChunk, specials: Iterable[str] = ()) -> str:
    """How source n reads in the prompt; document text is neutralised here, at the last moment."""
    header = f"({neutralise(chunk.header, specials)})\n" if chunk.header else ""
    return f"{neutralise(source_heading(n, chunk), specials)}\n{header}{neutralise(chunk.text, specials)}"


def render_sources(sources: Sequence[Source], specials: Iterable[str] = ()) -> str:
    return SOURCE_SEPARATOR.join(render_source(s.n, s.chunk, specials) for s in sources)


def trim_to_sentences(chunk: StoredChunk, fits: Callable[[StoredChunk], bool]) -> StoredChunk | None:
    """The longest prefix of `chunk` made of whole sentences that still `fits`, or None."""
    sentences = split_sentences(chunk.text)
    low, high, best = 1, len(sentences) - 1, None
    while low <= high:  # binary search over the number of sentences kept
        middle = (low + high) // 2
        end = sentences[middle - 1].end
        candidate = replace(
            chunk,
            text=chunk.text[:end],
            char_end=chunk.char_start + end,
            page_end=page_of(chunk, max(end - 1, 0)),
        )
        if fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def pack_sources(
    retrieved: Sequence[RetrievedChunk],
    budget_tokens: int,
    count_tokens: Callable[[str], int],
    specials: Iterable[str] = (),
    min_trimmed_tokens: int = MIN_TRIMMED_TOKENS,
) -> list[Source]:
    """Sources [1]..[n] in retrieval order whose rendered text fits `budget_tokens`."""
    specials = tuple(specials)
    sources: list[Source] = []
    used = 0
    separator = count_tokens(SOURCE_SEPARATOR)
    for item in retrieved:
        n = len(sources) + 1
        room = budget_tokens - used - (separator if sources else 0)

        def fits(chunk: StoredChunk, n: int = n, room: int = room) -> bool:
            return count_tokens(render_source(n, chunk, specials)) <= room

        chunk: StoredChunk | None = item.chunk
        if chunk is not None and not fits(chunk):
            chunk = trim_to_sentences(chunk, fits)
            if chunk is not None and count_tokens(chunk.text) < min_trimmed_tokens:
                chunk = None
        if chunk is None:
            break  # later sources rank lower: stop rather than skip ahead to a shorter one
        sources.append(Source(n, replace(item, chunk=chunk)))
        used += count_tokens(render_source(n, chunk, specials)) + (separator if n > 1 else 0)
    return sources
