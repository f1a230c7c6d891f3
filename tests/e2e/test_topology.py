"""docker-compose.yml's topology started for real without docker: PostgreSQL from Debian's packages,
one `kb model-server` (the bundled model), two `kb worker` processes, two `kb serve` processes (each
its own data folder, the model reached through KB_MODEL_URL). A document uploaded through one app
process is ingested by a worker; the answer with its citation comes from the other app process,
whose index never saw the document before, and a follow-up is condensed by the model server. A
worker killed mid-ingest is replaced by the other; a broken file fails once, visibly, without retries."""

from pathlib import Path

import httpx
import psycopg
from sqlalchemy import func, select

from ingestion.embedders import HashingEmbedder
from ingestion.service import KnowledgeBase, StoreConfig
from store.models import Chunk, ChunkVector
from tests.conftest import AAPL_PDF
from tests.e2e.topology import admin_key, free_port, topology, wait_for

MEMO = (
    "Facilities memo for the spring quarter.\n\n"
    "The budget review for team 7 takes place in room 4.12 on the fourth floor.\n\n"
    "Parking passes are renewed in March by the front desk.\n"
)


def _up(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def _documents(url: str, key: str) -> dict[str, dict[str, object]]:
    response = httpx.get(f"{url}/v1/documents", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200, response.text
    return {d["file_name"]: d for d in response.json()}


def _jobs(database_url: str) -> list[tuple[int, str, int, int | None]]:
    """(document id, status, attempts, worker id) of every ingest job, from Procrastinate's table."""
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT (args->>'document_id')::int, status::text, attempts, worker_id FROM procrastinate_jobs "
            "WHERE queue_name = 'ingest' ORDER BY id"
        ).fetchall()
    return [(int(d), str(s), int(a), w) for d, s, a, w in rows]


def test_upload_on_one_app_the_answer_with_its_citation_from_the_other(postgres_url: str, tmp_path: Path) -> None:
    key = admin_key(postgres_url, tmp_path / "setup")
    headers = {"Authorization": f"Bearer {key}"}
    model_port = free_port()
    model_env = {"KB_MODEL_URL": f"http://127.0.0.1:{model_port}/v1", "KB_MODEL_API_KEY": "topology-model-key"}
    with topology(tmp_path, postgres_url, **model_env) as kb:
        kb.start("model-server", "model-server", "--port", str(model_port))
        wait_for(lambda: _up(f"http://127.0.0.1:{model_port}/health"), 120, "the model server")
        kb.worker("worker-1")
        kb.worker("worker-2")
        first = kb.app("app-1", key)
        second = kb.app("app-2", key)

        memo = {"file": ("memo.txt", MEMO.encode(), "text/plain")}
        upload = httpx.post(f"{first}/v1/documents", headers=headers, files=memo, timeout=60)
        assert upload.status_code == 200, upload.text
        [queued] = upload.json()
        assert queued["outcome"] == "queued", queued
        damaged = {"file": ("broken.pdf", b"%PDF-1.7 no", "application/pdf")}
        broken = httpx.post(f"{first}/v1/documents", headers=headers, files=damaged, timeout=60)
        assert broken.json()[0]["outcome"] == "queued"

        ready = wait_for(lambda: _documents(second, key).get("memo.txt", {}).get("status") == "ready", 120, "memo")
        assert ready, kb.log("worker-1")[-2000:] + kb.log("worker-2")[-2000:]
        asked = "Where does the budget review take place?"
        question = {"model": "kb", "messages": [{"role": "user", "content": asked}]}
        answer = httpx.post(f"{second}/v1/chat/completions", headers=headers, json=question, timeout=300)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert "4.12" in body["choices"][0]["message"]["content"], body
        assert [c["document"] for c in body["citations"]] == ["memo.txt"], body["citations"]
        assert "4.12" in body["citations"][0]["sentence"]
        follow_up = {"model": "kb", "messages": [*question["messages"],
                     {"role": "assistant", "content": body["choices"][0]["message"]["content"]},
                     {"role": "user", "content": "And who renews the parking passes?"}]}  # fmt: skip
        second_answer = httpx.post(f"{second}/v1/chat/completions", headers=headers, json=follow_up, timeout=300)
        assert second_answer.status_code == 200, second_answer.text
        assert "POST /v1/completions" in kb.log("model-server")  # the app processes hold no model
        assert not (tmp_path / "app-2" / "files").exists() or not any((tmp_path / "app-2" / "files").iterdir())

        wait_for(lambda: _documents(first, key).get("broken.pdf", {}).get("status") == "failed", 60, "broken.pdf")
        jobs = _jobs(postgres_url)
        assert sorted((s, a) for _, s, a, _ in jobs) == [("failed", 1), ("succeeded", 1)], jobs  # a bad file: no retry

        kb.kill("worker-2")  # a worker killed mid-ingest: the other one finishes the document
        kb.kill("worker-1")
        kb.worker("worker-3")
        content = AAPL_PDF.read_bytes() if AAPL_PDF.is_file() else ("\n\n".join(MEMO for _ in range(400))).encode()
        name = "long.pdf" if AAPL_PDF.is_file() else "long.txt"
        httpx.post(f"{first}/v1/documents", headers=headers, files={"file": (name, content)}, timeout=60)
        wait_for(lambda: _documents(first, key)[name]["status"] in ("parsing", "embedding"), 60, "ingest start")
        kb.kill("worker-3")
        kb.worker("worker-4")
        wait_for(lambda: _documents(second, key)[name]["status"] == "ready", 180, "the document after the kill")
        document_id = _documents(first, key)[name]["id"]
        attempts = [a for d, s, a, _ in _jobs(postgres_url) if s == "succeeded" and d == document_id]
        assert attempts == [2], _jobs(postgres_url)  # the killed attempt, then the new worker's

    config = StoreConfig(data_dir=tmp_path / "check", database_url=postgres_url, shared=True)
    with KnowledgeBase.open(config, embedder=lambda: HashingEmbedder(64), writer=True) as check:
        assert check.check() == []  # SQL consistent; this folder's index aligned with the stored vectors
        with check.db.session() as session:
            stored = session.scalar(select(func.count(ChunkVector.chunk_id)))
            assert stored == session.scalar(select(func.count(Chunk.id))) > 0
