"""The quick content-stream reader gives pypdf's operations, text, errors and limits exactly:
on pages of real filings, on hand-written streams with the rare tokens it hands back to pypdf,
and on 400 damaged streams."""

import random
from collections.abc import Callable, Iterator
from typing import Any

import pypdf
import pytest
from pypdf.generic import ContentStream

from ingestion.parsing import pdf_content_stream
from ingestion.parsing.pdf_content_stream import PYPDF_PARSE
from tests.ingestion.parse_fixtures import eval_file


@pytest.fixture
def pypdf_reader_restored() -> Iterator[None]:
    """pypdf's own reader before and after the test (in-process parsing tests install ours)."""
    ContentStream._parse_content_stream = PYPDF_PARSE  # type: ignore[method-assign]
    yield
    ContentStream._parse_content_stream = PYPDF_PARSE  # type: ignore[method-assign]


def _identical(a: Any, b: Any) -> bool:
    """Equal and of the same pypdf types all the way down (NumberObject 1 is not FloatObject 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(a[key], b[key]) for key in a)
    return bool(a == b)


def _outcome(parse: Callable[..., None], data: bytes, encoding: str = "bytes") -> Any:
    """The operations a reader makes of `data`, or the error it raises (type and message)."""
    stream = ContentStream(None, None, encoding)
    stream.set_data(data)
    ContentStream._parse_content_stream = parse  # type: ignore[method-assign]
    try:
        return stream.operations
    except Exception as error:
        return (type(error).__name__, str(error))
    finally:
        ContentStream._parse_content_stream = PYPDF_PARSE  # type: ignore[method-assign]


def _assert_same(data: bytes, encoding: str = "bytes") -> Any:
    expected = _outcome(PYPDF_PARSE, data, encoding)
    got = _outcome(pdf_content_stream.parse_content_stream, data, encoding)
    assert _identical(got, expected), data
    return expected


@pytest.mark.parametrize(
    "data",
    [
        b"BT /F1 12 Tf 72 712 Td (Hello) Tj ET",
        b"BT [(Net)-250(sales)3.5<0041 00 42>] TJ 0 -1.2 TD <414>Tj (a (nested) b)' 1 2 (x)\" ET",
        b"/Span <</ActualText (\\(5\\))>> BDC (esc\\051aped \\\n line \\101) Tj EMC",  # dict, escapes
        b"q 1 0 0 1 0 0 cm BI /W 2 /H 1 /BPC 8 /CS /G ID \x00\xff EI Q (after) Tj",  # inline image
        b"% a comment\r(x) Tj %another\n/Na#6De 1 Tf /\xc3\xa9 2 Tf",  # comments, # and UTF-8 names
        b"123456789012345678901234567890 Tw 1,5 Tc -.5 .- 3..4 + Tz",  # long and odd numbers
        b"[1 (a) /Name [2] true null %c\n] TJ [(unterminated",  # elements left to pypdf
        b"1 0 R Do",  # an indirect reference, which pypdf cannot take here
        b"(unterminated string Tj",
        b"<4G> Tj",
        b"\x0b Tj",
        b"(" + b"x" * 5000 + b") Tj " + b"A" * 200 + b" /" + b"n" * 5000 + b" Tf",  # length limits
        b"",
        b"   \n ",
    ],
)
def test_hand_written_streams_read_as_pypdf_reads_them(data: bytes) -> None:
    _assert_same(data)
    _assert_same(data, "utf-16-be")  # strings decoded, not kept as bytes


def test_limits_raise_the_same_errors() -> None:
    operations = b"".join(b"%d 0 Td " % number for number in range(400))
    long_array = b"[" + b"(a)1 " * 300 + b"] TJ"
    with pypdf.apply_configuration(stream_parsing_work_maximum_count=500):
        _assert_same(operations)
        _assert_same(long_array)
        _assert_same(b"(a)1 " * 300 + b"<<" + b"/A 1 " * 300 + b">> BDC")
    with pypdf.apply_configuration(array_maximum_element_count=100):
        _assert_same(long_array)


def test_damaged_streams_fail_or_read_as_pypdf_does() -> None:
    page = pypdf.PdfReader(eval_file("sec-10-q/docs/2023 Q2 AAPL.pdf")).pages[3]
    contents = page.get_contents()
    assert contents is not None
    original = contents.get_data()[:6000]
    noise = [b"(", b")", b"\\", b"<", b">", b"<<", b"[", b"]", b"%", b"#", b"/", b"R", b"BI", b"\x0b", b"0 ", b"."]
    chance = random.Random(20261203)
    failures = 0
    for _ in range(400):
        data = bytearray(original)
        for _ in range(chance.randint(1, 6)):
            at = chance.randrange(len(data))
            if chance.random() < 0.3:
                del data[at : at + chance.randint(1, 40)]
            else:
                data[at:at] = chance.choice(noise)
        failures += isinstance(_assert_same(bytes(data[: chance.randrange(len(data) + 1)])), tuple)
    assert 20 < failures < 380  # both pypdf's errors and its readings were compared


@pytest.mark.parametrize(
    ("pdf", "every"),
    [
        ("sec-10-q/docs/2022 Q3 MSFT.pdf", 4),  # hex strings, tagged content
        ("sec-10-q/docs/2023 Q2 AAPL.pdf", 1),
        ("financebench/pdfs/ADOBE_2022_10K.pdf", 7),
        ("zh-pdf/debian-reference.zh-cn.pdf", 13),  # CID fonts, Chinese
    ],
)
def test_real_filings_give_the_same_operations_and_text(pdf: str, every: int, pypdf_reader_restored: None) -> None:
    reader = pypdf.PdfReader(eval_file(pdf))
    numbers = list(range(0, len(reader.pages), every))
    for number in numbers:
        contents = reader.pages[number].get_contents()
        if contents is not None:
            _assert_same(contents.get_data())
    texts = {}
    for parse in (PYPDF_PARSE, pdf_content_stream.parse_content_stream):
        ContentStream._parse_content_stream = parse  # type: ignore[method-assign]
        fresh = pypdf.PdfReader(eval_file(pdf))  # pypdf keeps parsed streams: read them again
        texts[parse] = [fresh.pages[number].extract_text() for number in numbers]
    assert texts[PYPDF_PARSE] == texts[pdf_content_stream.parse_content_stream]
    assert any(texts[PYPDF_PARSE])


def test_install_only_on_the_checked_pypdf(monkeypatch: pytest.MonkeyPatch, pypdf_reader_restored: None) -> None:
    monkeypatch.setattr(pypdf, "__version__", "9.9.9")
    assert pdf_content_stream.install() is False
    assert ContentStream._parse_content_stream is PYPDF_PARSE
    monkeypatch.undo()
    assert pdf_content_stream.install() is True
    assert ContentStream._parse_content_stream is pdf_content_stream.parse_content_stream
