"""How far one file's ingest is, in numbers people read: pages parsed, chunks embedded, a percent
and the time left. Fed by ProgressEvents; shared by the web page (ui/progress.py) and `kb ingest`.

The percent gives parsing and embedding half each (on these 10-Qs they cost about the same). The
time left comes from the rates measured so far: this file's own, else the last file's embedding
rate and chunks per page; before any embedding rate is known only the reading time left is shown,
rather than a guess.
"""

from dataclasses import dataclass, field

from ingestion.outcomes import ProgressEvent

DEFAULT_CHUNKS_PER_PAGE = 4.0  # sec-10-q: 4,156 chunks of 256 tokens from 1,037 pages


@dataclass
class Rates:
    """Carried from one file to the next: what embedding costs on this machine, for these files."""

    chunks_per_s: float = 0.0
    chunks_per_page: float = DEFAULT_CHUNKS_PER_PAGE


@dataclass
class FileProgress:
    pages_read: int = 0
    pages_total: int = 0
    chunks_embedded: int = 0
    chunks_planned: int = 0
    parse_started: float | None = None  # the first page report, and how many pages it counted
    pages_at_start: int = 0
    parse_ended: float | None = None
    embed_started: float | None = None
    last_event: float | None = None  # rates are measured at events; between them the time left counts down
    rates: Rates = field(default_factory=Rates)

    def update(self, event: ProgressEvent, now: float) -> None:
        self.last_event = now
        if event.kind == "parsing":
            if self.parse_started is None:
                self.parse_started, self.pages_at_start = now, event.pages
            self.pages_read, self.pages_total = event.pages, event.pages_planned
        elif event.kind == "parsed":
            self.parse_ended = self.parse_ended or now
            self.pages_read = self.pages_total = event.pages
            self.chunks_planned, self.embed_started = event.chunks_planned, now
            if event.pages:
                self.rates.chunks_per_page = event.chunks_planned / event.pages
        elif event.kind == "embedded":
            self.chunks_embedded += event.chunks
            if self.embed_started is not None and now > self.embed_started:
                self.rates.chunks_per_s = self.chunks_embedded / (now - self.embed_started)

    @property
    def parse_share(self) -> float:
        if self.chunks_planned:  # parsed
            return 1.0
        return self.pages_read / self.pages_total if self.pages_total else 0.0

    @property
    def share(self) -> float:
        embedded = min(self.chunks_embedded / self.chunks_planned, 1.0) if self.chunks_planned else 0.0
        return 0.5 * self.parse_share + 0.5 * embedded

    def seconds_left(self, now: float) -> float | None:
        at_event = self._left_at(self.last_event if self.last_event is not None else now)
        return None if at_event is None else max(at_event - (now - (self.last_event or now)), 0.0)

    def _left_at(self, now: float) -> float | None:
        parse_left = self._parse_left(now)
        if parse_left is None:
            return None
        chunks = self.chunks_planned or self.pages_total * self.rates.chunks_per_page
        to_embed = max(chunks - self.chunks_embedded, 0.0)
        if to_embed == 0:
            return parse_left
        if self.rates.chunks_per_s <= 0:
            return None
        return parse_left + to_embed / self.rates.chunks_per_s

    def _parse_left(self, now: float) -> float | None:
        if self.parse_share >= 1.0:
            return 0.0
        read_since = self.pages_read - self.pages_at_start
        if self.parse_started is None or read_since <= 0 or now <= self.parse_started:
            return None
        seconds_per_page = (now - self.parse_started) / read_since
        return (self.pages_total - self.pages_read) * seconds_per_page

    def summary(self, now: float) -> str:
        """"12/50 pages · 40/180 chunks · 45% · about 20 s left"."""
        parts = []
        if self.pages_total:
            parts.append(f"{self.pages_read}/{self.pages_total} pages")
        if self.chunks_planned:
            parts.append(f"{self.chunks_embedded}/{self.chunks_planned} chunks")
        if not parts:
            return ""
        if self.chunks_planned and self.chunks_embedded >= self.chunks_planned:
            return " · ".join([*parts, "100% · saving to the index"])
        parts.append(f"{self.share:.0%}")
        left = self.seconds_left(now)
        reading_left = self._reading_left(now)
        if left is not None:
            parts.append(f"about {max(1, round(left))} s left")
        elif reading_left:  # the first file: no embedding rate yet, but the reading rate is known
            parts.append(f"about {max(1, round(reading_left))} s left to read")
        return " · ".join(parts)

    def _reading_left(self, now: float) -> float | None:
        at_event = self._parse_left(self.last_event if self.last_event is not None else now)
        return None if at_event is None else max(at_event - (now - (self.last_event or now)), 0.0)
