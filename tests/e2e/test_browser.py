"""The web page in headless Chromium (Debian's, driven by Playwright): sign in, upload a real PDF and
watch it become ready, ask, see the answer stream in and cite the right page, open the PDF there;
a member does not see another group's document nor controls they cannot use; Send is on screen at
1366x900 and on a 390x844 phone; a stopped answer survives a reload; the empty-knowledge-base
banner goes when the first document is ready; hostile document text does not run. Screenshots of
each step go to tests/e2e/screenshots/."""

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.fake_llm import FakeEngine, FakeStream
from tests.conftest import FOOTLOCKER_PDF
from tests.ui.server import PASSWORDS, Running, serve

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is missing: apt-get install chromium")
SHOTS = Path(__file__).resolve().parent / "screenshots"
QUESTION = "How many shares of common stock were outstanding and entitled to vote as of the record date?"
PAGE = 2  # of the 8-K: "As of March 21, 2022, ... a total of 96,089,997 shares of common stock ..."
HOSTILE = (
    '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> '
    "The launch of Project Heron is planned for June 2027."
)


class SlowStream(FakeStream):
    """The fake model's words with a pause between them, so the browser can see them arrive."""

    def __iter__(self) -> Iterator[str]:
        for piece in super().__iter__():
            time.sleep(0.08)
            yield piece


class SlowEngine(FakeEngine):
    def stream(self, prompt_ids: Any, cfg: Any) -> FakeStream:
        fast = super().stream(prompt_ids, cfg)
        slow = SlowStream(fast._words, fast._limit)
        return slow


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    if not FOOTLOCKER_PDF.is_file():
        pytest.skip(f"{FOOTLOCKER_PDF} is missing")
    with serve(tmp_path_factory.mktemp("e2e"), engine=SlowEngine()) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


DESKTOP, PHONE = (1366, 900), (390, 844)


def sign_in(
    browser: Any, web: Running, name: str, shot: str | None = None, size: tuple[int, int] = (1360, 1000)
) -> Any:
    phone = size[0] < 600
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, is_mobile=phone, has_touch=phone, device_scale_factor=1
    )
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    page.goto(web.url)
    page.get_by_text("Knowledge base: sign in").wait_for(timeout=20_000)  # the product names itself
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(PASSWORDS[name])
    if shot:
        page.screenshot(path=SHOTS / shot)
    page.get_by_role("button", name="Login").click()
    page.get_by_text(f"Signed in as {name}").wait_for(timeout=20_000)
    return page


def upload(page: Any, files: list[Path], shot_busy: str, shot_done: str, groups: tuple[str, ...] = ()) -> None:
    page.get_by_role("tab", name="Documents").click()
    page.locator("#kb-upload input[type=file]").set_input_files([str(f) for f in files])
    for group in groups:
        page.locator("#kb-share").get_by_label(group).check()
    page.get_by_role("button", name="Upload and index").click()
    wait_text(page, "#kb-progress", r"queued|parsing|embedding", 20)
    page.screenshot(path=SHOTS / shot_busy)
    names = "|".join(re.escape(f.name) for f in files)
    wait_text(page, "#kb-progress", rf"^(?!.*\b(queued|parsing|embedding)\b)(?=[\s\S]*({names}))[\s\S]*\bready\b", 60)
    page.screenshot(path=SHOTS / shot_done)


def wait_text(page: Any, selector: str, pattern: str, timeout_s: float) -> str:
    """Wait until the visible text of `selector` matches `pattern` (a JavaScript regex)."""
    page.wait_for_function(
        "([sel, pat]) => { const el = document.querySelector(sel);"
        " return el && new RegExp(pat, 's').test(el.innerText); }",
        arg=[selector, pattern],
        timeout=timeout_s * 1000,
    )
    return str(page.locator(selector).inner_text())


def in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return bool(box) and box["x"] >= 0 and box["y"] >= 0 and (
        box["x"] + box["width"] <= size["width"] and box["y"] + box["height"] <= size["height"]
    )


def choose_document(page: Any, name: str) -> None:
    page.locator("#kb-chosen-document input").click()
    page.get_by_role("option", name=re.compile(re.escape(name))).click()


def ask(page: Any, question: str) -> Any:
    page.get_by_role("tab", name="Chat").click()
    page.locator("#kb-question textarea").fill(question)
    page.locator("#kb-send").click()
    return page.locator("#kb-chatbot .message.bot, #kb-chatbot [data-testid='bot']").last


def test_sign_in_upload_ask_cite_and_open(browser: Any, web: Running) -> None:
    page = sign_in(browser, web, "alice", "01-sign-in.png")
    page.screenshot(path=SHOTS / "02-signed-in.png")
    upload(page, [FOOTLOCKER_PDF], "03-upload-in-progress.png", "04-upload-ready.png", groups=("board",))
    wait_text(page, "#kb-documents", re.escape(FOOTLOCKER_PDF.name) + r"\s+ready\s+4\s+[1-9]\d*\s+board", 10)

    answer = ask(page, QUESTION)
    answer.wait_for(timeout=20_000)
    page.wait_for_timeout(400)  # a few words in, before the sources
    partial = answer.inner_text()
    page.screenshot(path=SHOTS / "05-answer-streaming.png")
    source = page.locator("#kb-chatbot a.kb-open").last
    source.wait_for(timeout=60_000)
    final = answer.inner_text()
    assert partial and len(partial) < len(final) and "Sources" not in partial  # it streamed
    assert "96,089,997 shares" in final and "$0.01 par value" in final  # money, not LaTeX
    assert source.inner_text() == f"{FOOTLOCKER_PDF.name}, page {PAGE}"
    assert re.search(rf"/documents/\d+/file#page={PAGE}$", source.get_attribute("href") or "")
    assert page.locator("#kb-chatbot mark").last.inner_text()  # the supporting sentence, highlighted
    page.screenshot(path=SHOTS / "06-answer-with-citation.png")
    preview = wait_text(page, "#kb-preview", r"96,089,997", 20)  # the cited page beside the answer
    assert f"{FOOTLOCKER_PDF.name}, page {PAGE}" in preview
    assert "96,089,997" in page.locator("#kb-preview mark").first.inner_text()
    assert page.locator("#kb-preview a.kb-open").first.get_attribute("href") == source.get_attribute("href")
    page.screenshot(path=SHOTS / "06-cited-page-preview.png")

    href = source.get_attribute("href") or ""
    with page.expect_popup() as popup_info:
        source.click()
    pdf = popup_info.value
    assert pdf.url == f"{web.url}{href}"  # the browser's PDF viewer opens at the page
    response = page.context.request.get(web.url + href.split("#")[0])  # same cookie as the page
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
    pdf.wait_for_timeout(1500)
    pdf.screenshot(path=SHOTS / "07-document-opened-at-page.png")

    page.locator("#kb-chatbot button[aria-label='Like'], #kb-chatbot button[title='Like']").last.click()
    page.get_by_text("your feedback was saved").wait_for(timeout=10_000)
    alice = web.service.actor("alice")
    conversation = web.service.conversations(alice)[0]
    answer_id = web.service.messages(alice, conversation.id)[-1].id
    assert web.service.store.feedback(answer_id, alice.id) == 1
    assert not page.dialogs


def test_a_member_sees_no_controls_they_cannot_use(browser: Any, web: Running) -> None:
    page = sign_in(browser, web, "bob")  # no conversation yet
    page.wait_for_timeout(500)
    stop = page.locator("#kb-stop")
    assert stop.is_disabled() and "secondary" in (stop.get_attribute("class") or "")  # not red while idle
    assert page.locator("#kb-regenerate").is_disabled()  # nothing to regenerate yet
    for control in ("#kb-title", "#kb-rename", "#kb-delete-conversation", "#kb-really-delete"):
        assert not page.locator(control).is_visible(), control
    page.screenshot(path=SHOTS / "14-member-chat-controls.png")
    page.get_by_role("tab", name="Documents").click()
    choose_document(page, "handbook.txt")  # the admin's upload: bob may read it, not change it
    page.wait_for_timeout(800)
    for control in ("#kb-save-visibility", "#kb-delete-document", "#kb-chosen-groups"):
        assert not page.locator(control).is_visible(), control
    page.screenshot(path=SHOTS / "15-member-document-controls.png")

    owner = sign_in(browser, web, "alice")  # her own upload: she may share and delete it
    owner.get_by_role("tab", name="Documents").click()
    choose_document(owner, FOOTLOCKER_PDF.name)
    owner.locator("#kb-delete-document").wait_for(state="visible", timeout=10_000)
    assert owner.locator("#kb-save-visibility").is_visible() and owner.locator("#kb-chosen-groups").is_visible()

    owner.get_by_role("tab", name="Chat").click()  # the page opened her latest conversation
    owner.locator("#kb-delete-conversation").click()  # asks first
    owner.locator("#kb-confirm-delete").get_by_text("cannot be undone").wait_for(timeout=10_000)
    owner.screenshot(path=SHOTS / "16-delete-conversation-asks.png")
    owner.locator("#kb-keep-conversation").click()
    owner.locator("#kb-delete-conversation").wait_for(state="visible", timeout=10_000)
    alice = web.service.actor("alice")
    assert len(web.service.conversations(alice)) == 1
    owner.locator("#kb-delete-conversation").click()
    owner.locator("#kb-really-delete").click()
    owner.get_by_text("Conversation deleted.").wait_for(timeout=10_000)
    assert web.service.conversations(alice) == []
    owner.locator("#kb-title").wait_for(state="hidden", timeout=10_000)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366x900", "390x844"])
def test_send_is_on_screen_without_scrolling(browser: Any, web: Running, size: tuple[int, int]) -> None:
    name = f"{size[0]}x{size[1]}"
    page = sign_in(browser, web, "admin", size=size)
    page.wait_for_timeout(800)
    for control in ("#kb-question", "#kb-send", "#kb-stop", "#kb-regenerate"):
        assert in_viewport(page, control), (name, control, page.locator(control).bounding_box())
    chat, listing = page.locator("#kb-chatbot").bounding_box(), page.locator("#kb-conversations").bounding_box()
    if size == PHONE:  # the conversation list sits below the chat, not above it
        assert listing["y"] > chat["y"] + chat["height"], (chat, listing)
    page.screenshot(path=SHOTS / f"20-chat-{name}-first-load.png")
    reply, web.engine.reply = web.engine.reply, "The cafeteria serves lunch at noon every weekday. " * 8 + "[1]"
    try:
        page.locator("#kb-new-conversation").click()  # (the page opened the latest one, which says the same)
        page.wait_for_function("() => !document.querySelector('#kb-chatbot .message')", timeout=10_000)
        answer = ask(page, "When does the cafeteria serve lunch?")
        wait_text(page, "#kb-chatbot", r"cafeteria serves", 20)
        stop = page.locator("#kb-stop")
        assert stop.is_enabled() and " stop" in f" {stop.get_attribute('class')}"  # red only while streaming
        assert in_viewport(page, "#kb-stop")
        page.screenshot(path=SHOTS / f"21-chat-{name}-streaming.png")
        page.locator("#kb-chatbot a.kb-open").last.wait_for(timeout=60_000)
    finally:
        web.engine.reply = reply
    idle = "() => { const b = document.querySelector('#kb-stop'); return b.disabled && !b.classList.contains('stop'); }"
    page.wait_for_function(idle, timeout=10_000)  # grey again once the answer is done
    assert "Sources" in answer.inner_text() and in_viewport(page, "#kb-send")
    page.screenshot(path=SHOTS / f"22-chat-{name}-answered.png")


def test_a_long_history_scrolls_in_its_own_box(browser: Any, web: Running) -> None:
    """Forty conversations: the list scrolls inside its box, and the page is no taller than the
    window (the list stretched it to 2,200 px, Rename and Delete far below the chat)."""
    admin = web.service.actor(None)
    web.service.add_user("erin", admin=False, groups=(), actor=admin, password="erin-password-1")
    PASSWORDS["erin"] = "erin-password-1"
    erin = web.service.actor("erin")
    for i in range(40):
        web.service.new_conversation(erin, f"Question number {i} about the travel policy")
    page = sign_in(browser, web, "erin")
    page.get_by_text("Question number 39").wait_for(timeout=10_000)
    listing = page.locator("#kb-conversations").bounding_box()
    height = page.evaluate("() => window.innerHeight")
    assert listing is not None and listing["height"] < 0.6 * height, listing
    assert page.evaluate("() => document.documentElement.scrollHeight") <= height + 40
    page.get_by_text("Question number 0 ").scroll_into_view_if_needed()  # the oldest is still reachable
    assert page.get_by_text("Question number 0 ").is_visible()
    page.screenshot(path=SHOTS / "26-long-history.png")


def test_stop_then_reload_keeps_the_question_and_the_partial_answer(browser: Any, web: Running) -> None:
    page = sign_in(browser, web, "bob")
    question = "When does the cafeteria serve lunch?"
    reply, web.engine.reply = web.engine.reply, "The cafeteria serves lunch at noon every weekday. " * 12 + "[1]"
    try:
        answer = ask(page, question)
        wait_text(page, "#kb-chatbot", r"cafeteria serves", 20)
        page.wait_for_timeout(600)
        page.locator("#kb-stop").click()
    finally:
        web.engine.reply = reply
    page.wait_for_timeout(1500)
    stopped = answer.inner_text()
    page.wait_for_timeout(1000)
    assert answer.inner_text() == stopped and "Sources" not in stopped  # nothing more arrived
    page.screenshot(path=SHOTS / "09-stopped.png")
    bob = web.service.actor("bob")
    conversation = web.service.conversations(bob)[0]
    asked, partial = web.service.messages(bob, conversation.id)
    assert asked.content == question and partial.checks["outcome"] == "stopped"
    assert partial.content.startswith("The cafeteria serves lunch") and "[1]" not in partial.content

    page.reload()
    page.get_by_text("Signed in as bob").wait_for(timeout=20_000)
    wait_text(page, "#kb-chatbot", r"this answer is incomplete", 20)
    shown = page.locator("#kb-chatbot").inner_text()
    assert question in shown and " ".join(partial.content.split()[:6]) in " ".join(shown.split())
    selected = page.locator("#kb-conversations input:checked")
    label = page.locator("#kb-conversations label:has(input:checked)")
    assert selected.count() == 1 and question in label.inner_text()  # its conversation is the one open
    page.screenshot(path=SHOTS / "09-stopped-after-reload.png")

    search = page.locator("#kb-search input, #kb-search textarea").first
    search.fill("no such words")
    page.wait_for_function("() => !document.querySelector('#kb-conversations input')", timeout=10_000)
    search.fill("CAFETERIA")  # titles and messages, any case
    page.locator("#kb-conversations input").first.wait_for(timeout=10_000)
    assert page.locator("#kb-conversations label").count() == 1


def test_regenerating_a_quoted_answer_says_why_not(browser: Any, web: Running) -> None:
    service, admin = web.service, web.service.actor(None)
    conversation = service.new_conversation(admin, "Quoted answer")
    service.store.add_message(conversation.id, admin.id, "user", "When does the cafeteria serve lunch?")
    quoted = {"outcome": "answered", "method": "extractive", "checked": []}
    service.store.add_message(conversation.id, admin.id, "assistant", "Lunch at noon.", found=True, checks=quoted)
    page = sign_in(browser, web, "admin")  # the page opens this, the latest conversation
    wait_text(page, "#kb-chatbot", "Lunch at noon", 10)
    page.locator("#kb-regenerate").click()
    toast = page.get_by_text("This answer quotes the documents; regenerating would give the same text")
    toast.wait_for(timeout=10_000)
    page.wait_for_timeout(600)  # the toast fades in
    page.screenshot(path=SHOTS / "26-regenerate-quoted-answer.png")
    assert len(service.messages(admin, conversation.id)) == 2


def test_the_empty_banner_goes_when_the_first_document_is_ready(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    memo = tmp_path_factory.mktemp("memo") / "memo.txt"
    memo.write_text("The office closes early on the last Friday of December.", encoding="utf-8")
    with serve(tmp_path_factory.mktemp("empty"), documents=False) as empty:
        watcher, admin = sign_in(browser, empty, "bob"), sign_in(browser, empty, "admin")
        for page in (watcher, admin):
            wait_text(page, "#kb-chat-notice", "no documents you can read yet", 10)
        watcher.screenshot(path=SHOTS / "17-empty-banner.png")
        assert admin.locator("#kb-samples").is_visible() and not watcher.locator("#kb-samples").is_visible()
        upload(admin, [memo], "18-first-upload.png", "18-first-upload-ready.png")
        admin.get_by_role("tab", name="Chat").click()
        gone = "() => !/no documents you can read/.test(document.querySelector('#kb-chat-notice').innerText)"
        admin.wait_for_function(gone, timeout=10_000)  # at once, on the uploader's page
        admin.locator("#kb-samples").wait_for(state="hidden", timeout=10_000)  # and the samples offer with it
        watcher.wait_for_function(gone, timeout=15_000)  # within a few seconds, on everyone else's
        watcher.screenshot(path=SHOTS / "19-banner-gone-without-reload.png")


def test_my_account_makes_an_api_key_for_the_openai_client_and_revokes_it(browser: Any, web: Running) -> None:
    import openai

    page = sign_in(browser, web, "bob")
    page.get_by_role("tab", name="My account").click()
    page.locator("#kb-create-key").click()
    key = page.locator("#kb-new-key textarea, #kb-new-key input").first
    key.wait_for(state="visible", timeout=10_000)
    page.wait_for_function(
        "() => /^kb-/.test(document.querySelector('#kb-new-key textarea, #kb-new-key input').value)", timeout=10_000
    )
    secret = key.input_value()
    wait_text(page, "#kb-my-keys", r"active", 10)
    page.screenshot(path=SHOTS / "23-my-api-key-created.png")
    client = openai.OpenAI(api_key=secret, base_url=f"{web.url}/v1", max_retries=0)
    assert [m.id for m in client.models.list()] == ["kb"]
    reply = client.chat.completions.create(
        model="kb", messages=[{"role": "user", "content": "When does the cafeteria serve lunch?"}]
    )
    assert "noon" in (reply.choices[0].message.content or "")

    choose_key = page.locator("#kb-chosen-key input")
    choose_key.click()
    page.get_by_role("option").first.click()
    page.locator("#kb-revoke-key").click()
    page.get_by_text("revoked; it no longer works").wait_for(timeout=10_000)
    wait_text(page, "#kb-my-keys", r"revoked", 10)
    page.screenshot(path=SHOTS / "24-my-api-key-revoked.png")
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_a_user_changes_their_own_password(browser: Any, web: Running) -> None:
    web.service.add_user("dora", admin=False, groups=(), actor=web.service.actor(None), password="dora-password-1")
    PASSWORDS["dora"] = "dora-password-1"
    try:
        page = sign_in(browser, web, "dora")
        page.get_by_role("tab", name="My account").click()
        page.locator("#kb-old-password input").fill("not-her-password")
        page.locator("#kb-my-new-password input").fill("dora-password-2")
        page.locator("#kb-repeat input").fill("dora-password-2")
        page.locator("#kb-change-password").click()
        page.get_by_text("current password is not right").wait_for(timeout=10_000)
        page.locator("#kb-old-password input").fill("dora-password-1")
        page.locator("#kb-change-password").click()
        page.get_by_text("Password changed").wait_for(timeout=10_000)
        page.screenshot(path=SHOTS / "25-password-changed.png")
        page.get_by_text("Knowledge base: sign in").wait_for(timeout=20_000)  # this session ended too
        assert web.service.sign_in("dora", "dora-password-2") is not None
        assert web.service.sign_in("dora", "dora-password-1") is None
    finally:
        PASSWORDS.pop("dora", None)


def test_a_member_does_not_see_another_groups_document(browser: Any, web: Running) -> None:
    page = sign_in(browser, web, "bob")
    page.get_by_role("tab", name="Documents").click()
    table = page.locator("#kb-documents")
    wait_text(page, "#kb-documents", "handbook[.]txt", 10)
    text = table.inner_text()
    page.screenshot(path=SHOTS / "08-member-documents.png")
    assert "handbook.txt" in text and "secret.txt" not in text, text
    assert FOOTLOCKER_PDF.name not in text, text  # alice shared it with her group only
    assert page.get_by_role("tab", name="Admin").count() == 0
    page.screenshot(path=SHOTS / "08-member-documents.png")
    response = page.request.get(f"{web.url}/documents/2/file")
    assert response.status == 404  # another group's document reads as missing


def test_hostile_document_text_does_not_run(browser: Any, web: Running, tmp_path: Path) -> None:
    evil = tmp_path / "heron.md"
    evil.write_text(HOSTILE, encoding="utf-8")
    page = sign_in(browser, web, "admin")
    upload(page, [evil], "10-hostile-upload.png", "11-hostile-ready.png")
    ask(page, "When is the launch of Project Heron planned?")
    page.locator("#kb-chatbot a.kb-open").last.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    page.screenshot(path=SHOTS / "12-hostile-answer.png")
    assert page.evaluate("window.pwned") is None and not page.dialogs
    assert "<script>window.pwned" in page.locator("#kb-chatbot").inner_text()  # shown as text
    assert page.locator("#kb-chatbot img[src='x']").count() == 0
    page.get_by_role("tab", name="Admin").click()  # admins see it; its tables were filled on load
    wait_text(page, "#kb-users", r"alice[\s\S]*bob", 10)
    page.screenshot(path=SHOTS / "13-admin.png", full_page=True)
