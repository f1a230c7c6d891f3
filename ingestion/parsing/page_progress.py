"""Pages read so far, reported from inside the parse process while a loader works.

The worker installs a listener that writes each report to its parent; loaders call report_pages()
and need no parameter for it (misbehaving test loaders keep their (path, limits) signature).
Without a listener (a loader run in-process, as benchmarks do) reports go nowhere.
"""

from collections.abc import Callable

PageListener = Callable[[int, int], None]  # (pages read, pages in the file)

_listener: PageListener | None = None


def listen(listener: PageListener | None) -> None:
    global _listener
    _listener = listener


def report_pages(done: int, total: int) -> None:
    if _listener is not None:
        _listener(done, total)
