"""The deployment's topology without docker: real `kb serve` and `kb worker` processes on one real
PostgreSQL database (KB_TASK_QUEUE=procrastinate), each with its own data folder."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
KB = [sys.executable, "-c", "from ui.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Topology:
    root: Path
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
        env.update(
            PYTHONPATH=str(ROOT),
            KB_DATA_DIR=str(self.root / name),  # each process its own folder: all shared state is in SQL
            KB_DATABASE_URL=self.database_url,
            KB_TASK_QUEUE="procrastinate",
            KB_EMBEDDER="hashing-64",
            KB_WORKER_SWEEP_S="1",
            KB_WORKER_STALLED_S="4",
            KB_TASK_RETRY_WAIT_S="1",
        )
        return env | self.extra_env

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("wb")
        child = subprocess.Popen(
            [*KB, *args], cwd=ROOT, env=self.env(name), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.children[name] = child
        return child

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(name, "worker", "--name", name)

    def app(self, name: str, key: str) -> str:
        port = free_port()
        self.start(name, "serve", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.children[name].poll() is not None:
                raise AssertionError(f"{name} exited: {self.log(name)[-3000:]}")
            try:
                if httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{name} did not start: {self.log(name)[-3000:]}")

    def kill(self, name: str) -> None:
        child = self.children[name]
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for name in list(self.children):
            self.kill(name)


@contextmanager
def topology(root: Path, database_url: str, **extra_env: str) -> Iterator[Topology]:
    running = Topology(root, database_url, extra_env)
    try:
        yield running
    finally:
        running.stop_all()


def admin_key(database_url: str, folder: Path) -> str:
    """An API key of the administrator, made directly in the (migrated) database."""
    from app.auth.keys import ApiKeys
    from ingestion.service import KnowledgeBase, StoreConfig
    from store.api_keys import ApiKeyStore

    with KnowledgeBase.open(StoreConfig(data_dir=folder, database_url=database_url)) as kb:
        key, _ = ApiKeys(ApiKeyStore(kb.db)).create(kb.actor(None).id)
    return key


def wait_for(condition: object, timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()  # type: ignore[operator]
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
