"""The admin command line: kb ingest / docs / users / groups / reindex, their output and exit codes."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import build_app
from ingestion.errors import PermissionDeniedError

ROOT = Path(__file__).resolve().parents[2]
Run = Callable[..., str]  # kb(*args, code=0) -> output


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run `kb ARGS...` in-process against a fresh data folder with the HashingEmbedder."""
    monkeypatch.chdir(tmp_path)  # no developer .env
    env = {"KB_DATA_DIR": str(tmp_path / "data"), "KB_EMBEDDER": "hashing-64", "KB_DATABASE_URL": ""}
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(build_app(), list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


def text_file(folder: Path, name: str, words: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n\n".join(f"{words} paragraph {i}." for i in range(30)))
    return path


def test_ingest_reports_each_file_and_skips_answer_keys(kb: Run, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    text_file(folder, "a.txt", "alpha")
    text_file(folder / "sub", "b.txt", "beta")
    (folder / "answers.csv").write_text("question,answer\nq,a\n")
    (folder / "qa.jsonl").write_text('{"q": 1}\n')
    out = kb("ingest", str(folder))
    assert "a.txt" in out and "ok" in out and "answers.csv" in out and "skipped" in out
    assert "b.txt" not in out  # not recursive
    out = kb("ingest", "--recursive", str(folder))
    assert "b.txt" in out and "duplicate" in out and "1 ok" in out
    listing = kb("docs", "list")
    assert "a.txt" in listing and "b.txt" in listing and "answers.csv" not in listing and "qa.jsonl" not in listing
    assert "(everyone)" in listing and "2 document(s)" in listing


def test_a_failed_file_makes_the_exit_code_non_zero(kb: Run, tmp_path: Path) -> None:
    good = text_file(tmp_path / "in", "good.txt", "fine")
    bad = tmp_path / "in" / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 nonsense")
    out = kb("ingest", str(good), str(bad), str(tmp_path / "missing.pdf"), code=1)
    assert "failed" in out and "no such file" in out and "1 ok" in out and "2 failed" in out


def test_groups_users_and_visibility(kb: Run, tmp_path: Path) -> None:
    assert "added group finance" in kb("groups", "add", "finance")
    assert "added member bob in finance" in kb("users", "add", "bob", "--group", "finance")
    kb("users", "add", "eve")
    kb("users", "add", "root2", "--admin")
    kb("ingest", "--group", "finance", str(text_file(tmp_path / "in", "budget.txt", "budget")))
    kb("ingest", str(text_file(tmp_path / "in", "handbook.txt", "handbook")))
    assert "budget.txt" in kb("docs", "list", "--user", "bob")
    eve_sees = kb("docs", "list", "--user", "eve")
    assert "budget.txt" not in eve_sees and "handbook.txt" in eve_sees
    kb("groups", "add-member", "finance", "eve")
    assert "budget.txt" in kb("docs", "list", "--user", "eve")
    assert "eve" in kb("groups", "list")
    kb("groups", "rm-member", "finance", "eve")
    assert "budget.txt" not in kb("docs", "list", "--user", "eve")
    users = kb("users", "list")
    assert "admin" in users and "root2" in users and "member" in users
    with pytest.raises(PermissionDeniedError, match="administrator"):
        kb("users", "add", "mallory", "--user", "eve")


def test_docs_rm_and_reindex(kb: Run, tmp_path: Path) -> None:
    kb("ingest", str(text_file(tmp_path / "in", "a.txt", "alpha")), str(text_file(tmp_path / "in", "b.txt", "beta")))
    assert "removed a.txt" in kb("docs", "rm", "a.txt")
    assert "a.txt" not in kb("docs", "list")
    assert "index rebuilt" in kb("reindex") and "hashing-64" in kb("reindex")


def test_user_errors_are_one_sentence_and_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "KB_DATA_DIR": str(tmp_path / "data"), "KB_EMBEDDER": "hashing-64", "PYTHONPATH": str(ROOT)}
    env.pop("KB_DATABASE_URL", None)
    run = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "docs", "rm", "nothing.pdf"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("error: No document is named 'nothing.pdf'") and "Traceback" not in run.stderr


def test_api_keys_create_list_revoke(kb: Run) -> None:
    from ingestion.errors import NotFoundError

    kb("users", "add", "bob")
    key = kb("keys", "create", "--user", "bob").splitlines()[0]
    assert key.startswith("kb-") and len(key) > 40
    listed = kb("keys", "list", "--user", "bob")
    key_id, shown, state = listed.split("\t")[:3]
    assert shown == key[:10] + "..." and state == "active" and key not in listed  # never shown again
    assert "has no API keys" in kb("keys", "list")  # the administrator's own: none
    with pytest.raises(NotFoundError):  # one user cannot revoke another's key
        kb("keys", "revoke", key_id)
    assert f"Revoked API key {key_id} of bob" in kb("keys", "revoke", key_id, "--user", "bob")
    assert "\trevoked\t" in kb("keys", "list", "--user", "bob")
