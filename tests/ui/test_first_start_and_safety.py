"""First start (one-time admin password, sample documents on an empty knowledge base), escaping of
hostile document text, and the busy answer past the queue's limit."""

import threading
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from app.accounts import Accounts
from tests.app.fake_llm import FakeEngine, best_source_sentence
from tests.ui.server import PASSWORDS, serve
from tests.ui.test_handlers import client, text_of

HOSTILE = (
    '<script>window.pwned = 1</script> <img src=x onerror="window.pwned = 2"> '
    "![x](http://example.invalid/leak.png) The launch of Project Heron is planned for June 2027."
)


def test_first_start_prints_one_admin_password_once(make_kb: object) -> None:
    kb = make_kb()  # type: ignore[operator]
    accounts = Accounts(kb)
    password = accounts.ensure_admin_password()
    assert password and len(password) >= 12
    assert accounts.ensure_admin_password() is None  # only once
    assert accounts.passwords.hash_of("admin").startswith("$argon2id$")  # type: ignore[union-attr]
    assert accounts.sign_in("admin", password) is not None
    assert accounts.sign_in("admin", password + "x") is None and accounts.sign_in("ghost", password) is None


def test_password_guessing_is_throttled(make_kb: object) -> None:
    from app.auth.throttle import SignInThrottle

    now = [0.0]
    kb = make_kb()  # type: ignore[operator]
    accounts = Accounts(kb, SignInThrottle(max_failures=3, window_s=60, clock=lambda: now[0]))
    password = accounts.ensure_admin_password()
    assert password
    for guess in ("a", "b", "c"):
        assert accounts.sign_in("admin", guess) is None
    assert accounts.sign_in("admin", password) is None  # blocked, even with the right password
    now[0] += 61
    assert accounts.sign_in("admin", password) is not None  # the window passed
    assert accounts.sign_in("admin", "d") is None and accounts.sign_in("admin", password) is not None  # reset


def test_empty_knowledge_base_offers_samples_and_says_so(tmp_path: Path) -> None:
    with serve(tmp_path, documents=False) as web:
        bob = client(web, "bob")
        loaded = bob.predict(api_name="/whoami")
        assert any("no documents you can read yet" in str(v) for v in loaded)
        chat, *_ = bob.predict("How many vacation days do new employees get?", api_name="/ask")
        assert "no documents you can read yet" in text_of(chat[-1])
        assert web.engine.generated == []  # the model was not even asked
        admin = client(web, "admin")
        admin.predict(api_name="/load_samples")
        names = sorted(d.file_name for d in web.service.list_documents(web.service.actor("bob")))
        assert names == ["employee-handbook.md", "it-security-policy.md"]
        chat, *_ = bob.predict("How many vacation days do new employees get?", api_name="/ask")
        answer = text_of(chat[-1])
        assert "25 vacation days" in answer and "employee\\-handbook\\.md" not in answer
        assert "employee-handbook.md, page 1" in answer


def test_document_and_model_text_is_escaped(tmp_path: Path) -> None:
    with serve(tmp_path) as web:
        evil = tmp_path / "heron.md"
        evil.write_text(HOSTILE, encoding="utf-8")
        admin = client(web, "admin")
        admin.predict([handle_file(evil)], [], api_name="/upload")
        chat, *_ = admin.predict("When is the launch of Project Heron planned?", api_name="/ask")
        answer = text_of(chat[-1])
        assert "June 2027" in answer
        for raw in ("<script", "<img", "](http", "!["):  # as tags or Markdown, they could run or load
            assert raw not in answer, raw
        assert "&lt;script&gt;" in answer and "&#60;script&#62;" in answer  # the answer's and the source's


def slow_reply(messages: list) -> str:  # type: ignore[type-arg]
    time.sleep(1.5)
    return best_source_sentence(messages)


def test_past_the_queue_limit_the_answer_is_busy(tmp_path: Path) -> None:
    with serve(tmp_path, engine=FakeEngine(slow_reply), queue_size=1) as web:
        clients = [Client(web.url, auth=("bob", PASSWORDS["bob"]), verbose=False) for _ in range(3)]
        outcomes: list[str] = []

        def ask(c: Client) -> None:
            try:
                c.predict("When does the cafeteria serve lunch?", api_name="/ask")
                outcomes.append("answered")
            except Exception as error:
                outcomes.append(str(error))

        threads = [threading.Thread(target=ask, args=(c,)) for c in clients]
        for t in threads:
            t.start()
            time.sleep(0.3)
        for t in threads:
            t.join(timeout=60)
        assert outcomes.count("answered") >= 1
        busy = [o for o in outcomes if o != "answered"]
        assert busy and all("Queue is full" in o for o in busy), outcomes


@pytest.mark.parametrize("name", ["alice"])
def test_signing_in_is_checked_against_the_database(tmp_path: Path, name: str) -> None:
    with serve(tmp_path) as web:
        signed = client(web, name)
        web.service.accounts.set_password(name, "a-new-password", web.service.actor(None))
        with pytest.raises(ValueError, match="Could not login"):
            Client(web.url, auth=(name, PASSWORDS[name]), verbose=False)
        Client(web.url, auth=(name, "a-new-password"), verbose=False)
        with pytest.raises(Exception, match=r"401|Sign in|not signed in|credentials"):  # the old session is over
            signed.predict(api_name="/list_documents")
        signed = Client(web.url, auth=(name, "a-new-password"), verbose=False)
        web.kb.people.remove_member("board", name, web.service.actor(None))  # takes effect at once
        rows, _ = signed.predict(api_name="/list_documents")
        assert "secret.txt" not in [r[1] for r in rows["data"]]
