"""The attack suite over everything the running app exposes, enumerated from the app itself:
every HTTP route (anonymous, then as the member bob with forged ids and paths) and every Gradio
handler (as bob, with forged inputs of each component's kind: others' ids, server paths, file
references, hostile text). The canary (a board-only document) must never reach bob, and nothing
bob does may change what is not his."""

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.gradio_raw import call, file_ref, signed_in
from tests.security.routes import Route, all_routes, fill
from tests.ui.server import PASSWORDS, Running

CANARY = "Zanzibar-Quokka-7731"
# Anonymous callers may reach these (the sign-in page and its assets, the API's own description);
# a new route is refused anonymously unless it is added here on purpose.
PUBLIC = {
    "/", "/login", "/login/", "/logout", "/svelte/{path:path}", "/static/{path:path}", "/assets/{path:path}",
    "/favicon.ico", "/theme.css", "/robots.txt", "/pwa_icon", "/pwa_icon/{size}", "/manifest.json",
    "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json",
}  # fmt: skip
STREAM_READ_S = 2.0
LEAKS = (CANARY.encode(), b"SQLite format", b"root:x:0:0", b"FAISS", b"Traceback")


def _leaks(body: bytes) -> list[bytes]:
    return [marker for marker in LEAKS if marker in body]


def _request(http: httpx.Client, route: Route, path: str) -> httpx.Response:
    body: dict[str, Any] | None = None
    if route.method in ("POST", "PUT", "PATCH"):
        body = {
            "data": [file_ref(str(Path("/etc/passwd")))],
            "fn_index": 0,
            "session_hash": "attack",
            "model": "kb",
            "messages": [{"role": "user", "content": "What is the project codename?"}],
            "title": "pwned",
            "up": True,
        }
    received: list[bytes] = []
    try:
        with http.stream(route.method, path, json=body, timeout=STREAM_READ_S * 2) as response:
            deadline = time.monotonic() + STREAM_READ_S
            try:
                for part in response.iter_raw():
                    received.append(part)
                    if time.monotonic() > deadline:  # a heartbeat stream never ends by itself
                        break
            except (httpx.RemoteProtocolError, httpx.ReadTimeout):  # a stream cut short, or silent
                pass
            return httpx.Response(response.status_code, headers=response.headers, content=b"".join(received))
    except httpx.HTTPError as error:  # no answer at all is a failure of the route, named as such
        raise AssertionError(f"{route.method} {path}: {error}") from error


def test_routes_are_enumerated_from_the_app(web: Running) -> None:
    paths = {r.path for r in all_routes(web.app)}
    for expected in ("/v1/chat/completions", "/v1/documents/{document_id}", "/documents/{document_id}/file"):
        assert expected in paths
    assert any(p.startswith("/gradio_api/queue") for p in paths) and "/gradio_api/upload" in paths


def test_every_route_refuses_anonymous_callers(web: Running) -> None:
    anonymous = httpx.Client(base_url=web.url, follow_redirects=False)
    secret_doc = next(d.id for d in web.service.list_documents(web.service.actor(None)) if d.groups == ("board",))
    values = {"document_id": str(secret_doc), "conversation_id": "1", "message_id": "1"}
    for route in all_routes(web.app):
        response = _request(anonymous, route, fill(route.path, values, str(web.data_dir / "kb.sqlite3")))
        assert not _leaks(response.content), (route, response.status_code)
        if route.path not in PUBLIC:
            assert response.status_code in (401, 403, 404, 405), (route, response.status_code, response.text[:200])


def test_every_route_as_a_member_with_forged_ids_and_paths(web: Running) -> None:
    service = web.service
    alice = service.actor("alice")
    answer = service.ask("What is the project codename?", alice)  # alice's conversation holds the canary
    assert CANARY in answer.text or any(CANARY in c.snippet for c in answer.citations)
    secret_doc = next(d.id for d in service.list_documents(service.actor(None)) if d.groups == ("board",))
    values = {
        "document_id": str(secret_doc),
        "conversation_id": str(answer.conversation_id),
        "message_id": str(answer.message_id),
    }
    key = service.create_api_key(service.actor("bob"))
    bob = signed_in(web, "bob")
    bob.headers["Authorization"] = f"Bearer {key}"
    for route in all_routes(web.app):
        targets = [str(web.data_dir / "kb.sqlite3"), "../../../../etc/passwd", str(web.data_dir / "files")]
        for target in targets if ":path}" in route.path else targets[:1]:
            response = _request(bob, route, fill(route.path, values, target))
            assert not _leaks(response.content), (route, target, response.status_code)
    assert [m.content for m in service.messages(alice, int(str(answer.conversation_id)))][-1] == answer.text
    assert service.conversations(alice)[0].title != "pwned"


def _forged_inputs(kinds: list[str], ids: dict[str, int]) -> list[list[Any]]:
    """A few forged input rows for a handler whose inputs are of these component kinds."""
    rows: list[list[Any]] = []
    for attempt in range(3):
        row: list[Any] = []
        for kind in kinds:
            if kind in ("number", "dropdown", "radio", "state", "api"):
                row.append([ids["document"], ids["conversation"], ids["message"]][attempt])
            elif kind == "textbox":
                row.append(
                    ["What is the project codename?", "../../etc/passwd", "<img src=x onerror=alert(1)>"][attempt]
                )
            elif kind == "file":
                row.append([file_ref("/etc/passwd")])
            elif kind == "checkboxgroup":
                row.append(["board"])
            elif kind == "checkbox":
                row.append(True)
            else:
                row.append(None)
        rows.append(row)
    return rows


def _state(web: Running) -> dict[str, object]:
    service, admin = web.service, web.service.actor(None)
    return {
        "users": sorted((u.name, u.role, u.groups) for u in service.accounts.list_users(admin)),
        "groups": sorted(g.name for g in service.accounts.list_groups(admin)),
        "documents": sorted((d.id, d.file_name, d.groups, d.status) for d in service.list_documents(admin)),
        "alice": [(c.id, c.title) for c in service.conversations(service.actor("alice"))],
    }


def test_every_gradio_handler_as_a_member_with_forged_inputs(web: Running) -> None:
    service = web.service
    alice = service.actor("alice")
    answer = service.ask("What is the project codename?", alice)
    ids = {
        "document": next(d.id for d in service.list_documents(service.actor(None)) if d.groups == ("board",)),
        "conversation": int(str(answer.conversation_id)),
        "message": int(str(answer.message_id)),
    }
    before = _state(web)
    bob = signed_in(web, "bob")
    config = bob.get("/config").json()
    kinds = {c["id"]: c["type"] for c in config["components"]}
    assert len(config["dependencies"]) >= 20  # the page's handlers, all of them
    for fn_index, dependency in enumerate(config["dependencies"]):
        inputs = [kinds.get(i, "unknown") for i in dependency["inputs"]]
        for row in _forged_inputs(inputs, ids):
            status, reply = call(bob, fn_index, row)
            text = json.dumps(reply)
            assert CANARY not in text, (dependency.get("api_name"), row)
            assert status in (200, 403), (dependency.get("api_name"), status)
    assert _state(web) == before
    for name in ("admin", "alice"):
        assert service.accounts.sign_in(name, PASSWORDS[name]) is not None


@pytest.mark.parametrize("name", [None, "bob"], ids=["anonymous", "member"])
def test_gradio_handlers_refuse_anonymous_joins(web: Running, name: str | None) -> None:
    http = signed_in(web, name)
    status, _ = call(http, 0, [])
    assert status == (401 if name is None else 200)
