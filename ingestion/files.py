"""Originals kept under <data_dir>/files/<sha256>, so pages can be served and jobs resumed."""

import errno
import hashlib
import shutil
from pathlib import Path

from ingestion.atomic import atomic_writer, remove_stale_temps
from ingestion.errors import DISK_FULL, DiskFullError

_BLOCK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, source: Path, sha256: str) -> Path:
        """Copy `source` in (atomically); a copy already there is kept."""
        target = self.path(sha256)
        if not target.is_file():
            try:
                with open(source, "rb") as src, atomic_writer(target) as dst:
                    shutil.copyfileobj(src, dst, _BLOCK)
            except OSError as error:
                if error.errno == errno.ENOSPC:  # (atomic_writer removed its partial temp file)
                    raise DiskFullError(DISK_FULL) from error
                raise
        return target

    def put_bytes(self, content: bytes, sha256: str) -> Path:
        """Keep `content` (fetched from the database) as the copy of `sha256`, atomically."""
        target = self.path(sha256)
        if not target.is_file():
            try:
                with atomic_writer(target) as dst:
                    dst.write(content)
            except OSError as error:
                if error.errno == errno.ENOSPC:
                    raise DiskFullError(DISK_FULL) from error
                raise
        return target

    def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def hashes(self) -> set[str]:
        if not self.root.is_dir():
            return set()
        return {p.name for p in self.root.iterdir() if p.is_file() and not p.name.startswith(".")}

    def clean_temps(self) -> int:
        return remove_stale_temps(self.root)
