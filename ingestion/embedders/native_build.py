"""Building the embedders' C kernels (csrc/) with the machine's own compiler, once per source,
compiler, flags and CPU, and loading them through ctypes.

The compiler is `CC`, else cc/gcc/clang on PATH; -march=native code runs only where it was built, so
the CPU's flags are part of the cache key. Libraries are cached under $XDG_CACHE_HOME/kb/native
(KB_NATIVE_CACHE overrides), beside the decode step's. Ingestion knows nothing of the model (DESIGN.md),
so the decode step (model/native.py) keeps its own builder, the same steps for its one library.
"""

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-std=gnu11", "-fno-math-errno")


class NativeBuildError(RuntimeError):
    """No compiler, or the source did not compile: the caller keeps its PyTorch path."""


def _cache_dir() -> Path:
    configured = os.environ.get("KB_NATIVE_CACHE")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kb" / "native"
    return Path(configured) if configured else base


def _cpu_flags_line() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()  # x86 "flags", Arm "Features"
    except OSError:
        return ""
    return next((ln for ln in lines if ln.startswith(("flags", "Features"))), "")


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux lists them ("avx2", "avx512_bf16", ...); empty elsewhere."""
    return frozenset(_cpu_flags_line().partition(":")[2].split())


def _cache_key(source: bytes, cc: str) -> str:
    cpu = _cpu_flags_line() or os.uname().machine
    return hashlib.sha256(b"\0".join([source, cc.encode(), " ".join(FLAGS).encode(), cpu.encode()])).hexdigest()


def build_library(source: Path) -> ctypes.CDLL:
    """The library built from one self-contained C file, loaded."""
    cc = next((c for c in (os.environ.get("CC"), "cc", "gcc", "clang") if c and shutil.which(c)), None)
    if cc is None:
        raise NativeBuildError("No C compiler (cc, gcc or clang) on PATH.")
    target = _cache_dir() / f"{source.stem}-{_cache_key(source.read_bytes(), cc)[:16]}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Built beside the target, then renamed: another process may be building the same file.
        fd, partial = tempfile.mkstemp(dir=target.parent, suffix=".so")
        os.close(fd)
        try:
            command = [cc, *FLAGS, "-o", partial, str(source), "-lm"]
            built = subprocess.run(command, capture_output=True, text=True, timeout=300)
            if built.returncode != 0:
                raise NativeBuildError(f"Building {source.name} failed: {built.stderr.strip()}")
            os.replace(partial, target)
        finally:
            Path(partial).unlink(missing_ok=True)
    return ctypes.CDLL(str(target))
