"""How much CPU other processes used while a measurement ran (these 2-core machines are shared)."""

import os
import time
from dataclasses import dataclass


def _total_busy_seconds() -> float:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class CpuWindow:
    wall_s: float = 0.0
    others_cores: float = 0.0  # average number of cores other processes kept busy


class OthersCpu:
    """Context manager: measures wall time and the CPU other processes burnt meanwhile."""

    def __enter__(self) -> CpuWindow:
        self.window = CpuWindow()
        self._start = (time.perf_counter(), _total_busy_seconds(), _own_cpu_seconds())
        return self.window

    def __exit__(self, *exc: object) -> None:
        wall0, busy0, own0 = self._start
        wall = time.perf_counter() - wall0
        others = (_total_busy_seconds() - busy0) - (_own_cpu_seconds() - own0)
        self.window.wall_s = wall
        self.window.others_cores = max(0.0, others) / wall if wall > 0 else 0.0
