"""Builders of good and bad input files for the parsing tests, written into a test's tmp_path,
and misbehaving loaders the sandbox runs in its child process (by "module:function" name)."""

import os
import signal
import time
import zlib
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from ingestion.parsing.limits import ParseLimits
from ingestion.types import ParsedDocument

THIS_MODULE = __name__


def pdf_bytes(pages: list[list[str]], *, shared_content: bytes | None = None) -> bytes:
    """A valid PDF written by hand: one Helvetica text line per string, pages in order.
    With `shared_content`, every page draws that one content stream (a tiny file of many pages)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in last, once the page tree exists
    pages_root = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    shared = add(_stream(shared_content)) if shared_content is not None else None
    kids = []
    for lines in pages:
        content = shared if shared is not None else add(_stream(_text_operators(lines)))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (pages_root, font, content)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_root
    kid_refs = b" ".join(b"%d 0 R" % kid for kid in kids)
    objects[pages_root - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kid_refs, len(kids))
    return _assemble(objects, catalog)


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    path.write_bytes(pdf_bytes(pages))
    return path


def write_many_page_pdf(path: Path, page_count: int) -> Path:
    """`page_count` pages sharing one small content stream ("Same text on every page")."""
    content = _text_operators(["Same text on every page"])
    path.write_bytes(pdf_bytes([[]] * page_count, shared_content=content))
    return path


def write_truncated_pdf(path: Path, pages: list[list[str]], keep_fraction: float = 0.4) -> Path:
    data = pdf_bytes(pages)
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def write_password_pdf(path: Path, pages: list[list[str]], password: str = "s3cret") -> Path:
    """Encrypted with a real user password (AES-256), which an empty password cannot open."""
    writer = PdfWriter(clone_from=PdfReader(BytesIO(pdf_bytes(pages))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-256")
    with path.open("wb") as stream:
        writer.write(stream)
    return path


def write_empty_password_pdf(path: Path, pages: list[list[str]]) -> Path:
    """Encrypted, but with an empty user password, as 31 of the 61 evaluation PDFs are."""
    writer = PdfWriter(clone_from=PdfReader(BytesIO(pdf_bytes(pages))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    with path.open("wb") as stream:
        writer.write(stream)
    return path


def write_decompression_bomb_pdf(path: Path, inflated_mb: int = 256) -> Path:
    """One page whose FlateDecode content stream is 1/1000 of `inflated_mb` on disk: a text page
    (it has a font), so extracting its text inflates the stream."""
    compressor = zlib.compressobj(9)
    block = b" " * 2**20
    compressed = b"".join(compressor.compress(block) for _ in range(inflated_mb)) + compressor.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(compressed), compressed),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    path.write_bytes(_assemble(objects, 1))
    return path


def write_not_a_pdf(path: Path) -> Path:
    path.write_text("<html><body>This is a web page saved with a .pdf name.</body></html>\n")
    return path


# Loaders for the sandbox's child process (run_loader_in_child(..., f"{THIS_MODULE}:<name>")).


def hang_forever(path: Path, limits: ParseLimits) -> ParsedDocument:
    """Stands in for a parser stuck in a loop on a hostile file."""
    while True:
        time.sleep(60)


def allocate_without_end(path: Path, limits: ParseLimits) -> ParsedDocument:
    """Stands in for a parser ballooning on a hostile file."""
    hoard = []
    while True:
        hoard.append(bytearray(64 * 2**20))


def die_by_signal(path: Path, limits: ParseLimits) -> ParsedDocument:
    """Stands in for a crash in native code (or the kernel's OOM killer)."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def _text_operators(lines: list[str]) -> bytes:
    body = b"".join(b"(%s) Tj T* " % _pdf_string(line) for line in lines)
    return b"BT /F1 12 Tf 14 TL 72 720 Td " + body + b"ET"


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)


def _assemble(objects: list[bytes], root: int) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def load_without_pypdf_limits(path: Path, limits: ParseLimits) -> ParsedDocument:
    """The real loader with pypdf's own decompression limits lifted, so only the process's
    memory limit stands between a bomb and the machine."""
    import pypdf

    from ingestion.parsing.loaders import load_document

    huge = 2**40
    with pypdf.apply_configuration(
        zlib_maximum_output_length=huge,
        stream_decoding_work_maximum_length=huge,
        maximum_declared_stream_length=huge,
    ):
        return load_document(path, limits)


# The evaluation data shared by the team (../shared/eval from the repository root).
EVAL_DIR = Path(os.environ.get("KB_EVAL_DIR", Path(__file__).resolve().parents[3] / "shared" / "eval"))


def eval_file(relative: str) -> Path:
    """A file of the shared evaluation set; the test is skipped where the set is not present."""
    import pytest

    path = EVAL_DIR / relative
    if not path.is_file():
        pytest.skip(f"evaluation file {relative} not present under {EVAL_DIR}")
    return path
