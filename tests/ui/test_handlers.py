"""Every handler of the web page through gradio_client, signed in as admin, member or nobody:
sign-in, chat (streamed, cited, stored, renamed, deleted, regenerated, rated), documents
(upload with per-file status, limits, visibility, delete) and the admin handlers (refused to members)."""

import re
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.conftest import FOOTLOCKER_PDF
from tests.ui.server import PASSWORDS, Running

ADMIN_HANDLERS: list[tuple[str, tuple[object, ...]]] = [
    ("/list_users", ()),
    ("/add_user", ("mallory", "mallory-password", True, [])),
    ("/set_password", ("admin", "taken-over-123")),
    ("/add_group", ("rogue",)),
    ("/add_member", ("board", "bob")),
    ("/remove_member", ("board", "alice")),
    ("/ingest_queue", ()),
    ("/task_jobs", ()),
    ("/load_samples", ()),
]


def client(web: Running, name: str) -> Client:
    """Signed in, with the page loaded in its session (as a browser would: choices get filled)."""
    signed = Client(web.url, auth=(name, PASSWORDS[name]), verbose=False)
    signed.predict(api_name="/whoami")
    return signed


def text_of(message: dict[str, object]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def signed_in(web: Running, name: str) -> httpx.Client:
    """A plain HTTP client holding the sign-in cookie the page's login sets."""
    http = httpx.Client(base_url=web.url)
    assert http.post("/login", data={"username": name, "password": PASSWORDS[name]}).status_code == 200
    return http


def test_nothing_without_signing_in(web: Running) -> None:
    with pytest.raises(Exception, match="credentials were not provided"):
        Client(web.url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(web.url, auth=("alice", "not-her-password"), verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(web.url, auth=("nobody", "whatever-123"), verbose=False)
    assert httpx.get(f"{web.url}/documents/1/file").status_code == 401
    assert httpx.get(f"{web.url}/gradio_api/info").status_code == 401
    assert httpx.get(f"{web.url}/v1/documents").status_code == 401  # the API keeps its keys


def test_no_file_outside_the_upload_area_is_served(web: Running) -> None:
    alice = signed_in(web, "alice")
    for path in (web.data_dir / "kb.sqlite3", web.data_dir / "index.faiss", Path("/etc/passwd")):
        response = alice.get(f"/gradio_api/file={path}")
        assert response.status_code in (403, 404), (path, response.status_code)
        assert b"SQLite format" not in response.content and b"root:" not in response.content


def test_a_member_calling_an_admin_handler_is_refused(web: Running) -> None:
    bob = client(web, "bob")
    for api_name, args in ADMIN_HANDLERS:
        with pytest.raises(AppError, match="Only an administrator"):
            bob.predict(*args, api_name=api_name)
    names = [u.name for u in web.service.accounts.list_users(web.service.actor(None))]
    assert "mallory" not in names and web.service.actor("alice").groups == ("board",)
    assert not web.service.accounts.sign_in("admin", "taken-over-123")


def test_admin_handlers(web: Running) -> None:
    admin = client(web, "admin")
    users, *_ = admin.predict(api_name="/list_users")
    assert {row[0]: row[3] for row in users["data"]} == {"admin": "yes", "alice": "yes", "bob": "yes"}
    *_, name, password, is_admin = admin.predict("carol", "carol-password-1", False, [], api_name="/add_user")
    assert (name, password, is_admin) == ("", "", False)  # the form is emptied for the next person
    admin.predict("auditors", api_name="/add_group")
    users, groups, *_ = admin.predict("auditors", "carol", api_name="/add_member")
    assert ["auditors", "carol"] in groups["data"]
    assert web.service.actor("carol").groups == ("auditors",)
    Client(web.url, auth=("carol", "carol-password-1"), verbose=False)  # she can sign in
    admin.predict("carol", "carol-password-2", api_name="/set_password")
    assert web.service.accounts.sign_in("carol", "carol-password-2") is not None
    admin.predict("auditors", "carol", api_name="/remove_member")
    assert web.service.actor("carol").groups == ()
    with pytest.raises(AppError, match="at least 8 characters"):
        admin.predict("dave", "short", False, [], api_name="/add_user")
    queue = admin.predict(api_name="/ingest_queue")
    assert queue["data"] == [] or all(row[2] != "ready" for row in queue["data"])


def test_page_load_fills_admin_tables_for_admins_only(web: Running) -> None:
    """(Tabs are layout, not components: the browser tests check the Admin tab is hidden.)"""
    loaded = client(web, "bob").predict(api_name="/whoami")
    assert "Signed in as **bob** (member)" in loaded[0]
    assert not any(isinstance(v, dict) and ["model id (API)", "kb"] in v.get("data", []) for v in loaded)
    from app.eval.history import save_summary

    summary = {"n": 195, "doc_recall_at_5": 1.0, "false_refusal_rate": 0.0, "refusal_rate": 0.99}
    save_summary("sec-10-q", summary | {"refusal_rate_siblings": 0.48}, web.service.kb.config.data_dir / "eval")
    loaded = client(web, "admin").predict(api_name="/whoami")
    assert "(administrator)" in loaded[0]
    assert any(isinstance(v, dict) and ["model id (API)", "kb"] in v.get("data", []) for v in loaded)
    assert any(isinstance(v, dict) and ["in use: model", "fake"] in v.get("data", []) for v in loaded)
    evals = next(v for v in loaded if isinstance(v, dict) and "refused (hard)" in v.get("headers", []))
    row = dict(zip(evals["headers"], evals["data"][0], strict=True))
    assert row["dataset"] == "sec-10-q" and row["refused (answerable)"] == "0.000"
    assert row["refused (unanswerable)"] == "0.990" and row["refused (hard)"] == "0.480"


def test_ask_streams_cites_and_stores_the_answer(web: Running) -> None:
    alice = client(web, "alice")
    job = alice.submit("When does the cafeteria serve lunch?", api_name="/ask")
    updates = list(job)
    assert len(updates) >= 3  # the question, pieces of the answer, the cited answer
    said = [text_of(update[0][-1]) for update in updates]
    stages = [text for text in said if text.endswith("…")]  # before the first words, in order
    assert stages[-3] == "Searching documents…" and stages[-1] == "Writing the answer…", said
    assert re.fullmatch(r"Reading \d+ passages?…", stages[-2]), said
    chat, _, conversations = job.outputs()[-1]
    answer = text_of(chat[-1])
    assert answer.startswith("The cafeteria serves lunch at noon")
    assert 'href="/documents/1/file#page=1"' in answer and "handbook.txt, page 1" in answer
    assert "<mark>The cafeteria serves lunch at noon every weekday.</mark>" in answer
    conversation_id = conversations["value"]
    stored = web.service.messages(web.service.actor("alice"), conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert alice.predict(stored[-1].id, False, api_name="/rate") == "saved"
    assert web.service.store.feedback(stored[-1].id, web.service.actor("alice").id) == -1
    with pytest.raises(AppError, match=r"no (message|conversation)"):  # bob cannot rate alice's answer
        client(web, "bob").predict(stored[-1].id, True, api_name="/rate")


def test_conversations_open_rename_regenerate_delete(web: Running) -> None:
    alice = client(web, "alice")  # the page opened her latest conversation; this question starts a new one
    alice.predict(api_name="/new_conversation")
    *_, conversations = alice.predict("Is parking free for employees?", api_name="/ask")
    cid = conversations["value"]
    chat, title = alice.predict(cid, api_name="/open_conversation")
    assert title == "Is parking free for employees?" and len(chat) == 2
    listing = alice.predict("Parking", api_name="/rename_conversation")
    assert [cid, "Parking"] in [[v, k.split(" · ")[0]] for k, v in listing["choices"]]  # title · last active
    before = web.service.messages(web.service.actor("alice"), cid)
    chat, _, _ = alice.predict(api_name="/regenerate")
    after = web.service.messages(web.service.actor("alice"), cid)
    assert len(after) == 2 and after[-1].created_at != before[-1].created_at  # replaced, not appended
    assert "Parking is free" in text_of(chat[-1])
    with pytest.raises(AppError):  # someone else's conversation reads as missing
        client(web, "bob").predict(cid, api_name="/open_conversation")
    alice.predict(api_name="/delete_conversation")
    assert cid not in [c.id for c in web.service.conversations(web.service.actor("alice"))]
    chat, _ = alice.predict(api_name="/new_conversation")
    assert chat == []


def test_members_see_only_what_they_may_read(web: Running) -> None:
    bob, alice = client(web, "bob"), client(web, "alice")
    rows, _ = bob.predict(api_name="/list_documents")
    assert [r[1] for r in rows["data"]] == ["handbook.txt"]
    rows, _ = alice.predict(api_name="/list_documents")
    assert {r[1] for r in rows["data"]} >= {"handbook.txt", "secret.txt"}
    chat, *_ = bob.predict("What is the project codename?", api_name="/ask")
    assert "Zanzibar" not in text_of(chat[-1])
    assert signed_in(web, "bob").get("/documents/2/file").status_code == 404
    response = signed_in(web, "alice").get("/documents/2/file")
    assert response.status_code == 200 and b"Zanzibar" in response.content
    assert response.headers["content-type"].startswith("text/plain")


def test_upload_several_files_with_status_limits_and_visibility(web: Running, tmp_path: Path) -> None:
    if not FOOTLOCKER_PDF.is_file():
        pytest.skip(f"{FOOTLOCKER_PDF} is missing")
    notes = tmp_path / "notes.txt"
    notes.write_text("The board meets on the first Monday of every month in room 4.", encoding="utf-8")
    table = tmp_path / "data.csv"
    table.write_text("a,b\n1,2\n", encoding="utf-8")
    big = tmp_path / "big.txt"
    big.write_text("word " * 60_000, encoding="utf-8")  # 300 kB, over the 200 kB limit
    alice = client(web, "alice")
    job = alice.submit([handle_file(p) for p in (FOOTLOCKER_PDF, notes)], ["board"], api_name="/upload")
    seen = [u[0]["data"] for u in job]  # progress tables as they came
    progress, documents, _ = job.outputs()[-1][:3]
    status = {row[0]: row for row in progress["data"]}
    assert status[FOOTLOCKER_PDF.name][1:3] == ["ready", 4] and status[FOOTLOCKER_PDF.name][3] > 0
    assert status["notes.txt"][1] == "ready"
    assert any(row[1] in ("queued", "parsing", "embedding") for table_ in seen for row in table_)
    with pytest.raises(AppError, match="Invalid file type"):
        alice.predict([handle_file(table)], [], api_name="/upload")
    names = {row[1]: row for row in documents["data"]}
    assert names["notes.txt"][5] == "board" and names[FOOTLOCKER_PDF.name][3] == 4
    with pytest.raises((AppError, ValueError), match="exceeds the maximum file size"):
        alice.predict([handle_file(big)], [], api_name="/upload")
    with big.open("rb") as raw:  # the server refuses it too, whatever the client does
        response = signed_in(web, "alice").post("/gradio_api/upload", files={"files": ("big.txt", raw)})
    assert response.status_code == 413, response.text
    with pytest.raises(AppError, match=r"only with own groups|not in the list of choices"):
        client(web, "bob").predict([handle_file(notes)], ["board"], api_name="/upload")
    rows, _ = client(web, "bob").predict(api_name="/list_documents")
    assert "notes.txt" not in [r[1] for r in rows["data"]]


def test_visibility_and_delete(web: Running, tmp_path: Path) -> None:
    memo = tmp_path / "memo.txt"
    memo.write_text("The office closes early on the last Friday of December.", encoding="utf-8")
    admin, bob = client(web, "admin"), client(web, "bob")
    _, documents, *_ = admin.predict([handle_file(memo)], [], api_name="/upload")
    doc_id = next(r[0] for r in documents["data"] if r[1] == "memo.txt")
    assert "memo.txt" in [r[1] for r in bob.predict(api_name="/list_documents")[0]["data"]]
    admin.predict(doc_id, ["board"], api_name="/set_document_groups")
    assert "memo.txt" not in [r[1] for r in bob.predict(api_name="/list_documents")[0]["data"]]
    with pytest.raises(AppError):  # bob cannot see it, so Gradio refuses the choice before our handler
        bob.predict(doc_id, api_name="/delete_document")
    handbook = next(d.id for d in web.service.list_documents(web.service.actor("bob")) if d.file_name == "handbook.txt")
    # He may read it, not delete it: a warning toast, not an error that turns the tables into red badges.
    bob.predict(handbook, api_name="/delete_document")
    assert "handbook.txt" in {d.file_name for d in web.service.list_documents(web.service.actor(None))}
    rows, _ = admin.predict(doc_id, api_name="/delete_document")
    assert "memo.txt" not in [r[1] for r in rows["data"]]



def test_document_controls_only_for_what_the_user_may_change(web: Running) -> None:
    """(Save visibility and Delete are buttons, not returned to API clients: the browser test
    checks they are hidden; here the groups box is read-only for the same reason.)"""
    handbook = next(d.id for d in web.service.list_documents(web.service.actor("bob")) if d.file_name == "handbook.txt")
    refused = client(web, "bob").predict(handbook, api_name="/document_groups")
    assert refused["interactive"] is False and refused["visible"] is False
    allowed = client(web, "admin").predict(handbook, api_name="/document_groups")
    assert allowed["interactive"] is True and allowed["visible"] is True


def test_regenerating_a_quoted_answer_says_why_it_would_not_change(web: Running) -> None:
    service, bob = web.service, web.service.actor("bob")
    conversation = service.new_conversation(bob, "Quoted")
    service.store.add_message(conversation.id, bob.id, "user", "When does the cafeteria serve lunch?")
    quoted = {"outcome": "answered", "method": "extractive", "checked": []}
    service.store.add_message(conversation.id, bob.id, "assistant", "Lunch at noon [1]", found=True, checks=quoted)
    before, asked = service.messages(bob, conversation.id), len(web.engine.generated)
    bob_page = client(web, "bob")
    bob_page.predict(conversation.id, api_name="/open_conversation")
    bob_page.predict(api_name="/regenerate")
    assert service.messages(bob, conversation.id) == before and len(web.engine.generated) == asked


def test_my_account_keys_and_password(web: Running) -> None:
    bob, alice = client(web, "bob"), client(web, "alice")
    shown, keys, _ = bob.predict(api_name="/create_my_key")
    key = shown["value"]  # shown once, in a box made visible for it
    assert key.startswith("kb-") and web.service.user_for_key(key).name == "bob"  # type: ignore[union-attr]
    key_id = next(row[0] for row in keys["data"] if row[4] == "active")
    with pytest.raises(AppError, match=r"no API key|not in the list of choices"):  # not hers to revoke
        alice.predict(key_id, api_name="/revoke_my_key")
    assert web.service.user_for_key(key) is not None
    _, keys, _ = bob.predict(key_id, api_name="/revoke_my_key")
    assert web.service.user_for_key(key) is None and [key_id, "revoked"] in [[r[0], r[4]] for r in keys["data"]]
    with pytest.raises(AppError, match="current password is not right"):
        bob.predict("wrong-password-1", "bob-password-99", "bob-password-99", api_name="/change_my_password")
    with pytest.raises(AppError, match="differ"):
        bob.predict(PASSWORDS["bob"], "bob-password-99", "bob-password-98", api_name="/change_my_password")
    assert web.service.sign_in("bob", PASSWORDS["bob"]) is not None  # unchanged
