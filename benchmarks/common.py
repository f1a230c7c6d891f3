"""What the HTTP load benchmarks (load.py, serve.py) share: a server's resident memory, percentiles,
and memory sampled over a soak."""

import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float | None:
    """In milliseconds, of values in seconds."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def soak(pid: int, seconds: float, clients: int, client: Callable[[int, threading.Event], None]) -> dict[str, float]:
    """Run `clients` threads of client(n, stop) for `seconds` while the server's memory is sampled;
    compares the median of the first third of the samples with that of the last third."""
    stop = threading.Event()
    threads = [threading.Thread(target=client, args=(n, stop)) for n in range(clients)]
    for t in threads:
        t.start()
    samples: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(rss_mb(pid))
        time.sleep(min(10.0, max(0.1, end - time.monotonic())))
    stop.set()
    for t in threads:
        t.join()
    third = max(1, len(samples) // 3)
    early, late = statistics.median(samples[:third]), statistics.median(samples[-third:])
    return {"seconds": seconds, "rss_mb_early": round(early, 1), "rss_mb_late": round(late, 1),
            "rss_growth_pct": round(100 * (late - early) / early, 1)}  # fmt: skip
