"""One writer at a time: an exclusive flock on <data_dir>/writer.lock.

The kernel drops the lock when its process dies (even by kill -9), so whoever holds it knows that
any job still marked running was interrupted and may be rolled back."""

import fcntl
import logging
import os
import time
from pathlib import Path
from types import TracebackType

from ingestion.errors import StoreBusyError

log = logging.getLogger(__name__)


class WriterLock:
    def __init__(self, path: Path, *, wait_s: float = 0.0) -> None:
        self.path = path
        self.wait_s = wait_s
        self._fd: int | None = None

    def acquire(self) -> "WriterLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_s
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and self.wait_s > 0:
                    log.warning("another kb process is changing the knowledge base; waiting up to %.0f s", self.wait_s)
                    told = True
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StoreBusyError(
                        "Another kb process (an ingest, delete or reindex) is changing the knowledge "
                        "base in this data folder; wait for it to finish and try again."
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "WriterLock":
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
