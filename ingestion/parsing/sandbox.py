"""Run a loader in a separate process with a wall-time and memory limit; turn every failure into
a ParseError sentence. A hostile or broken file can hang, balloon or crash only that process."""

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

from ingestion.errors import ParseError, UnsupportedFileError
from ingestion.parsing.formats import SUPPORTED_SUFFIXES, is_supported
from ingestion.parsing.limits import ParseLimits
from ingestion.parsing.wire import document_from_json
from ingestion.types import ParsedDocument

log = logging.getLogger(__name__)

DEFAULT_LIMITS = ParseLimits()
DEFAULT_LOADER = "ingestion.parsing.loaders:load_document"
_STDERR_TAIL_BYTES = 4000

PagesRead = Callable[[int, int], None]  # (pages read so far, pages in the file), from the child


def _ignore_pages(_done: int, _total: int) -> None:
    return None


def parse_file(
    path: Path, limits: ParseLimits = DEFAULT_LIMITS, on_pages: PagesRead = _ignore_pages
) -> ParsedDocument:
    """Parse one file in a child process, telling `on_pages` (on another thread) how far it is.
    Raises ParseError (with a sentence naming the file)."""
    path = Path(path)
    if not is_supported(path):
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFileError(f"{path.name} has an unsupported file type; supported: {supported}.")
    return run_loader_in_child(path, limits, DEFAULT_LOADER, on_pages)


def run_loader_in_child(
    path: Path, limits: ParseLimits, loader: str, on_pages: PagesRead = _ignore_pages
) -> ParsedDocument:
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
        reader = _ReplyReader(process.stdout, on_pages)
        try:
            _send(process, json.dumps(request).encode())
            process.wait(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ParseError(
                f"{path.name} took longer than {limits.timeout_s:g} s to parse and was stopped."
            ) from None
        finally:
            if process.poll() is None:  # interrupted (e.g. Ctrl-C): never leave the child behind
                process.kill()
                process.wait()
            reader.join()
        reply_bytes = reader.reply
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


def _send(process: "subprocess.Popen[bytes]", request: bytes) -> None:
    """The request is small (a path and limits): it fits the pipe, so writing cannot block."""
    if process.stdin is None:
        return
    try:
        process.stdin.write(request)
        process.stdin.close()
    except BrokenPipeError:  # the child died at start; its exit code says why
        pass


class _ReplyReader:
    """Reads the child's stdout on its own thread: progress lines go to `on_pages` as they come,
    the last line is kept as the reply. (communicate() would only return at the end.)"""

    def __init__(self, stream: IO[bytes] | None, on_pages: PagesRead) -> None:
        self.reply = b""
        self._stream, self._on_pages = stream, on_pages
        self._thread = threading.Thread(target=self._read, name="parse-reply", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        if self._stream is None:
            return
        for line in self._stream:
            if line.startswith(b'{"pages": ['):
                self._report(line)
            elif line.strip():
                self.reply = line

    def _report(self, line: bytes) -> None:
        try:
            done, total = json.loads(line)["pages"]
            self._on_pages(int(done), int(total))
        except Exception:  # a progress line is a nicety; never let it cost the parse
            log.debug("ignored progress line %r", line[:80], exc_info=True)

    def join(self) -> None:
        """After the child ended: its stdout is at EOF unless something it started still holds it."""
        self._thread.join(timeout=5.0)


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
