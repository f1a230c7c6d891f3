"""Upload progress per file from the ingest's events: the embedding percentage and time left."""

from app.records import FileResult, Outcome, ProgressEvent
from ui.progress import UploadProgress, embedding_detail


def test_embedding_shows_percentage_and_time_left() -> None:
    now = [100.0]
    progress = UploadProgress(["a.pdf", "b.txt"], clock=lambda: now[0])
    progress(ProgressEvent("planned", files=2))
    assert [row[1] for row in progress.table()] == ["parsing", "queued"]
    progress(ProgressEvent("parsed", "a.pdf", pages=4, chunks_planned=40))
    assert progress.table()[0][1:] == ["embedding", 4, 0, "0%"]
    now[0] += 10
    progress(ProgressEvent("embedded", "a.pdf", chunks=10))
    assert progress.table()[0][1:] == ["embedding", 4, 10, "25% · about 30 s left"]
    result = FileResult("a.pdf", "a.pdf", Outcome.OK, 1, 4, 40, "")
    progress(ProgressEvent("finished", "a.pdf", result=result))
    assert progress.table()[0][1:] == ["ready", 4, 40, ""]
    assert progress.table()[1][1] == "parsing"  # the next file


def test_embedding_detail_edges() -> None:
    assert embedding_detail(0, 0, 5.0) == ""  # nothing planned (yet)
    assert embedding_detail(5, 5, 2.0) == "100% · saving to the index"
    assert embedding_detail(3, 4, 0.0) == "75%"


def test_a_file_handed_to_the_workers_is_done_here_and_says_so() -> None:
    progress = UploadProgress(["a.pdf"])
    progress(ProgressEvent("planned", files=1))
    queued = FileResult("a.pdf", "a.pdf", Outcome.QUEUED, 7, message="queued for a worker")
    progress(ProgressEvent("finished", "a.pdf", result=queued))
    assert progress.table()[0][1] == "queued for a worker"
    assert progress.done
