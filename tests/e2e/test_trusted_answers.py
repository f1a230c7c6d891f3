"""The five questions of the first version's bug report, asked in the web page of the real app (the
real retriever and gate, the bundled model, extractive answers) over the same three 10-Q filings, in
one conversation as a user would: each shows the right figure or name with its unit, period and page
(the issue allows an honest 'could not find a verified answer'; these four are answered, so the test
asks for the answer), none shows a name or figure that its cited pages do not hold, and the
unanswerable one is 'not in the knowledge base'.
Screenshots go to tests/e2e/screenshots/trust-*.png.

The store is embedded with the hashing embedder so that the three filings (134 pages) ingest in
seconds; retrieval still runs every stage (keyword, metadata, statement pages, the gate)."""

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
import uvicorn

from app.chain.facts import Passage, facts_of, unsupported
from app.settings import Settings
from tests.e2e.test_browser import SHOTS, ask, sign_in
from tests.ui.server import PASSWORDS, Running, free_port

CHROMIUM = shutil.which("chromium")
SEC = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "sec-10-q" / "docs"
FILINGS = ("2023 Q3 AAPL.pdf", "2023 Q3 AMZN.pdf", "2023 Q3 INTC.pdf")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is missing: apt-get install chromium"),
    pytest.mark.skipif(not all((SEC / f).is_file() for f in FILINGS), reason="the shared sec-10-q filings are missing"),
]

# question -> (what a right answer shows: the figure or name first, then unit and period; the filing)
RIGHT = {
    "What was Apple's total net sales in the quarter?": (["81,797", "million", "July 1, 2023"], FILINGS[0]),
    "How much cash did Amazon have at the end of the quarter?": (
        ["49,605", "million", "September 30, 2023"],
        FILINGS[1],
    ),
    "Who is Intel's CEO?": (["Gelsinger"], FILINGS[2]),
    "苹果公司本季度的净销售额是多少？": (["81,797", "million"], FILINGS[0]),
}
UNANSWERABLE = "What is our company's parental leave policy?"
NOT_FOUND = "This is not in the knowledge base."
UNVERIFIED = "I could not find a verified answer"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    from app.accounts import Accounts
    from app.wiring import open_knowledge_base, open_service
    from ui.server import create_web_app

    data_dir = tmp_path_factory.mktemp("trust") / "data"
    settings = Settings(data_dir=data_dir, embedder="hashing-256", _env_file=None)  # type: ignore[call-arg]
    with open_knowledge_base(writer=True, embedder=True, settings=settings) as kb:
        admin = kb.actor(None)
        Accounts(kb).set_password("admin", PASSWORDS["admin"], admin)
        results = kb.ingest([SEC / f for f in FILINGS], actor=admin)
        assert all(r.outcome == "ok" for r in results), results
    with open_service(settings) as service:  # the bundled model, the real retriever and gate
        assert service.chain.settings.answer_mode == "extractive"
        web = create_web_app(service, settings)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield Running(f"http://127.0.0.1:{port}", service, service.kb, None, data_dir, web)  # type: ignore[arg-type]
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _page_text(name: str, page: int) -> str:
    return pypdf.PdfReader(SEC / name).pages[page - 1].extract_text()


def _final(page: Any, question: str) -> tuple[str, list[tuple[str, int]]]:
    """Ask, wait for the final answer (sources, or a plain refusal), return its text and citations."""
    before = page.locator("#kb-chatbot a.kb-open").count()
    answer = ask(page, question)
    page.wait_for_function(
        "([before, nf]) => { const bots = document.querySelectorAll('#kb-chatbot .message.bot');"
        " const last = bots[bots.length - 1];"
        " return last && (document.querySelectorAll('#kb-chatbot a.kb-open').length > before"
        " || last.innerText.includes(nf)); }",
        arg=[before, NOT_FOUND],
        timeout=240_000,
    )
    page.wait_for_timeout(300)
    links = answer.locator("a.kb-open")
    cited = []
    for i in range(links.count()):
        name, number = re.match(r"(.+), page (\d+)$", links.nth(i).inner_text()).groups()  # type: ignore[union-attr]
        cited.append((name, int(number)))
    return answer.inner_text(), cited


def test_the_five_questions_show_the_right_figure_or_say_they_could_not_verify(browser: Any, app: Running) -> None:
    page = sign_in(browser, app, "admin")
    for i, (question, (right, file_name)) in enumerate(RIGHT.items(), start=1):
        text, cited = _final(page, question)
        page.screenshot(path=SHOTS / f"trust-{i}.png", full_page=True)
        answer = text.split("Sources")[0].split("Most relevant passages")[0]
        # "could not verify" would be honest, but these four are answered: a regression shows here
        assert UNVERIFIED not in answer and all(part in answer for part in right), (question, answer)
        # the right filing, a page that prints the answer (the statement page or another one that
        # repeats the figure), and nothing shown that the cited pages do not hold
        assert cited and all(name == file_name for name, _ in cited), (question, cited)
        pages = [Passage(_page_text(name, number)) for name, number in cited]
        assert any(all(part in p.text for part in right[:1]) for p in pages), (question, cited)
        assert unsupported(facts_of(answer.replace("以下为文档原文（英文），未经翻译：", "")), pages) == [], answer

    text, cited = _final(page, UNANSWERABLE)
    page.screenshot(path=SHOTS / "trust-5.png", full_page=True)
    assert NOT_FOUND in text and not cited
