"""Shared fixtures: temp data folders, the real sample PDFs, and a REAL PostgreSQL server.

The server is started once per session with Debian's initdb/pg_ctl in a temp folder on a free
port (as the `postgres` OS user when running as root, since PostgreSQL refuses root); each test
that asks for it gets a fresh database. Store tests run against SQLite and PostgreSQL alike."""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
AAPL_PDF = EVAL / "sec-10-q" / "docs" / "2023 Q2 AAPL.pdf"  # 28 pages, about 1 s to parse
FOOTLOCKER_PDF = EVAL / "financebench" / "pdfs" / "FOOTLOCKER_2022_8K_dated-2022-05-20.pdf"  # 4 pages


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL prefix of a running PostgreSQL server (trust auth on 127.0.0.1), e.g. postgresql+psycopg://postgres@127.0.0.1:PORT"""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="kb-pg-"))
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
    except subprocess.CalledProcessError as error:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {error.stderr.decode()} {log}") from error
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        with contextlib.suppress(Exception):
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    import psycopg

    name = f"kb_{uuid.uuid4().hex[:12]}"
    dsn = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{postgres_server}/{name}"
    with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs twice: on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def sample_pdfs() -> tuple[Path, Path]:
    """(FOOTLOCKER 4 pages, AAPL 28 pages), real filings from shared/eval."""
    if not (AAPL_PDF.is_file() and FOOTLOCKER_PDF.is_file()):
        pytest.skip(f"the sample PDFs are not in {EVAL}")
    return FOOTLOCKER_PDF, AAPL_PDF


@pytest.fixture
def write_text(tmp_path: Path) -> Callable[..., Path]:
    """Write a small .txt document (fast to parse) and return its path."""

    def write(name: str, text: str, folder: str = "in") -> Path:
        path = tmp_path / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_kb(data_dir: Path) -> Iterator[Callable[..., object]]:
    """Open a writer KnowledgeBase on `data_dir` with the fast HashingEmbedder; closed at teardown.

    make_kb(url=None, dim=64, **StoreConfig fields) -> KnowledgeBase"""
    from ingestion.embedders import HashingEmbedder
    from ingestion.service import KnowledgeBase, StoreConfig

    opened: list[KnowledgeBase] = []

    def make(url: str | None = None, dim: int = 64, writer: bool = True, **config: object) -> KnowledgeBase:
        kb = KnowledgeBase.open(
            StoreConfig(data_dir=data_dir, database_url=url, **config),  # type: ignore[arg-type]
            embedder=lambda: HashingEmbedder(dim),
            writer=writer,
        )
        opened.append(kb)
        return kb

    yield make
    for kb in opened:
        kb.close()


def filing_kb(tmp_path_factory: pytest.TempPathFactory, pdf: Path) -> Iterator[object]:
    """One filing in a store of its own (the fast HashingEmbedder), for a fixture of tests that only
    read it; skipped where the sample PDFs are not."""
    if not pdf.is_file():
        pytest.skip(f"the sample PDFs are not in {EVAL}")
    from ingestion.embedders import HashingEmbedder
    from ingestion.service import KnowledgeBase, StoreConfig

    kb = KnowledgeBase.open(
        StoreConfig(data_dir=tmp_path_factory.mktemp(pdf.stem.replace(" ", "_"))),
        embedder=lambda: HashingEmbedder(64),
        writer=True,
    )
    kb.ingest([pdf], actor=kb.actor(None))
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def apple_q2_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Apple's 10-Q for the quarter ended April 1, 2023 (ingested once a session)."""
    yield from filing_kb(tmp_path_factory, AAPL_PDF)
