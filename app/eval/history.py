"""Eval summaries kept under <data_dir>/eval/, one JSON file per `kb eval` run, for the admin page."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def save_summary(dataset: str, summary: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    at = datetime.now(UTC)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", dataset)[:60] or "eval"
    path = folder / f"{at.strftime('%Y%m%dT%H%M%S%f')}-{slug}.json"
    record = {"dataset": dataset, "at": at.isoformat(timespec="seconds"), "summary": summary}
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return path


def load_summaries(folder: Path, limit: int = 50) -> list[dict[str, Any]]:
    """The newest runs first; unreadable files are skipped (a run killed mid-write)."""
    found: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json"), reverse=True)[:limit] if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("summary"), dict):
            found.append(record)
    return found
