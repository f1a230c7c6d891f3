"""Bytes -> str for plain text, Markdown and HTML files whose encoding is not declared."""

import codecs

from charset_normalizer import from_bytes

from ingestion.errors import ParseError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes, file_name: str) -> str:
    """A BOM wins, then strict UTF-8 (most files), then charset-normalizer's best guess (GBK, ...)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise ParseError(f"{file_name} is not text in any encoding we recognise (it may be a binary file).")
    encoding = best.encoding
    if encoding in ("gb2312", "gbk"):
        encoding = "gb18030"  # a superset: characters outside GB2312 still decode
    return data.decode(encoding, errors="replace")
