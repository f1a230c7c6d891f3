"""A 50-page 10-Q uploaded through the page with the real default embedder (e5-small on PyTorch),
in headless Chromium: the progress table moves while the file is under way (pages read, then chunks
embedded, with a percent), and the time from the click to "ready" is reported (no assertion on it:
the 2 cores are shared). The figure goes to stdout and tests/e2e/screenshots/upload_timing.json."""

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVAL
from tests.e2e.test_browser import CHROMIUM, SHOTS, browser, sign_in, wait_text  # noqa: F401 (fixture)
from tests.ui.server import Running, serve

TEN_Q = EVAL / "sec-10-q" / "docs" / "2022 Q3 AMZN.pdf"  # 50 pages
PROGRESS = "#kb-progress"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is missing: apt-get install chromium"),
]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    if not TEN_Q.is_file():
        pytest.skip(f"{TEN_Q} is missing")
    from ingestion.embedders import load_embedder

    embedder = load_embedder("auto")
    embedder.embed_documents(["warm-up"])  # the model loads at server start, not during the upload
    with serve(tmp_path_factory.mktemp("upload"), embedder=lambda: embedder, max_upload_bytes=5_000_000) as running:
        yield running


def file_row(page: Any) -> str:
    """The progress table's text on one line (the only file in it is the 10-Q; the page lays cells
    out on lines of their own)."""
    text = " ".join(str(page.locator(PROGRESS).inner_text()).split())
    return text if TEN_Q.name in text else ""


def test_a_10q_upload_shows_moving_progress_and_reports_its_time(browser: Any, web: Running) -> None:  # noqa: F811
    page = sign_in(browser, web, "admin")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#kb-upload input[type=file]").set_input_files([str(TEN_Q)])
    started = time.monotonic()
    page.get_by_role("button", name="Upload and index").click()
    seen: list[tuple[float, str]] = []
    # A bound on the wait, not a target: the suite runs test files side by side on shared cores.
    while time.monotonic() - started < 600:
        row = file_row(page)
        if row and (not seen or seen[-1][1] != row):
            seen.append((round(time.monotonic() - started, 1), row))
        if re.search(r"\bready\b|\bfailed\b", row):
            break
        if len(seen) == 3:
            page.screenshot(path=SHOTS / "upload_10q_under_way.png")
        time.sleep(0.2)
    ready_s = time.monotonic() - started
    page.screenshot(path=SHOTS / "upload_10q_ready.png")
    assert "ready" in seen[-1][1], seen[-3:]
    pages_read = [int(m.group(1)) for _, row in seen if (m := re.search(r"(\d+)/50 pages", row))]
    chunks_done = [int(m.group(1)) for _, row in seen if (m := re.search(r"(\d+)/\d+ chunks", row))]
    percents = [int(m.group(1)) for _, row in seen if (m := re.search(r"(\d+)%", row))]
    # visibly moving: several page counts while parsing, several chunk counts while embedding
    assert len(set(pages_read)) >= 3 and pages_read == sorted(pages_read), seen
    assert len(set(chunks_done)) >= 2 and chunks_done == sorted(chunks_done), seen
    assert len(set(percents)) >= 4 and percents == sorted(percents), seen
    assert any("s left" in row for _, row in seen), seen
    report = {
        "file": TEN_Q.name,
        "pages": 50,
        "ready_s": round(ready_s, 1),
        "progress_updates": len(seen),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
    }
    Path(SHOTS / "upload_timing.json").write_text(json.dumps({**report, "seen": seen}, indent=1), encoding="utf-8")
    print("\nupload timing:", json.dumps(report))
    wait_text(page, PROGRESS, r"ready", 5)
