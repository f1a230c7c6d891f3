"""Supported suffixes and the non-PDF loaders (DOCX, HTML, Markdown, plain text in several encodings)."""

from pathlib import Path

import docx
import pytest

from ingestion.parsing import SUPPORTED_SUFFIXES, ParseLimits, is_supported, parse_file
from ingestion.parsing.loaders import load_document

CHINESE = "知识库会回答员工的问题。每个答案都引用文件和页码！没有找到答案时，它会直接说明？" * 4


def test_supported_suffixes() -> None:
    assert {".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt"} <= SUPPORTED_SUFFIXES
    assert is_supported(Path("Report.PDF")) and is_supported("notes.md")
    assert not is_supported(Path("qna_data.csv")) and not is_supported("data.jsonl")


def test_docx_paragraphs_tables_page_breaks_and_title(tmp_path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "Staff handbook"
    document.add_heading("Holidays", level=1)
    document.add_paragraph("Everyone gets 25 days of paid leave.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Grade", "Days"
    table.cell(1, 0).text, table.cell(1, 1).text = "Senior", "30"
    document.add_page_break()
    document.add_paragraph("Expenses are paid monthly.")
    path = tmp_path / "handbook.docx"
    document.save(str(path))

    doc = parse_file(path)
    assert doc.mime.endswith("wordprocessingml.document")
    assert [page.number for page in doc.pages] == [1, 2]
    assert doc.pages[0].text == "Holidays\nEveryone gets 25 days of paid leave.\nGrade | Days\nSenior | 30"
    assert doc.pages[1].text == "Expenses are paid monthly."
    assert doc.metadata.title == "Staff handbook"


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "fake.docx"
    path.write_text("plain words")
    with pytest.raises(Exception, match="not a Word document"):
        parse_file(path)


def test_html_keeps_visible_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Benefits</title><style>p { color: red }</style>"
        "<script>var secret = 'do not index';</script></head>"
        "<body><h1>Benefits overview</h1><p>Health <b>cover</b>   starts on <a href='#'>day one</a>.</p>"
        "<table><tr><th>Plan</th><th>Cost</th></tr><tr><td>Basic</td><td>0</td></tr></table>"
        "<noscript>Enable JavaScript</noscript></body></html>",
        encoding="utf-8",
    )
    doc = parse_file(path)
    assert doc.pages[0].text == "Benefits overview\nHealth cover starts on day one.\nPlan | Cost\nBasic | 0"
    assert doc.metadata.title == "Benefits"


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("gb18030", b""), ("gbk", b""), ("utf-16-le", b"\xff\xfe"), ("utf-8", b"\xef\xbb\xbf")],
)
def test_text_encodings_are_detected(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(prefix + f"# 员工手册\n\n{CHINESE}\n".encode(encoding))
    doc = load_document(path, ParseLimits())  # in-process: the child runs this same function
    assert doc.pages[0].text == f"# 员工手册\n\n{CHINESE}"
    assert doc.metadata.title == "员工手册"


def test_markdown_title_is_its_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text("\n\n## Onboarding guide\n\nAsk IT for a laptop.\n", encoding="utf-8")
    doc = parse_file(path)
    assert doc.mime == "text/markdown"
    assert doc.metadata.title == "Onboarding guide"
    assert doc.text == "## Onboarding guide\n\nAsk IT for a laptop."


def test_form_feeds_split_plain_text_into_pages(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("first page\fsecond page\f\fthird\n", encoding="utf-8")
    doc = load_document(path, ParseLimits())
    assert [(p.number, p.text) for p in doc.pages] == [
        (1, "first page"),
        (2, "second page"),
        (3, ""),
        (4, "third"),
    ]


def test_binary_file_named_txt_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(Exception, match=r"image\.txt"):
        parse_file(path)
