"""The HTTP API, served by uvicorn on 127.0.0.1, driven by the official openai client, LangChain's
ChatOpenAI and plain httpx: authentication, chat with citations (streamed and not), documents."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.api import create_api
from app.service import KnowledgeService
from ingestion.service import KnowledgeBase
from tests.app.fake_llm import build_service, canary_knowledge_base


@pytest.fixture
def service(make_kb: Callable[..., KnowledgeBase], write_text: Callable[..., Path]) -> KnowledgeService:
    return build_service(canary_knowledge_base(make_kb(), write_text), max_upload_bytes=2000)


@pytest.fixture
def base_url(service: KnowledgeService) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_api(service), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def key_for(service: KnowledgeService, name: str) -> str:
    return service.create_api_key(service.actor(name))


def test_every_endpoint_needs_a_valid_key(service: KnowledgeService, base_url: str) -> None:
    for method, path in (("GET", "/v1/models"), ("POST", "/v1/chat/completions"), ("GET", "/v1/documents")):
        for headers in ({}, {"Authorization": "Bearer kb-not-a-key"}):
            response = httpx.request(method, base_url + path, headers=headers, json={})
            assert response.status_code == 401, (method, path)
            assert response.json()["error"]["type"] == "authentication_error"
    assert httpx.get(base_url + "/openapi.json").json()["paths"]["/v1/chat/completions"]
    bob = service.actor("bob")
    key = service.create_api_key(bob)
    assert httpx.get(base_url + "/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    service.keys.store.revoke(service.keys.store.of_user(bob.id)[0].id, bob.id)
    assert httpx.get(base_url + "/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_openai_client_unchanged(service: KnowledgeService, base_url: str) -> None:
    import openai

    client = openai.OpenAI(api_key=key_for(service, "bob"), base_url=base_url + "/v1")
    assert [m.id for m in client.models.list()] == ["kb"]
    completion = client.chat.completions.create(
        model="kb", messages=[{"role": "user", "content": "When does the cafeteria serve lunch?"}]
    )
    assert completion.choices[0].message.content.startswith("The cafeteria serves lunch at noon")
    # The fake engine's tokens are words: the answer's words, and the whole rendered prompt's.
    usage = completion.usage
    assert usage is not None and usage.completion_tokens == len(completion.choices[0].message.content.split())
    assert usage.prompt_tokens > 20 and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    citations = completion.model_extra["citations"]
    assert [(c["n"], c["document"], c["page"]) for c in citations] == [(1, "handbook.txt", 1)]
    stream = client.chat.completions.create(
        model="kb", messages=[{"role": "user", "content": "When does the cafeteria serve lunch?"}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("The cafeteria serves lunch at noon")
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == usage.completion_tokens
    assert chunks[-1].model_extra["citations"][0]["document"] == "handbook.txt"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="kb-wrong", base_url=base_url + "/v1").models.list()


def test_langchain_chat_openai_unchanged(service: KnowledgeService, base_url: str) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="kb", api_key=key_for(service, "bob"), base_url=base_url + "/v1")  # type: ignore[arg-type]
    reply = llm.invoke("Is parking free for employees?")
    assert "Parking is free for employees" in reply.text
    streamed = "".join(chunk.text for chunk in llm.stream("Is parking free for employees?"))
    assert "Parking is free for employees" in streamed


def test_not_in_the_knowledge_base_and_permissions(service: KnowledgeService, base_url: str) -> None:
    headers = {"Authorization": f"Bearer {key_for(service, 'bob')}"}
    body = {"model": "kb", "messages": [{"role": "user", "content": "What is the project codename Zanzibar-Quokka?"}]}
    answer = httpx.post(base_url + "/v1/chat/completions", json=body, headers=headers, timeout=30).json()
    assert answer["found"] is False and answer["citations"] == []
    assert "Zanzibar" not in answer["choices"][0]["message"]["content"]
    bad = httpx.post(base_url + "/v1/chat/completions", json={"messages": []}, headers=headers)
    assert bad.status_code == 422 and "messages" in bad.json()["error"]["message"]


def test_documents_upload_list_delete(service: KnowledgeService, base_url: str) -> None:
    bob = {"Authorization": f"Bearer {key_for(service, 'bob')}"}
    alice = {"Authorization": f"Bearer {key_for(service, 'alice')}"}
    names = {d["file_name"] for d in httpx.get(base_url + "/v1/documents", headers=bob).json()}
    assert names == {"handbook.txt"}  # bob is not in the board group
    files = {"file": ("notes.md", b"# Notes\n\nThe office opens at eight o'clock.", "text/markdown")}
    uploaded = httpx.post(base_url + "/v1/documents", files=files, headers=bob, timeout=60).json()
    assert uploaded[0]["outcome"] == "ok" and uploaded[0]["chunks"] >= 1
    too_big = {"file": ("big.txt", b"word " * 1000, "text/plain")}
    response = httpx.post(base_url + "/v1/documents", files=too_big, headers=bob)
    assert response.status_code == 413 and "upload limit" in response.json()["error"]["message"]
    response = httpx.post(base_url + "/v1/documents", files={"file": ("x.exe", b"MZ", "application/x")}, headers=bob)
    assert response.status_code == 415
    secret_id = next(
        d["id"] for d in httpx.get(base_url + "/v1/documents", headers=alice).json() if d["file_name"] == "secret.txt"
    )
    assert httpx.delete(f"{base_url}/v1/documents/{secret_id}", headers=bob).status_code == 404  # unreadable
    assert httpx.delete(f"{base_url}/v1/documents/{secret_id}", headers=alice).status_code == 403  # not the uploader
    notes_id = uploaded[0]["document_id"]
    assert httpx.delete(f"{base_url}/v1/documents/{notes_id}", headers=bob).json() == {"deleted": [notes_id]}


def test_conversations_are_stored_and_private(service: KnowledgeService, base_url: str) -> None:
    bob = {"Authorization": f"Bearer {key_for(service, 'bob')}"}
    alice = {"Authorization": f"Bearer {key_for(service, 'alice')}"}
    created = httpx.post(base_url + "/v1/conversations", json={"title": "Lunch"}, headers=bob)
    assert created.status_code == 201
    conversation = created.json()["id"]
    body = {
        "messages": [{"role": "user", "content": "When does the cafeteria serve lunch?"}],
        "conversation_id": conversation,
    }
    answer = httpx.post(base_url + "/v1/chat/completions", json=body, headers=bob, timeout=30).json()
    assert answer["conversation_id"] == conversation
    listed = httpx.get(base_url + "/v1/conversations", headers=bob).json()
    assert [(c["id"], c["title"], c["messages"]) for c in listed] == [(conversation, "Lunch", 2)]
    messages = httpx.get(f"{base_url}/v1/conversations/{conversation}/messages", headers=bob).json()
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["citations"][0]["document"] == "handbook.txt"
    reply_id = messages[1]["id"]
    feedback = {"rating": -1, "comment": "too short"}
    assert (
        httpx.post(f"{base_url}/v1/conversations/messages/{reply_id}/feedback", json=feedback, headers=bob).status_code
        == 204
    )
    assert service.store.feedback(reply_id, service.actor("bob").id) == -1
    # Alice sees none of it, cannot rename, read, rate or delete it: it reads as missing.
    assert httpx.get(base_url + "/v1/conversations", headers=alice).json() == []
    assert httpx.get(f"{base_url}/v1/conversations/{conversation}/messages", headers=alice).status_code == 404
    assert (
        httpx.patch(f"{base_url}/v1/conversations/{conversation}", json={"title": "x"}, headers=alice).status_code
        == 404
    )
    assert (
        httpx.post(
            f"{base_url}/v1/conversations/messages/{reply_id}/feedback", json=feedback, headers=alice
        ).status_code
        == 404
    )
    assert httpx.delete(f"{base_url}/v1/conversations/{conversation}", headers=alice).status_code == 404
    renamed = httpx.patch(f"{base_url}/v1/conversations/{conversation}", json={"title": "Food"}, headers=bob).json()
    assert renamed["title"] == "Food"
    assert httpx.delete(f"{base_url}/v1/conversations/{conversation}", headers=bob).status_code == 204
    assert httpx.get(base_url + "/v1/conversations", headers=bob).json() == []
    assert httpx.get(base_url + "/v1/conversations").status_code == 401


def test_the_api_carries_the_verdict_of_every_sentence(service: KnowledgeService, base_url: str) -> None:
    """A made-up figure is dropped, in the answer and the stream's last event alike, with its reason;
    the stored message keeps the same verdict."""
    engine = service.chain.llm.engine
    engine.reply = "The cafeteria serves lunch at noon every weekday [1]. Lunch costs $14.75 per employee [1]."
    headers = {"Authorization": f"Bearer {key_for(service, 'bob')}"}
    question = {"role": "user", "content": "When does the cafeteria serve lunch?"}
    body = {"model": "kb", "messages": [question], "conversation_id": None}
    answer = httpx.post(base_url + "/v1/chat/completions", json=body, headers=headers, timeout=30).json()
    assert answer["outcome"] == "answered" and answer["method"] == "generated"
    assert answer["choices"][0]["message"]["content"] == "The cafeteria serves lunch at noon every weekday [1]."
    verdicts = [(c["verified"], c["text"]) for c in answer["checked"]]
    assert verdicts == [
        (True, "The cafeteria serves lunch at noon every weekday [1]."),
        (False, "Lunch costs $14.75 per employee [1]."),
    ]
    assert "$14.75" in answer["checked"][1]["reason"]

    import json

    with httpx.stream(
        "POST", base_url + "/v1/chat/completions", json={**body, "stream": True}, headers=headers, timeout=30
    ) as response:
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    last = events[-1]
    assert last["outcome"] == "answered" and [c["verified"] for c in last["checked"]] == [True, False]
    assert last["answer"] == "The cafeteria serves lunch at noon every weekday [1]."

    bob = service.actor("bob")
    conversation = service.new_conversation(bob)
    service.ask("When does the cafeteria serve lunch?", bob, conversation.id)
    stored = service.messages(bob, conversation.id)[-1]
    assert stored.checks["outcome"] == "answered" and not stored.checks["checked"][1]["verified"]
    listed = httpx.get(f"{base_url}/v1/conversations/{conversation.id}/messages", headers=headers).json()
    assert listed[-1]["checks"]["checked"][1]["reason"] == stored.checks["checked"][1]["reason"]
