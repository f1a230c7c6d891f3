"""Chunks: token budget, overlap, exact offsets, page spans, Chinese sentence ends, no junk."""

import itertools
import re

from ingestion.embedders import HashingEmbedder
from ingestion.parsing.text_cleaning import clean_text
from ingestion.splitter import split_document
from ingestion.types import ChunkDraft, DocumentMetadata, PageText, ParsedDocument

count_tokens = HashingEmbedder().count_tokens  # words, and each CJK character


NO_METADATA = DocumentMetadata()


def document(*page_texts: str, metadata: DocumentMetadata = NO_METADATA) -> ParsedDocument:
    pages = tuple(PageText(number=i + 1, text=text) for i, text in enumerate(page_texts))
    return ParsedDocument(file_name="doc.txt", mime="text/plain", pages=pages, metadata=metadata)


def english_sentences(count: int, start: int = 0) -> str:
    return " ".join(
        f"Sentence number {n} tells the reader one more fact about revenue."
        for n in range(start, start + count)
    )


def assert_exact(doc: ParsedDocument, chunks: list[ChunkDraft]) -> None:
    text = doc.text
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.text.strip() == chunk.text != ""


def test_chunks_respect_the_budget_and_overlap() -> None:
    doc = document(english_sentences(60))
    chunks = split_document(doc, count_tokens, chunk_tokens=64, overlap_tokens=16)
    assert_exact(doc, chunks)
    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 64 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert before.char_start < after.char_start < before.char_end  # they overlap, moving forward
        shared = doc.text[after.char_start : before.char_end]
        assert count_tokens(shared) <= 16
        assert before.text.endswith(".")  # cut at sentence ends


def test_page_spans_follow_the_offsets_and_empty_pages_make_no_chunks() -> None:
    doc = document(
        english_sentences(6), "", "12", english_sentences(4, start=6), english_sentences(2, start=12)
    )
    chunks = split_document(doc, count_tokens, chunk_tokens=80, overlap_tokens=10)
    assert_exact(doc, chunks)
    pages_used = {page for c in chunks for page in range(c.page_start, c.page_end + 1)}
    assert {c.page_start for c in chunks}.isdisjoint({2, 3})  # empty, or only a page number
    assert {1, 4, 5} <= pages_used
    starts = [0]
    for page in doc.pages:
        starts.append(starts[-1] + len(page.text) + 2)
    for chunk in chunks:
        assert starts[chunk.page_start - 1] <= chunk.char_start < starts[chunk.page_start]
        assert starts[chunk.page_end - 1] < chunk.char_end <= starts[chunk.page_end]
    assert any(c.page_end > c.page_start for c in chunks)  # short pages share a chunk
    for chunk in chunks:  # each later page of a span begins exactly where the chunk records it
        assert len(chunk.page_breaks) == chunk.page_end - chunk.page_start
        for page, offset in enumerate(chunk.page_breaks, start=chunk.page_start + 1):
            assert chunk.char_start + offset == starts[page - 1]


def test_the_metadata_header_counts_against_the_budget() -> None:
    header = DocumentMetadata(organisation="Apple Inc.", kind="10-Q", period="quarter ended April 1, 2023")
    doc = document(english_sentences(40), metadata=header)
    chunks = split_document(doc, count_tokens, chunk_tokens=64, overlap_tokens=8)
    header_tokens = count_tokens(header.header())
    assert all(count_tokens(c.text) + header_tokens <= 64 for c in chunks)
    assert not any("Apple Inc." in c.text for c in chunks)  # the body only; the store adds the header


def test_chinese_splits_at_sentence_ends() -> None:
    sentences = [f"第{n}条规定员工每年可以休假二十五天，并且需要提前两周申请。" for n in range(40)]
    sentences[5] = "报销需要发票吗？需要！"
    doc = document("".join(sentences))
    chunks = split_document(doc, count_tokens, chunk_tokens=60, overlap_tokens=10)
    assert_exact(doc, chunks)
    assert len(chunks) > 10
    for chunk in chunks:
        assert chunk.text[-1] in "。！？", chunk.text
        assert chunk.char_start == 0 or doc.text[chunk.char_start - 1] in "。！？"


def test_very_long_sentences_fall_back_to_commas_then_characters() -> None:
    doc = document("，".join(["一二三四五六七八九十"] * 30) + "。" + "字" * 300)
    chunks = split_document(doc, count_tokens, chunk_tokens=50, overlap_tokens=5)
    assert_exact(doc, chunks)
    assert all(count_tokens(c.text) <= 50 for c in chunks)


def test_repeated_text_gets_increasing_offsets() -> None:
    doc = document(("Same line again.\n" * 200).strip())
    chunks = split_document(doc, count_tokens, chunk_tokens=30, overlap_tokens=6)
    assert_exact(doc, chunks)
    starts = [c.char_start for c in chunks]
    assert starts == sorted(set(starts))
    assert chunks[-1].char_end == len(doc.text)
    assert chunks[0].char_end > len(doc.text) / len(chunks) * 0.5  # spread over the text, not piled up


def test_table_of_contents_leaders_make_no_junk_chunks() -> None:
    toc = clean_text(
        "\n".join(f"{n}.1 Section title {n} . . . . . . . . . . . . . . {n * 3}" for n in range(1, 60))
    )
    doc = document(toc, clean_text(". . . . . . . . .\n12\n— 3 —"), english_sentences(3))
    chunks = split_document(doc, count_tokens, chunk_tokens=64, overlap_tokens=8)
    assert_exact(doc, chunks)
    assert ". . ." not in doc.text
    assert all(c.page_start != 2 for c in chunks)  # a page of leaders and numbers says nothing
    assert all(len(re.findall(r"[A-Za-z]", c.text)) >= 3 for c in chunks)


def test_an_empty_document_has_no_chunks() -> None:
    assert split_document(document("", "   "), count_tokens) == []
