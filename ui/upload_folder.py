"""Gradio's upload folder, private to this server process: a fresh `kb-uploads-PID-*` folder
(mode 0700) under the system temp folder, set as GRADIO_TEMP_DIR before any Gradio block is
built, removed at exit. Folders left by a killed server (its PID no longer running) are removed
at the next start, so uploads never outlive the process that received them."""

import atexit
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "kb-uploads-"
_folder: list[Path] = []  # one per process: every web app built in it shares the folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(root: Path) -> None:
    for folder in root.glob(f"{PREFIX}*"):
        pid = folder.name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def private_upload_folder() -> Path:
    """This process's upload folder (created, and made Gradio's, on the first call)."""
    if not _folder:
        root = Path(tempfile.gettempdir())
        with contextlib.suppress(OSError):
            _remove_stale(root)
        folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root))  # mkdtemp: mode 0700
        os.environ["GRADIO_TEMP_DIR"] = str(folder)
        atexit.register(shutil.rmtree, folder, True)
        _folder.append(folder)
    return _folder[0]
