"""Resource limits for parsing one file in its own process."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ParseLimits:
    """How much one file may cost before it is refused. Hostile files can loop or eat memory."""

    timeout_s: float = 120.0  # wall time of the parse process; killed after it
    memory_mb: int = 2048  # address-space limit of the parse process (RLIMIT_AS)
    max_pages: int = 10_000  # refused before any text is extracted
    max_bytes: int = 200 * 2**20  # refused before the parse process starts
