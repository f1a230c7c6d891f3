"""`kb ask`: the --json shape and plain streaming output (fake model), and ONE end-to-end run with
the real bundled model answering from a real PDF and citing the right page."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import build_app
from tests.app.fake_llm import FakeEngine
from tests.conftest import FOOTLOCKER_PDF

Run = Callable[..., str]


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.chdir(tmp_path)  # no developer .env
    env = {
        "KB_DATA_DIR": str(tmp_path / "data"),
        "KB_EMBEDDER": "hashing-256",
        "KB_DATABASE_URL": "",
        # Smaller budgets than the defaults keep the real-model run short on a 2-core CPU.
        "KB_CHAIN_ANSWER_TOKENS": "96",
        "KB_CHAIN_MAX_PROMPT_TOKENS": "1536",
    }
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(build_app(), list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.stdout

    return run


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.wiring

    real = app.wiring.open_service

    @contextmanager
    def with_fake(settings: object = None, engine: object = None) -> Iterator[object]:
        with real(settings, FakeEngine()) as service:  # type: ignore[arg-type]
            yield service

    monkeypatch.setattr(app.wiring, "open_service", with_fake)


def test_json_shape_exactly(kb: Run, tmp_path: Path, fake_model: None) -> None:
    note = tmp_path / "handbook.txt"
    note.write_text("The cafeteria serves lunch at noon every weekday. Parking is free for employees.")
    kb("ingest", str(note), "--no-progress")
    out = json.loads(kb("ask", "When does the cafeteria serve lunch?", "--json"))
    assert list(out) == ["answer", "found", "citations", "timings_ms", "outcome", "method", "checked"]
    assert (out["outcome"], out["method"]) == ("answered", "generated") and out["checked"][0]["verified"]
    assert out["found"] is True and out["answer"].startswith("The cafeteria serves lunch at noon")
    assert out["citations"] == [
        {
            "n": 1,
            "document": "handbook.txt",
            "page": 1,
            "snippet": "The cafeteria serves lunch at noon every weekday. Parking is free for employees.",
            "score": 1.0,
        }
    ]
    assert all(isinstance(v, float) for v in out["timings_ms"].values())
    missing = json.loads(kb("ask", "What is the capital of Mongolia?", "--json"))
    assert (missing["found"], missing["citations"]) == (False, [])
    plain = kb("ask", "When does the cafeteria serve lunch?")
    assert plain.startswith("The cafeteria serves lunch at noon") and "[1] handbook.txt, page 1" in plain


@pytest.mark.slow
def test_real_model_answers_from_a_real_pdf_and_cites_the_page(kb: Run) -> None:
    if not FOOTLOCKER_PDF.is_file():
        pytest.skip(f"{FOOTLOCKER_PDF} is not available")
    kb("ingest", str(FOOTLOCKER_PDF), "--no-progress")
    out = json.loads(kb("ask", "How many shares of common stock were represented at the Annual Meeting?", "--json"))
    assert out["found"] is True
    pages = {(c["document"], c["page"]) for c in out["citations"]}
    assert (FOOTLOCKER_PDF.name, 2) in pages  # the vote count is on page 2 only
    assert any("77,551,206" in c["snippet"] for c in out["citations"]), json.dumps(out, indent=1)
