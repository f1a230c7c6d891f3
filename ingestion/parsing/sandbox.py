"""Run a loader in a separate process with a wall-time and memory limit; turn every failure into
a ParseError sentence. A hostile or broken file can hang, balloon or crash only that process."""

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

from ingestion.errors import ParseError, UnsupportedFileError
from ingestion.parsing.formats import SUPPORTED_SUFFIXES, is_supported
from ingestion.parsing.limits import ParseLimits
from ingestion.parsing.wire import document_from_json
from ingestion.types import ParsedDocument

log = logging.getLogger(__name__)

DEFAULT_LIMITS = ParseLimits()
DEFAULT_LOADER = "ingestion.parsing.loaders:load_document"
_STDERR_TAIL_BYTES = 4000


def parse_file(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    """Parse one file in a child process. Raises ParseError (with a sentence naming the file)."""
    path = Path(path)
    if not is_supported(path):
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFileError(f"{path.name} has an unsupported file type; supported: {supported}.")
    return run_loader_in_child(path, limits, DEFAULT_LOADER)


def run_loader_in_child(path: Path, limits: ParseLimits, loader: str) -> ParsedDocument:
    """`loader` is "module:function" taking (Path, ParseLimits); tests pass misbehaving ones."""
    check_file_before_parsing(path, limits)
    request = {"path": str(path.resolve()), "limits": _limits_to_json(limits), "loader": loader}
    with tempfile.TemporaryFile() as stderr_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingestion.parsing.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            env=_child_environment(),
        )
        try:
            reply_bytes, _ = process.communicate(json.dumps(request).encode(), timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise ParseError(
                f"{path.name} took longer than {limits.timeout_s:g} s to parse and was stopped."
            ) from None
        finally:
            if process.poll() is None:  # interrupted (e.g. Ctrl-C): never leave the child behind
                process.kill()
                process.wait()
        stderr_tail = _tail(stderr_file)
    return _document_from_reply(path, limits, process.returncode, reply_bytes, stderr_tail)


def check_file_before_parsing(path: Path, limits: ParseLimits) -> None:
    """Cheap refusals that need no child process."""
    if not path.exists():
        raise ParseError(f"{path.name} does not exist ({path}).")
    if not path.is_file():
        raise ParseError(f"{path.name} is not a regular file.")
    size = path.stat().st_size
    if size == 0:
        raise ParseError(f"{path.name} is empty (0 bytes).")
    if size > limits.max_bytes:
        raise ParseError(
            f"{path.name} is {size / 2**20:,.1f} MB, over the limit of {limits.max_bytes / 2**20:,.0f} MB."
        )


def _document_from_reply(
    path: Path, limits: ParseLimits, returncode: int, reply_bytes: bytes, stderr_tail: str
) -> ParsedDocument:
    try:
        reply = json.loads(reply_bytes) if reply_bytes else None
    except ValueError:
        reply = None
    if returncode == 0 and isinstance(reply, dict):
        if "error" in reply:
            raise ParseError(str(reply["error"]))
        return document_from_json(reply["document"])
    log.warning("parse process for %s ended with code %s; stderr: %s", path.name, returncode, stderr_tail)
    if returncode < 0:
        cause = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else -returncode
        raise ParseError(
            f"The parser crashed on {path.name} ({cause}); the file may be hostile "
            f"or need more than {limits.memory_mb:,} MB of memory."
        )
    if "MemoryError" in stderr_tail or "memory allocation" in stderr_tail:
        raise ParseError(f"{path.name} needs more than {limits.memory_mb:,} MB of memory to parse.")
    raise ParseError(f"The parser failed on {path.name} (exit code {returncode}).")


def _limits_to_json(limits: ParseLimits) -> dict[str, float | int]:
    return {
        "timeout_s": limits.timeout_s,
        "memory_mb": limits.memory_mb,
        "max_pages": limits.max_pages,
        "max_bytes": limits.max_bytes,
    }


def _child_environment() -> dict[str, str]:
    """The child imports what the caller can import (same sys.path), whatever its working directory."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(entry for entry in sys.path if entry)
    environment["PYTHONIOENCODING"] = "utf-8"
    return environment


def _tail(stream: BinaryIO) -> str:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - _STDERR_TAIL_BYTES))
    return stream.read().decode("utf-8", errors="replace")
