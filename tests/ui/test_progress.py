"""Upload progress per file from the ingest's events: pages read while parsing, chunks embedded,
the percentage and the time left, counting down between events."""

from app.records import FileProgress, FileResult, Outcome, ProgressEvent, Rates
from ui.progress import UploadProgress


def test_a_file_shows_pages_then_chunks_with_percentage_and_time_left() -> None:
    now = [100.0]
    progress = UploadProgress(["a.pdf", "b.txt"], clock=lambda: now[0])
    progress(ProgressEvent("planned", files=2))
    assert [row[1] for row in progress.table()] == ["parsing", "queued"]
    progress(ProgressEvent("parsing", "a.pdf", pages=1, pages_planned=4))
    now[0] += 3
    progress(ProgressEvent("parsing", "a.pdf", pages=2, pages_planned=4))
    # parsing half done: 25% overall; no embedding rate known yet, so only the reading time left
    assert progress.table()[0][1:] == ["parsing", 2, 0, "2/4 pages · 25% · about 6 s left to read"]
    progress(ProgressEvent("parsed", "a.pdf", pages=4, chunks_planned=40))
    assert progress.table()[0][1:] == ["embedding", 4, 0, "4/4 pages · 0/40 chunks · 50%"]
    now[0] += 10
    progress(ProgressEvent("embedded", "a.pdf", chunks=10))
    assert progress.table()[0][1:] == ["embedding", 4, 10, "4/4 pages · 10/40 chunks · 62% · about 30 s left"]
    now[0] += 5  # no event: the time left still counts down
    assert progress.table()[0][4].endswith("about 25 s left")
    progress(ProgressEvent("embedded", "a.pdf", chunks=30))
    assert progress.table()[0][4] == "4/4 pages · 40/40 chunks · 100% · saving to the index"
    result = FileResult("a.pdf", "a.pdf", Outcome.OK, 1, 4, 40, "")
    progress(ProgressEvent("finished", "a.pdf", result=result))
    assert progress.table()[0][1:] == ["ready", 4, 40, ""]
    assert progress.table()[1][1] == "parsing"  # the next file


def test_a_file_handed_to_the_workers_is_done_here_and_says_so() -> None:
    progress = UploadProgress(["a.pdf"])
    progress(ProgressEvent("planned", files=1))
    queued = FileResult("a.pdf", "a.pdf", Outcome.QUEUED, 7, message="queued for a worker")
    progress(ProgressEvent("finished", "a.pdf", result=queued))
    assert progress.table()[0][1] == "queued for a worker"
    assert progress.done


def test_the_next_file_borrows_the_last_files_rates_for_its_time_left() -> None:
    rates = Rates(chunks_per_s=4.0, chunks_per_page=2.0)
    file = FileProgress(rates=rates)
    file.update(ProgressEvent("parsing", "b.pdf", pages=5, pages_planned=10), now=0.0)
    assert file.seconds_left(1.0) is None  # one report: no parse rate yet
    file.update(ProgressEvent("parsing", "b.pdf", pages=6, pages_planned=10), now=2.0)
    # 2 s a page for 4 more pages, then about 20 chunks at 4 a second
    assert file.seconds_left(2.0) == 8.0 + 5.0
    assert file.summary(5.0) == "6/10 pages · 30% · about 10 s left"
    assert FileProgress().summary(0.0) == ""  # nothing known yet
