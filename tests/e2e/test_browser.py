"""The web page in headless Chromium (Debian's, driven by Playwright): sign in, upload a real PDF and
watch it become ready, ask, see the answer stream in and cite the right page, open the PDF there;
a member does not see another group's document; hostile document text does not run. Screenshots
of each step go to tests/e2e/screenshots/."""

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


def sign_in(browser: Any, web: Running, name: str, shot: str | None = None) -> Any:
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
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


def test_stop_ends_the_answer_and_keeps_nothing(browser: Any, web: Running) -> None:
    page = sign_in(browser, web, "bob")
    reply, web.engine.reply = web.engine.reply, "The cafeteria serves lunch at noon every weekday. " * 12 + "[1]"
    try:
        answer = ask(page, "When does the cafeteria serve lunch?")
        wait_text(page, "#kb-chatbot", r"cafeteria serves", 20)
        page.locator("#kb-stop").click()
    finally:
        web.engine.reply = reply
    page.wait_for_timeout(1500)
    stopped = answer.inner_text()
    page.wait_for_timeout(1000)
    assert answer.inner_text() == stopped and "Sources" not in stopped  # nothing more arrived
    page.screenshot(path=SHOTS / "09-stopped.png")
    assert all(
        not web.service.messages(web.service.actor("bob"), c.id)
        for c in web.service.conversations(web.service.actor("bob"))
    )


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
