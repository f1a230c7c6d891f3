"""Run the web app (API + Gradio page) under uvicorn on a free loopback port in a thread, over a
real SQLite + FAISS knowledge base with the fake model: the fixture behind the UI and browser tests."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from app.service import KnowledgeService
from app.settings import Settings
from ingestion.embedders import HashingEmbedder
from ingestion.service import KnowledgeBase, StoreConfig
from ingestion.types import Embedder
from tests.app.fake_llm import FakeEngine, build_service

PASSWORDS = {"admin": "admin-password-1", "alice": "alice-password-1", "bob": "bob-password-12"}
PUBLIC = "The cafeteria serves lunch at noon every weekday. Parking is free for employees."
SECRET = "The project codename is Zanzibar-Quokka-7731. The merger closes in March."


@dataclass
class Running:
    url: str
    service: KnowledgeService
    kb: KnowledgeBase
    engine: FakeEngine
    data_dir: Path
    app: object  # the ASGI app served (its routes are enumerated by the attack suite)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seeded_kb(
    data_dir: Path, folder: Path, *, documents: bool = True, embedder: Callable[[], Embedder] | None = None
) -> KnowledgeBase:
    """admin (admin), alice (member of board), bob (member, no group), all with passwords; with
    `documents`, a public handbook and a board-only secret. The fake embedder unless one is given."""
    from app.accounts import Accounts

    factory = embedder or (lambda: HashingEmbedder(64))
    kb = KnowledgeBase.open(StoreConfig(data_dir=data_dir), embedder=factory, writer=True)
    admin = kb.actor(None)
    accounts = Accounts(kb)
    kb.people.add_group("board", admin)
    accounts.set_password("admin", PASSWORDS["admin"], admin)
    accounts.add_user("alice", admin=False, groups=("board",), actor=admin, password=PASSWORDS["alice"])
    accounts.add_user("bob", admin=False, groups=(), actor=admin, password=PASSWORDS["bob"])
    if documents:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "handbook.txt").write_text(PUBLIC, encoding="utf-8")
        (folder / "secret.txt").write_text(SECRET, encoding="utf-8")
        kb.ingest([folder / "handbook.txt"], actor=admin)
        kb.ingest([folder / "secret.txt"], actor=admin, groups=("board",))
    return kb


@contextmanager
def serve(
    tmp: Path,
    *,
    documents: bool = True,
    engine: FakeEngine | None = None,
    queue_size: int = 32,
    embedder: Callable[[], Embedder] | None = None,
    **options: object,
) -> Iterator[Running]:
    from ui.server import create_web_app

    data_dir = tmp / "data"
    kb = seeded_kb(data_dir, tmp / "in", documents=documents, embedder=embedder)
    engine = engine or FakeEngine()
    service = build_service(kb, engine, **options)
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    port = free_port()
    app = create_web_app(service, settings, queue_size=queue_size)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)  # (open event streams are cut after 1 s at shutdown)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the web app did not start"
    try:
        yield Running(f"http://127.0.0.1:{port}", service, kb, engine, data_dir, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        kb.close()
