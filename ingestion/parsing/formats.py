"""Which files can be parsed, decided by suffix (case-insensitive)."""

from pathlib import Path

MIME_BY_SUFFIX: dict[str, str] = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(MIME_BY_SUFFIX)


def suffix_of(path: Path | str) -> str:
    return Path(path).suffix.lower()


def is_supported(path: Path | str) -> bool:
    """True when a loader exists for the file's suffix (the content is checked only when parsing)."""
    return suffix_of(path) in SUPPORTED_SUFFIXES


def mime_of(path: Path | str) -> str:
    return MIME_BY_SUFFIX[suffix_of(path)]
