"""Hybrid retrieval on a real store (SQLite + FAISS) with the HashingEmbedder: permissions inside
both searches, fusion, near-duplicates, the keyword cache, the LangChain adapter, relevance."""

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.adapters.retriever import KnowledgeBaseRetriever
from app.retrieval import MetadataFilter, RetrievalConfig, Retriever, is_relevant
from app.retrieval.commands import asks_for_code
from app.retrieval.cover import asks_for_period_end
from app.retrieval.dedupe import suppress_near_duplicates
from app.retrieval.fusion import RankedList, reciprocal_rank_fusion
from app.retrieval.relevance import (
    BARE_RELEVANCE_MODEL,
    features,
    owner_absent,
    owners,
    unknown_latin_words,
    unknown_names,
)
from app.retrieval.segments import (
    BreakdownPageFinder,
    asks_for_segment_results,
    breakdown_measure,
    names_a_branded_line,
    states_revenue_breakdown,
    states_segment_results,
)
from app.retrieval.text import content_terms, is_mostly_cjk, split_guess, tokenize
from app.types import RetrievedChunk
from ingestion.embedders import HashingEmbedder
from ingestion.service import KnowledgeBase, StoreConfig
from store.records import StoredChunk

MakeKB = Callable[..., KnowledgeBase]
WriteText = Callable[..., Path]

PUBLIC = "\n\n".join(
    [
        "The cafeteria serves lunch at noon and closes at three.",
        "Travel expenses are reimbursed within thirty days of the claim.",
        "Parking permits are issued by the facilities team every January.",
    ]
)
# Built to rank first for the query in both searches: it is the query, repeated.
CANARY = "Zanzibar merger codename Bluefin acquisition price. " * 3
QUERY = "Zanzibar merger codename Bluefin acquisition price"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """One store for the read-only tests (ingesting costs seconds): a public handbook and a
    canary readable only by the board group. Tests must not change it."""
    root = tmp_path_factory.mktemp("secured")
    kb = KnowledgeBase.open(StoreConfig(data_dir=root / "data"), embedder=lambda: HashingEmbedder(64), writer=True)
    admin = kb.actor(None)
    kb.people.add_group("board", admin)
    kb.people.add_user("bob", admin=False, groups=(), actor=admin)
    kb.people.add_user("carol", admin=False, groups=("board",), actor=admin)
    (root / "handbook.txt").write_text(PUBLIC, encoding="utf-8")
    (root / "secret.txt").write_text(CANARY, encoding="utf-8")
    kb.ingest([root / "handbook.txt"], actor=admin)
    kb.ingest([root / "secret.txt"], actor=admin, groups=("board",))
    yield kb
    kb.close()


def test_a_user_never_receives_a_chunk_outside_their_groups(secured: KnowledgeBase) -> None:
    retriever = Retriever(secured)
    top = retriever.retrieve(QUERY, secured.actor("carol"), k=5)
    assert top[0].chunk.file_name == "secret.txt"  # the canary wins both searches for a reader
    assert top[0].dense_score == max(r.dense_score or 0 for r in top)
    assert top[0].keyword_score == max(r.keyword_score or 0 for r in top)
    for k in (1, 3, 10):
        found = retriever.retrieve(QUERY, secured.actor("bob"), k=k)
        assert found and all(r.chunk.file_name == "handbook.txt" for r in found)
    assert retriever.search(QUERY, secured.actor("bob")).features.unknown > 0.5  # not even term statistics leak


def test_keyword_statistics_ignore_hidden_documents(secured: KnowledgeBase) -> None:
    """BM25 scores a user sees are those of a knowledge base without the documents hidden from them."""
    retriever = Retriever(secured)
    bob = retriever.retrieve("lunch merger price", secured.actor("bob"), k=3)
    corpus = retriever.corpus.get(secured.reads.readable_chunk_ids(secured.actor(None)))
    allowed = secured.reads.readable_chunk_ids(secured.actor("bob"))
    alone = corpus.bm25.search(content_terms("lunch merger price"), corpus.bm25.allowed_mask(allowed), 3)
    assert [(r.chunk.id, r.keyword_score) for r in bob if r.keyword_score] == [(i, pytest.approx(s)) for i, s in alone]
    everyone = np.ones(corpus.bm25.size, dtype=bool)
    assert corpus.bm25.search(["bluefin"], everyone, 3)  # the index holds it; bob's mask hides it
    assert corpus.bm25.search(["bluefin"], corpus.bm25.allowed_mask(allowed), 3) == []


def test_weighted_reciprocal_rank_fusion() -> None:
    dense = RankedList([(1, 0.9), (2, 0.8), (3, 0.7)], weight=1.0)
    keyword = RankedList([(3, 12.0), (4, 9.0)], weight=1.0)
    fused = reciprocal_rank_fusion([dense, keyword], k=60)
    assert max(fused, key=fused.__getitem__) == 3  # found by both beats first in one
    assert fused[1] == pytest.approx(1 / 61) and fused[3] == pytest.approx(1 / 63 + 1 / 61)
    only_keyword = reciprocal_rank_fusion([RankedList(dense.hits, 0.0), keyword], k=60)
    assert set(only_keyword) == {3, 4}
    lighter = reciprocal_rank_fusion([dense, RankedList(keyword.hits, 0.01)], k=60)
    assert max(lighter, key=lighter.__getitem__) == 1  # a light keyword list no longer lifts chunk 3


def _chunk(i: int, document: int, text: str, start: int = 0) -> RetrievedChunk:
    stored = StoredChunk(i, document, f"d{document}.txt", i, "", text, 1, 1, start, start + len(text))
    return RetrievedChunk(stored, 1.0 / i)


def test_near_duplicates_are_suppressed() -> None:
    boiler = "Forward-looking statements involve risks and uncertainties that could cause results to differ."
    ranked = [
        _chunk(1, 1, boiler),
        _chunk(2, 2, boiler + " "),  # the same text in another document
        _chunk(3, 1, "x" * 40 + boiler[:60], start=10),  # overlaps chunk 1's span in the same document
        _chunk(4, 3, "Net sales rose 8 percent on higher iPhone demand."),
        _chunk(5, 3, "Operating expenses were flat.", start=500),
    ]
    kept = suppress_near_duplicates(ranked, k=3)
    assert [r.chunk.id for r in kept] == [1, 4, 5]
    chinese = [_chunk(6, 4, "战国无双3是由光荣和ω-force开发的"), _chunk(7, 5, "战国无双3是由光荣和ω-force开发的。")]
    assert len(suppress_near_duplicates(chinese, k=5)) == 1


def test_tokens_english_stop_words_and_chinese() -> None:
    assert content_terms("How did Apple's total net sales compare to revenues of $82,959?") == [
        "apple",
        "total",
        "net",
        "sale",
        "revenue",
        "82959",
    ]
    assert {"战国", "无双"} <= set(tokenize("《战国无双3》是由哪两个公司合作开发的？"))
    assert "的" not in content_terms("战国无双的开发商")
    # "is Brookfield going to own": the future's "going" was the question's rarest term, which the
    # quote answering it ("Brookfield own 51% and 49%, respectively, ...") had to hold
    going = content_terms("What share of Arizona Fab is Brookfield going to own?")
    assert going == ["share", "arizona", "fab", "brookfield"]


def test_a_plural_is_found_by_its_singular() -> None:
    """A question says "inventory" and "total liability", a balance sheet "Inventories" and "Total
    liabilities": each form is one term, so keyword search and the extractor find the one by the other."""
    for singular, plural in [
        ("inventory", "Inventories"),
        ("liability", "liabilities"),
        ("activity", "activities"),
        ("tax", "taxes"),
        ("loss", "losses"),
        ("business", "businesses"),
        ("revenue", "revenues"),
    ]:
        assert tokenize(singular) == tokenize(plural), (singular, plural)
    assert tokenize("bus status analysis") == ["bus", "status", "analysis"]  # no plural "s" to drop


def test_chinese_words_run_together_are_searched_as_the_dictionary_words_in_them(
    make_kb: MakeKB, write_text: WriteText
) -> None:
    """"要装哪个包" gives jieba's guess "要装", found in no chunk: it would count as a name the
    knowledge base holds nothing about. A guess the dictionary lacks is searched as its words;
    a dictionary word (高通, Qualcomm) found nowhere stays unknown."""
    assert split_guess("先装") == ["先", "装"] and split_guess("要装") == ["装"]
    assert split_guess("高通") is None and split_guess("软件") is None and split_guess("apt") is None
    kb = make_kb()
    admin = kb.actor(None)
    kb.ingest([write_text("zh.txt", "如果要使用 7z 命令，请安装 p7zip-full 软件包。")], actor=admin)
    found = Retriever(kb).search("同事发来的压缩包，要装哪个包？", admin)
    assert "要装" not in found.terms and "装" in found.terms
    assert "高通" in Retriever(kb).search("高通的压缩包？", admin).terms


def test_the_keyword_index_follows_new_documents(make_kb: MakeKB, write_text: WriteText) -> None:
    kb = make_kb()
    admin = kb.actor(None)
    kb.ingest([write_text("a.txt", PUBLIC)], actor=admin)
    retriever = Retriever(kb)
    retriever.retrieve("lunch", admin)
    retriever.retrieve("parking", admin)
    assert retriever.corpus.builds == 1  # nothing changed, nothing rebuilt
    kb.ingest([write_text("b.txt", "Quokka sightings are reported to the wildlife office.")], actor=admin)
    hits = retriever.retrieve("quokka sightings", admin, k=2)
    assert retriever.corpus.builds == 2 and hits[0].chunk.file_name == "b.txt"
    assert hits[0].keyword_score is not None
    kb.delete_documents("b.txt", admin)
    assert all(r.chunk.file_name == "a.txt" for r in retriever.retrieve("quokka sightings", admin))


def test_an_explicit_filter_restricts_before_ranking(secured: KnowledgeBase) -> None:
    retriever = Retriever(secured)
    carol = secured.actor("carol")
    assert {
        r.chunk.file_name for r in retriever.retrieve(QUERY, carol, filters=MetadataFilter(documents=("hand*",)))
    } == {"handbook.txt"}
    assert retriever.retrieve(QUERY, carol, filters=MetadataFilter(exclude_documents=("*.txt",))) == []


def test_the_langchain_adapter_returns_documents_for_its_user(secured: KnowledgeBase) -> None:
    adapter = KnowledgeBaseRetriever(retriever=Retriever(secured), actor=secured.actor("bob"), k=2)
    docs = adapter.invoke(QUERY)
    assert docs and all(d.metadata["document"] == "handbook.txt" for d in docs)
    assert {"chunk_id", "document", "page_start", "page_end", "score"} <= set(docs[0].metadata)
    assert docs[0].metadata["page_start"] == 1 and docs[0].page_content


def test_relevance_combines_similarity_with_the_questions_words(secured: KnowledgeBase) -> None:
    retriever = Retriever(secured)
    admin = secured.actor(None)
    answerable = retriever.search("When does the cafeteria serve lunch?", admin)
    unknown = retriever.search("What is the warranty period of the Quasar X9 drone?", admin)
    assert answerable.features.coverage > unknown.features.coverage
    assert unknown.features.unknown > 0.5
    assert unknown.features.fit == 0.0 and answerable.features.fit == 1.0  # "Quasar" is nowhere
    assert answerable.probability > unknown.probability and not unknown.relevant
    assert is_relevant("When does the cafeteria serve lunch?", answerable) == answerable.relevant
    assert not is_relevant("What is the warranty period of the Quasar X9 drone?", unknown.chunks)
    assert not is_relevant("anything", [])


def test_a_model_fitted_on_another_embedders_similarities_gives_way_to_the_bare_one(
    secured: KnowledgeBase,
) -> None:
    question = "When does the cafeteria serve lunch?"
    assert RetrievalConfig().relevance.embedder == "multilingual-e5-small-q4" != secured.embedder.name
    result = Retriever(secured).search(question, secured.actor(None))
    bare = features(content_terms(question), result.chunks)
    assert result.probability == pytest.approx(BARE_RELEVANCE_MODEL.probability(bare))
    assert result.relevant == is_relevant(question, result.chunks)
    anywhere = replace(RetrievalConfig().relevance, embedder=None)
    fitted = Retriever(secured, RetrievalConfig(relevance=anywhere)).search(question, secured.actor(None))
    assert fitted.probability == pytest.approx(anywhere.probability(fitted.features))


def test_questions_in_chinese_are_judged_by_the_chinese_relevance_model(
    make_kb: MakeKB, write_text: WriteText
) -> None:
    assert is_mostly_cjk("《战国无双3》是由哪两个公司合作开发的？") and is_mostly_cjk("NVIDIA在2023年第三季度的收入")
    assert not is_mostly_cjk("What was Apple's revenue in Q1 2023?") and not is_mostly_cjk("Apple (苹果) revenue in Q1")
    kb = make_kb()
    admin = kb.actor(None)
    kb.ingest([write_text("zh.txt", "《战国无双3》是由光荣和ω-force合作开发的动作游戏，2010年发售。")], actor=admin)
    default = RetrievalConfig()  # both models taken as fitted on this store's (hashing) embedder
    config = replace(
        default,
        relevance=replace(default.relevance, embedder=None),
        relevance_cjk=replace(default.relevance_cjk, embedder=None),
    )
    chinese = Retriever(kb, config).search("战国无双3是由哪两个公司开发的？", admin)
    assert chinese.probability == pytest.approx(config.relevance_cjk.probability(chinese.features))
    assert chinese.probability != pytest.approx(config.relevance.probability(chinese.features))
    english = Retriever(kb, config).search("Which companies developed Samurai Warriors 3?", admin)
    assert english.probability == pytest.approx(config.relevance.probability(english.features))
    strict = replace(config, relevance_cjk=replace(config.relevance_cjk, threshold=1.01, sentence_floor=None))
    assert not Retriever(kb, strict).search("战国无双3是由哪两个公司开发的？", admin).relevant
    # A sentence of the top chunks that means what the question asks passes, whatever the words say.
    floored = replace(config, relevance_cjk=replace(config.relevance_cjk, threshold=1.01, sentence_floor=0.9))
    said = "《战国无双3》是由光荣和ω-force合作开发的动作游戏，2010年发售。"
    assert Retriever(kb, floored).search(said, admin).relevant
    assert not Retriever(kb, floored).search("公司年会的抽奖规则是什么？", admin).relevant


def test_a_how_to_asking_for_a_command_passes_at_the_lower_floor_unless_it_names_what_we_lack(
    make_kb: MakeKB, write_text: WriteText
) -> None:
    """An everyday how-to ("开机特别慢 ... 用什么命令？") shares few words with the manual's sentence;
    what it asks for, a command, lets one similar sentence pass at `code_floor`. Not when it names a
    product the knowledge base never mentions (Kubernetes), nor when it asks for no command."""
    kb = make_kb()
    admin = kb.actor(None)
    manual = "用 systemd-analyze blame 命令可以列出开机时每个服务启动所花的时间，找出拖慢开机的服务。"
    kb.ingest([write_text("manual.txt", manual)], actor=admin)
    default = RetrievalConfig()
    strict = replace(default.relevance_cjk, embedder=None, threshold=1.01, sentence_floor=1.01, code_floor=None)
    how_to = "开机特别慢，想看看是哪个服务拖了后腿，用什么命令？"
    assert not Retriever(kb, replace(default, relevance_cjk=strict)).search(how_to, admin).relevant
    retriever = Retriever(kb, replace(default, relevance_cjk=replace(strict, code_floor=0.0)))
    assert retriever.search(how_to, admin).relevant
    assert not retriever.search("开机特别慢，想看看是 Kubernetes 哪个服务拖了后腿，用什么命令？", admin).relevant
    assert not retriever.search("开机特别慢，是哪个服务拖了后腿？", admin).relevant  # asks for no command
    # the floor is a similarity: a how-to about the manual's sentence clears a floor it reaches
    similarity = max(retriever.sentence_similarity(how_to, [manual]))
    reached = Retriever(kb, replace(default, relevance_cjk=replace(strict, code_floor=similarity - 0.01)))
    assert reached.search(how_to, admin).relevant


def test_questions_that_ask_for_a_command_file_or_package() -> None:
    for question in (
        "断线重新登录后，用什么命令重新连接之前的 screen 会话？",
        "之前下载过的旧 deb 包一般放在哪个目录？",
        "lsusb 这个工具在哪个软件包里？",
        "创建一个符号链接的命令怎么写？",
        "Which command lists the block devices?",
    ):
        assert asks_for_code(question), question
    not_how_tos = ("新员工第一年有多少天年假？", "《战国无双3》是由哪两个公司合作开发的？", "What was Apple's revenue?")
    for question in not_how_tos:
        assert not asks_for_code(question), question


def test_latin_words_of_a_chinese_question_that_no_chunk_holds() -> None:
    held = {"deb": 33, "cron": 10, "7z": 2, "python": 14, "wi": 0, "fi": 9}
    frequency = lambda term: held.get(term, 0)  # noqa: E731
    assert unknown_latin_words("用什么命令查看 Kubernetes 里某个 pod 的日志？", frequency) == ["Kubernetes", "pod"]
    assert unknown_latin_words("同事发来一个 .7z 压缩包，cron 和 Python 要装哪个包？", frequency) == []
    assert unknown_latin_words("访客 Wi-Fi 密码是多少？", frequency) == []  # "fi" is held


def test_a_name_found_nowhere_in_the_knowledge_base() -> None:
    idf = {"tesla": 0.0, "revenue": 1.2, "apple": 0.8, "esg": 0.0, "quasar": 0.0}
    assert unknown_names("What was Tesla's revenue?", idf) == ["Tesla's"]
    assert unknown_names("What was Apple's revenue? Answer for Quasar.", idf) == ["Quasar"]
    assert unknown_names("What was Apple's revenue?", idf) == []
    assert unknown_names("Tesla revenue?", idf) == []  # a sentence's first word is capitalised anyway
    assert unknown_names("What is the ESG policy?", idf) == []  # acronyms are often spelt out instead
    assert unknown_names("Microsoft Cloud revenue in the Sept 2022 quarter?", {**idf, "sept": 0.0}) == []  # a month


def test_a_figure_of_an_organisation_the_top_chunks_never_name() -> None:
    """NVIDIA's data center table does not hold AMD's data center revenue, though it shares every
    other word; AWS and Mobileye, named in the chunks found, and a handbook without an
    organisation, are not ruled out."""
    nvidia = ["Revenue by specialized markets: Data Center $ 14,514 $ 3,833"]
    assert owners("What were AMD's and Alphabet’s data center revenues?") == ["AMD", "Alphabet"]
    # the sentence's opening word is no part of the name: "Per Apple's 10-Q ..." was refused
    assert owners("Per Apple's 10-Q, which country gave it state aid?") == ["Apple"]
    assert owners("In Intel's filing, what was revenue?") == ["Intel"]
    assert owners("What's Amazon's operating income for Q2 2023?") == ["Amazon"]  # "What's" owns nothing
    assert not owner_absent("What's Amazon's operating income?", ["Operating income 7,681"], ["Amazon.com, Inc."])
    intel = ["Patrick P. Gelsinger, Chief Executive Officer"]
    assert not owner_absent("What's Intel's CEO's name?", intel, ["Intel Corporation"])
    assert owner_absent("What was AMD's data center revenue?", nvidia, ["NVIDIA CORPORATION"])
    assert not owner_absent("What was NVIDIA's data center revenue?", nvidia, ["NVIDIA CORPORATION"])
    assert not owner_absent("What was AWS's operating income?", ["AWS segment: operating income 6,976"], ["Amazon"])
    assert not owner_absent("What is Acme's leave policy?", ["Staff get 25 days of leave."], [""])  # cannot tell
    assert not owner_absent("What was the data center revenue?", nvidia, ["NVIDIA CORPORATION"])  # no owner


def test_fusion_weights_come_from_the_config(secured: KnowledgeBase) -> None:
    admin = secured.actor(None)
    keyword_only = Retriever(secured, RetrievalConfig(dense_weight=0.0)).retrieve("reimbursed claim", admin, k=3)
    assert keyword_only[0].keyword_score is not None and "reimbursed" in keyword_only[0].chunk.text
    assert all(r.keyword_score is not None for r in keyword_only)


def test_a_question_about_the_shares_outstanding_finds_the_cover_page(make_kb: MakeKB, write_text: WriteText) -> None:
    """The cover's share count shares few words with the question, the notes' weighted-average
    counts many: the cover chunks are a ranked list of their own for such questions."""
    kb = make_kb()
    admin = kb.actor(None)
    cover = (
        "Indicate by check mark whether the registrant is a shell company (as defined in Rule 12b-2 of the"
        " Exchange Act). Yes ☐ No ☒\n15,634,232,000 shares of common stock were issued and outstanding as of"
        " July 21, 2023."
    )
    note = (
        "Shares outstanding in July 2023: the weighted average shares outstanding, basic and diluted, in the"
        " quarter ended July 1, 2023 were 15,697 million and 15,775 million shares outstanding. "
    )
    kb.ingest([write_text("cover.txt", cover), write_text("notes.txt", note * 3)], actor=admin)
    question = "How many shares were outstanding in late July 2023?"
    found = Retriever(kb).retrieve(question, admin, k=2)
    assert found[0].chunk.file_name == "cover.txt"
    unlisted = Retriever(kb, RetrievalConfig(statement_weight=0)).retrieve(question, admin, k=2)
    assert unlisted[0].chunk.file_name == "notes.txt"  # without its list the cover ranks below the notes


def test_a_question_about_when_the_quarter_ended_finds_the_cover_page(make_kb: MakeKB, write_text: WriteText) -> None:
    """The question's one content word, "date", is on every page; the cover's "For the quarterly
    period ended ..." is a ranked list of its own for it."""
    kb = make_kb()
    admin = kb.actor(None)
    cover = (
        "FORM 10-Q\n(Mark One)\nQUARTERLY REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF"
        " 1934\nFor the quarterly period ended July 1, 2023\nCommission File Number 000-06217"
    )
    notes = "The date of the quarter's end and the record date of the dividend: see the date in the table below. "
    kb.ingest([write_text("cover.txt", cover), write_text("notes.txt", notes * 3)], actor=admin)
    question = "What date did the second quarter of 2023 end?"
    assert Retriever(kb).retrieve(question, admin, k=2)[0].chunk.file_name == "cover.txt"
    unlisted = Retriever(kb, RetrievalConfig(statement_weight=0)).retrieve(question, admin, k=2)
    assert unlisted[0].chunk.file_name == "notes.txt"  # without its list the cover ranks below the notes


def test_a_question_about_a_segment_finds_the_table_of_segment_results(make_kb: MakeKB, write_text: WriteText) -> None:
    """NVIDIA's segment note puts the segments' names over the columns and figures in the rows: its
    chunk shares few words with "图形部门的营业利润" while prose about the segment shares many."""
    kb = make_kb()
    admin = kb.actor(None)
    table = (
        "Compute &\nNetworking Graphics All Other Consolidated\n (In millions)\nThree Months Ended April 30, 2023\n"
        "Revenue $ 4,460 $ 2,732 $ — $ 7,192\nOperating income (loss) $ 2,160 $ 1,046 $ (1,066) $ 2,140\n"
        "Three Months Ended May 1, 2022\nRevenue $ 3,672 $ 4,616 $ — $ 8,288\n"
        "Operating income (loss) $ 1,606 $ 2,476 $ (2,214) $ 1,868"
    )
    prose = "The Graphics segment (图形部门) operating income and gross margin decreased in the quarter. "
    kb.ingest([write_text("segments.txt", table), write_text("prose.txt", prose * 3)], actor=admin)
    question = "图形部门的营业利润是多少？"
    assert states_segment_results(table) and not states_segment_results(prose * 3)
    assert asks_for_segment_results(question) and not asks_for_segment_results("What was Apple's revenue?")
    assert Retriever(kb).retrieve(question, admin, k=2)[0].chunk.file_name == "segments.txt"
    unlisted = Retriever(kb, RetrievalConfig(statement_weight=0)).retrieve(question, admin, k=2)
    assert unlisted[0].chunk.file_name == "prose.txt"  # without its list the table ranks below the prose
    # a line's revenue asked without the word "segment" is a row of the segments' table too
    revenue = "图形业务收入是多少？"
    assert not asks_for_segment_results(revenue)
    assert Retriever(kb).retrieve(revenue, admin, k=2)[0].chunk.file_name == "segments.txt"
    unlisted = Retriever(kb, RetrievalConfig(statement_weight=0)).retrieve(revenue, admin, k=2)
    assert unlisted[0].chunk.file_name == "prose.txt"


@pytest.mark.parametrize(
    ("lead_in", "breaks_down"),
    [
        ("Revenue, classified by significant product and service offerings, was as follows:", True),  # Microsoft
        ("Net sales by groups of similar products and services, which also have similar economic", True),  # Amazon
        ("Net sales disaggregated by significant products and services for the three-month periods", True),  # Apple
        ("The following table shows net sales by category for the three-month periods", True),
        ("pertaining to our revenue by each of the specialized markets we serve:", True),  # NVIDIA
        ("Revenue, classified by the major geographic areas in which our customers were located, was:", True),
        ("Unearned revenue by segment was as follows:", False),  # a balance, and the segment list's table
        ("We face intense competition across all markets for our products and services", False),
    ],
)
def test_pages_that_break_revenue_down_are_known_by_their_lead_in(lead_in: str, breaks_down: bool) -> None:
    assert states_revenue_breakdown(lead_in) is breaks_down


def test_the_table_under_a_breakdowns_lead_in_is_marked_though_the_lead_in_is_in_another_chunk() -> None:
    """Microsoft's lead-in ends one chunk, its table of figures fills the next, on the same page; a
    table of another page is not a breakdown, and only a table that prints changes serves a change asked."""
    rows = "\n".join(f"Line {n} $ {n},100 $ {n},200" for n in range(1, 6))
    changes = "\n".join(f"Line {n} $ {n},100 $ {n},200 {n}%" for n in range(1, 6))

    def chunk(i: int, text: str, page: int) -> StoredChunk:
        return StoredChunk(i, 1, "r.pdf", i, "", text, page, page, 1000 * i, 1000 * i + len(text), ())

    finder = BreakdownPageFinder()
    lead_in = "Total $ 1 $ 2\nRevenue, classified by significant product and service offerings, was as follows:"
    for c in [chunk(1, lead_in, 30), chunk(2, rows, 30), chunk(3, rows, 31), chunk(4, changes, 32)]:
        finder.add(c)
    finder.add(chunk(5, "Net sales by category:\n" + changes, 32))
    assert sorted(finder.chunks()) == [2, 4, 5] and sorted(finder.chunks_with_changes()) == [4, 5]


def test_a_line_named_with_the_companys_name_is_not_a_row_of_its_breakdown() -> None:
    """"Microsoft Cloud revenue" is a figure of its own, not the "Server products and cloud services" row."""
    companies = {"microsoft", "amazon"}
    assert names_a_branded_line("what was microsoft cloud revenue in the dec 2022 quarter?", companies, ["cloud"])
    assert not names_a_branded_line("What was Microsoft's gaming revenue?", companies, ["gaming"])
    assert names_a_branded_line("How much did Microsoft Cloud make?", companies, ["cloud", "make"])
    # "book" is what the company did, not a line it names: the breakdown is searched for "gaming"
    asked = "how much gaming revenue did microsoft book in the january-march 2023 quarter?"
    assert not names_a_branded_line(asked, companies, ["gaming", "book"])


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("What date did Intel's second quarter of 2023 end?", True),
        ("When did Microsoft's fiscal quarter end?", True),
        ("苹果2022财年第三季度是哪天结束的？", True),
        ("How much cash did Apple have at the end of the quarter?", False),  # a balance at the end, not the date
        ("When was the report signed?", False),
        # the end named to say which report, the date asked of something else
        ("Per Apple's 10-Q for the quarter ended July 1, 2023, when was the court hearing held?", False),
    ],
)
def test_which_questions_ask_when_the_period_ended(question: str, asks: bool) -> None:
    assert asks_for_period_end(question) is asks


def test_a_chunk_only_the_keyword_search_found_gets_its_similarity_too(
    make_kb: MakeKB, write_text: WriteText
) -> None:
    """The gate reads the best similarity among what was found; a chunk that came from the keyword
    list alone once counted as similarity 0 (a Chinese question's signature page was refused)."""
    kb = make_kb()
    admin = kb.actor(None)
    topics = ["lunch", "parking", "travel", "laptops", "holidays", "badges", "printers", "visitors"]
    for i, topic in enumerate(topics):
        kb.ingest([write_text(f"{i}.txt", f"Notes on {topic} number {i}. " * 4)], actor=admin)
    kb.ingest([write_text("rare.txt", "Quokka " + "office plants watering schedule. " * 6)], actor=admin)
    narrow = Retriever(kb, RetrievalConfig(candidates_factor=1))
    question = "quokka notes on lunch number 0"
    found = narrow.retrieve(question, admin, k=3)
    assert any(r.chunk.file_name == "rare.txt" for r in found)  # by its rare word
    vector = kb.embedder.embed_query(question)
    index = kb.reads.index_for(kb.reads.readable_chunk_ids(admin))
    for r in found:
        expected = dict(index.search(vector, 1, np.array([r.chunk.id], dtype=np.int64)))[r.chunk.id]
        assert r.dense_score == pytest.approx(expected)


def test_a_rows_measure_is_its_breakdowns_until_the_table_ends() -> None:
    lead_in = "Revenue, classified by the major geographic areas, was as follows:\n(In millions)\n"
    assert breakdown_measure(lead_in + "United States $ 26,007\n") == "Revenue"
    assert breakdown_measure("Net sales by groups of similar products and services is as follows:\n") == "Net sales"
    assert breakdown_measure(lead_in + "United States $ 1\nTotal $ 2\nOperating income\n") is None  # another table
    assert breakdown_measure("Operating income by segment\n") is None
