"""Calling the page's Gradio handlers the way an attacker would: hand-made JSON on the wire,
no gradio_client to tidy it up. Sign in through /login, find a handler's fn_index in /config,
join the queue, read the event stream to its end."""

import json
import uuid
from typing import Any

import httpx

from tests.ui.server import PASSWORDS, Running


def signed_in(web: Running, name: str | None) -> httpx.Client:
    """A plain HTTP client, with the page's sign-in cookie when `name` is given."""
    http = httpx.Client(base_url=web.url, timeout=60)
    if name is not None:
        assert http.post("/login", data={"username": name, "password": PASSWORDS[name]}).status_code == 200
    return http


def handlers(http: httpx.Client) -> dict[str, int]:
    """api_name -> fn_index of every event handler the running page declares."""
    config = http.get("/config").json()
    return {d["api_name"]: i for i, d in enumerate(config["dependencies"]) if d.get("api_name")}


def call(http: httpx.Client, fn_index: int, data: list[Any]) -> tuple[int, dict[str, Any] | str]:
    """(HTTP status of the join, the final event or the refusal's text)."""
    session = uuid.uuid4().hex
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    joined = http.post("/gradio_api/queue/join", json=body)
    if joined.status_code != 200:
        return joined.status_code, joined.text
    last: dict[str, Any] = {}
    with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as events:
        for line in events.iter_lines():
            if not line.startswith("data:"):
                continue
            last = json.loads(line[5:])
            if last.get("msg") in ("process_completed", "unexpected_error"):
                break
    return 200, last


def file_ref(path: str) -> dict[str, Any]:
    return {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": path.rsplit("/", 1)[-1]}
