"""`kb model-server` (app.model_server) with the real bundled model over real HTTP: every /v1
route needs the key, the official OpenAI client works against it, a dropped stream frees its batch
slot, a full line is a 503 with Retry-After; and the app's RemoteEngine over two real model-server
processes (turns, failover, 'no server answered')."""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.adapters.remote_engine import ModelServerError, RemoteEngine
from app.model_server.api import create_model_server
from model.batching import BatchSettings
from model.chat_template import ChatMessage
from model.engine import Engine
from model.generation_config import GenerationConfig

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KEY = "model-server-test-key"
QUESTION = "What is the capital of France? Answer in one sentence."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(engine: Engine) -> Iterator[str]:
    """The model server for `engine` on a loopback port, in this process (so tests can look inside)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_model_server(engine, KEY), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load("bundled", device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def url(engine: Engine) -> Iterator[str]:
    with served(engine) as base:
        yield base


def test_every_v1_route_needs_the_key(engine: Engine, url: str) -> None:
    app = create_model_server(engine, KEY)
    routes = [(method, route.path) for route in app.routes for method in getattr(route, "methods", ())]
    v1 = [(m, p) for m, p in routes if p.startswith("/v1")]
    assert {p for _, p in v1} == {"/v1/models", "/v1/completions", "/v1/chat/completions"}
    root = url.removesuffix("/v1")
    for method, path in v1:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
            response = httpx.request(method, root + path, headers=headers, json={"prompt": "x", "messages": []})
            assert response.status_code == 401, (method, path, headers)
            assert response.json()["error"]["type"] == "authentication_error"
    assert httpx.get(f"{root}/health").json() == {"status": "ok"}  # for load balancers: says nothing more
    with pytest.raises(ValueError):
        create_model_server(engine, "")


def test_the_official_openai_client_gets_the_engines_own_answer(engine: Engine, url: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=url, api_key=KEY)
    ids = engine.chat_prompt_ids([ChatMessage("user", QUESTION)])
    expected = engine.generate(ids, GenerationConfig(max_new_tokens=24))
    chat = client.chat.completions.create(
        model="kb", messages=[{"role": "user", "content": QUESTION}], max_tokens=24, temperature=0
    )
    assert chat.choices[0].message.content == expected.text
    assert chat.usage is not None and chat.usage.completion_tokens == len(expected.token_ids)
    streamed = client.chat.completions.create(
        model="kb", messages=[{"role": "user", "content": QUESTION}], max_tokens=24, temperature=0, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == expected.text
    plain = engine.generate(engine.raw_prompt_ids("The capital of France is"), GenerationConfig(max_new_tokens=8))
    completion = client.completions.create(model="kb", prompt="The capital of France is", max_tokens=8, temperature=0)
    assert completion.choices[0].text == plain.text
    assert [m.id for m in client.models.list()] == [engine.name]


def test_bad_requests_are_refused_clearly(url: str, engine: Engine) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    vocab = engine.model.args.vocab_size
    bad_ids = httpx.post(f"{url}/completions", headers=headers, json={"prompt": [1, vocab + 5]})
    assert bad_ids.status_code == 400 and "Token ids" in bad_ids.json()["error"]["message"]
    too_long = httpx.post(f"{url}/completions", headers=headers, json={"prompt": [1] * (engine.context_window + 1)})
    assert too_long.status_code == 400 and "context" in too_long.json()["error"]["message"]
    invalid = httpx.post(f"{url}/completions", headers=headers, json={"prompt": "x", "temperature": -1})
    assert invalid.status_code == 422


def test_a_dropped_stream_frees_its_slot(url: str, engine: Engine) -> None:
    assert engine.scheduler is not None
    body = {"prompt": "Count from one to a thousand:", "max_tokens": 400, "temperature": 0, "stream": True,
            "ignore_eos": True}  # fmt: skip
    with httpx.stream("POST", f"{url}/completions", headers={"Authorization": f"Bearer {KEY}"}, json=body) as r:
        lines = r.iter_lines()
        assert sum(1 for _, line in zip(range(6), lines, strict=False) if line.startswith("data:")) >= 2
        assert engine.scheduler.load()[0] == 1
    deadline = time.monotonic() + 10
    while engine.scheduler.load() != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.scheduler.load() == (0, 0)


def test_a_full_line_is_a_503_with_retry_after(engine: Engine) -> None:
    # An engine over the same weights with one slot and no line (the module's engine is idle meanwhile).
    narrow = Engine(engine.model, engine.tokenizer, engine.name, batching=BatchSettings(slots=1, max_waiting=0))
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"prompt": "Tell a long story:", "max_tokens": 300, "temperature": 0, "stream": True, "ignore_eos": True}
    with served(narrow) as base, httpx.stream("POST", f"{base}/completions", headers=headers, json=body) as first:
        next(first.iter_lines())
        # No time limit is the point here (httpx's 5 s default once ran out on a loaded 2-core CI).
        refused = httpx.post(f"{base}/completions", headers=headers, json={**body, "stream": False}, timeout=60)
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
        assert "busy" in refused.json()["error"]["message"]


Server = tuple[subprocess.Popen[bytes], str, Path]  # process, base URL, its log


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    """Two real `kb model-server` processes on the bundled model."""
    servers = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KB_MODEL_API_KEY": KEY, "KB_THREADS": "1"}
    logs = tmp_path_factory.mktemp("model-servers")
    for n in range(2):
        port, log = free_port(), logs / f"server-{n}.log"
        command = [sys.executable, "-c", "from ui.cli import main; main()", "model-server", "--port", str(port)]
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        servers.append((process, f"http://127.0.0.1:{port}/v1", log))
    try:
        for process, base, _ in servers:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(base.removesuffix("/v1") + "/health").status_code == 200:
                        break
                assert process.poll() is None and time.monotonic() < deadline, "a model server did not start"
                time.sleep(0.3)
        yield servers
    finally:
        for process, _, _ in servers:
            process.terminate()
            process.wait(timeout=30)


def remote(urls: list[str], engine: Engine) -> RemoteEngine:
    return RemoteEngine(urls, KEY, engine.tokenizer, engine.name, engine.context_window)


def test_the_app_uses_two_model_servers_in_turn_and_survives_one_going_down(
    two_servers: list[Server], engine: Engine
) -> None:
    from langchain_core.messages import HumanMessage

    from app.adapters.llm import EngineChatModel

    urls = [base for _, base, _ in two_servers]
    cfg = GenerationConfig(max_new_tokens=24)
    expected = engine.generate(engine.chat_prompt_ids([ChatMessage("user", QUESTION)]), cfg).text
    chat = EngineChatModel.from_engine(remote(urls, engine), max_tokens=24)
    answers = [chat.invoke([HumanMessage(QUESTION)]).content for _ in range(4)]
    assert answers == [expected] * 4  # the same greedy answer from either server
    served_by = [log.read_text().count("POST /v1/completions") for _, _, log in two_servers]
    assert served_by == [2, 2]  # the servers took turns
    # one goes down: the other answers every request
    two_servers[0][0].terminate()
    two_servers[0][0].wait(timeout=30)
    survivor = remote(urls, engine)
    for _ in range(3):
        assert "".join(survivor.stream(engine.chat_prompt_ids([ChatMessage("user", QUESTION)]), cfg)) == expected
    # none left: a clear error, not a hang
    two_servers[1][0].terminate()
    two_servers[1][0].wait(timeout=30)
    with pytest.raises(ModelServerError, match="No model server answered"):
        survivor.stream([1, 2, 3], cfg)


def test_a_wrong_key_is_named_not_hidden(url: str, engine: Engine) -> None:
    wrong = RemoteEngine([url], "not-the-key", engine.tokenizer, engine.name, engine.context_window)
    with pytest.raises(ModelServerError, match="refused the key"):
        wrong.stream([1, 2, 3], GenerationConfig(max_new_tokens=2))


def test_the_app_answers_through_the_model_server_named_in_its_settings(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    """KB_MODEL_URL set: the app loads no weights, takes the context window from the server's
    /v1/models, and its generated answers come from the server's engine."""
    from app.settings import load_settings
    from app.wiring import open_service

    settings = load_settings(
        data_dir=tmp_path, embedder="hashing-64", model_url=url, model_api_key=KEY, answer_mode="generative"
    )
    with open_service(settings) as service:
        assert isinstance(service.chain.llm.engine, RemoteEngine)
        assert service.chain.llm.context_window == engine.context_window
        handbook = tmp_path / "handbook.txt"
        handbook.write_text("Employees get 25 vacation days a year. Lunch is served at noon.", encoding="utf-8")
        admin = service.actor(None)
        service.ingest([handbook], admin)
        before = engine.scheduler.load() if engine.scheduler else None
        answer = service.ask("How many vacation days do employees get?", admin)
    assert before == (0, 0)
    assert answer.usage.completion_tokens > 0  # the model server wrote (then the checker judged) it
    assert answer.citations and answer.citations[0].document.startswith("handbook")
