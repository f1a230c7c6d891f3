"""Slows password guessing: after `max_failures` wrong passwords for a name within `window_s`,
sign-in for that name is refused (even with the right password) until the window has passed.

In memory, per process: enough for one server; a restart forgets, which only helps the owner."""

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class SignInThrottle:
    def __init__(self, max_failures: int = 5, window_s: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, name: str) -> deque[float]:
        failures = self._failures[name]
        cutoff = self._clock() - self.window_s
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures

    def blocked(self, name: str) -> bool:
        with self._lock:
            return len(self._recent(name.lower())) >= self.max_failures

    def failed(self, name: str) -> None:
        with self._lock:
            self._recent(name.lower()).append(self._clock())

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name.lower(), None)
