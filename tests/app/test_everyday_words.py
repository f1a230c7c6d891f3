"""Everyday words for what the filings say in their own: "profit" is income, and a Chinese question
about a fine or a patent suit is searched in the filings' English.
Round 14's questions, on real pages of the shared filings."""

import pytest

from app.chain.extract import Extractor
from app.chain.facts import ASKS_FOR_FIGURE
from app.retrieval.changes import asks_for_change
from app.retrieval.glossary import expanded_terms, named_segments
from app.retrieval.text import joined_cjk
from tests.app.test_verify import _pages_as_sources


@pytest.mark.parametrize(
    ("question", "english"),
    [
        ("亚马逊在意大利被反垄断机构罚了多少钱？", {"italy", "antitrust", "competition", "fine"}),
        ("英特尔跟VLSI的专利官司，法院判英特尔赔多少钱？", {"patent", "lawsuit", "court"}),
        ("亚马逊到2023年6月底还有多少没确认的股权激励费用？", {"unrecognized", "stock", "compensation"}),
        ("did microsoft's profit go down in the sept 2022 quarter? by how much?", {"income"}),
        ("苹果2023年7月那个季度的10-Q是谁签的字？", {"signed"}),  # the signature page's word
        ("这份季报上的签名是谁的？", {"signed", "signature"}),
        ("英特尔2023年第一季度亏了多少钱？", {"net", "loss"}),  # "how much did it lose"
        ("微软上个季度从领英赚了多少钱？", {"linkedin"}),
        ("苹果2023年6月底有多少现金？", {"cash", "equivalent"}),  # the balance, not any cash
        ("亚马逊2023年9月底现金有多少？", {"cash", "equivalent"}),
        # the lines and products the filings name in English, as Chinese speakers call them
        ("苹果那个季度可穿戴设备、家居和配件卖了多少钱？", {"wearable", "home", "accessory", "net", "sale"}),
        ("苹果手机卖了多少钱？", {"apple", "iphone"}),
        ("平板电脑的销售额降了多少？", {"ipad", "decrease"}),
        ("亚马逊云科技的营业利润是多少？", {"aws", "amazon", "web", "operating", "income"}),
        ("英特尔笔记本电脑芯片的收入是多少？", {"notebook", "chip"}),
        ("英特尔台式机收入掉了多少？", {"desktop", "decrease"}),
        ("微软Xbox游戏机硬件收入降了多少？", {"xbox", "hardware", "decrease"}),
        ("微软服务器产品和云服务收入", {"server", "product", "cloud", "service"}),
        ("微软收购动视暴雪花了多少钱？", {"activision", "blizzard"}),
        ("英特尔的执行长是谁？", {"chief", "executive", "officer"}),  # Taiwan's word for CEO
        ("英伟达的财务长是谁？", {"chief", "financial", "officer"}),
        ("微软2023年9月底的长期债务余额是多少？", {"long", "debt", "balance"}),
        ("how much of microsoft's revenue came from the US in the march 2023 quarter?", {"united"}),  # a place
        # the filings' own word for a fall ("decreased"), and the quarter as Intel writes it ("Q3 2023")
        ("英特尔2023年第三季度总收入比去年同期降了多少？", {"total", "revenue", "decreased", "q3"}),
        ("英特尔2023年二季度营收下滑了多少", {"decreased", "q2"}),
    ],
)
def test_a_question_is_searched_in_the_filings_words_too(question: str, english: set[str]) -> None:
    assert english <= set(expanded_terms(question))


def test_gross_profit_keeps_its_own_words() -> None:
    assert "income" not in expanded_terms("what was apple's gross profit in the quarter?")


def test_us_the_pronoun_is_no_place() -> None:
    assert "united" not in expanded_terms("tell us about apple's revenue") and "united" in expanded_terms("U.S. sales")


def test_a_row_under_a_breakdowns_lead_in_is_a_line_of_the_measure_it_names() -> None:
    """"United States $ 26,007" names no measure; its lead-in ("Revenue, classified by the major
    geographic areas") does, and the company's "Total revenue" on the statement page won."""
    sources = _pages_as_sources("2023 Q2 MSFT.pdf", "Microsoft Corporation | 10-Q", 3, 29)
    question = "how much of microsoft's revenue came from the US in the march 2023 quarter?"
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and extracted.text.startswith("United States: $26,007 million")


def test_a_profit_asked_is_the_filings_net_income_and_a_fall_asked_is_not_a_rise() -> None:
    """Page 34's summary: operating income up 6%, net income down 14%; asked whether profit went down."""
    sources = _pages_as_sources("2022 Q3 MSFT.pdf", "Microsoft Corporation | 10-Q", 34)
    question = "did microsoft's profit go down in the sept 2022 quarter? by how much?"
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and extracted.text.startswith("Net income: down 14%")


@pytest.mark.parametrize(
    ("question", "lines"),
    [
        ("how much did nvidia's professional visualization revenue fall?", "professional visualization"),
        ("What was NVIDIA's Compute & Networking revenue?", "compute networking"),
        ("Apple's net sales in Greater China last quarter?", "greater china"),  # not China as well
        ("英伟达游戏业务收入多少？", "gaming"),
        ("What was NVIDIA's revenue in the quarter?", ""),
        ("英伟达来自台湾的收入是多少？", "taiwan"),  # a region of NVIDIA's revenue table
        ("苹果那个季度在印度卖了多少钱？", "india"),  # one no table has: the total is no answer
        ("美国国税局要求微软补缴多少税款？", ""),  # the country's authority, not sales there
    ],
)
def test_the_business_line_a_question_names_in_either_language(question: str, lines: str) -> None:
    assert named_segments(question) == lines


def test_sales_in_a_country_no_table_names_are_not_the_companys_total() -> None:
    """Apple reports no sales for India: its "Net sales" row (page 4) was answered as India's."""
    sources = _pages_as_sources("2023 Q3 AAPL.pdf", "Apple Inc. | 10-Q", 4)
    extracted = Extractor().extract("苹果2023年4-6月那个季度在印度卖了多少钱？", sources)
    assert extracted is None or "Net sales" not in extracted.text


HEADERS = {"AAPL": "Apple Inc. | 10-Q", "MSFT": "Microsoft Corporation | 10-Q"}  # as ingestion titles them


@pytest.mark.parametrize(
    ("question", "name", "pages", "answer"),
    [
        # p20 has Services' gross margin ($14,965 million) under the same words; p4 the net sales
        (
            "How much did Apple make from Services in the June 2023 quarter?",
            "2023 Q3 AAPL.pdf",
            (20, 4),
            "Services: $21,213 million",
        ),
        # p27's rows are named only "LinkedIn" and "Windows" under "Revenue, classified by significant
        # product and service offerings, was as follows:"; p32's sentence names LinkedIn and "Dynamics 365"
        (
            "How much did Microsoft earn from LinkedIn in the quarter ended September 30, 2023?",
            "2023 Q3 MSFT.pdf",
            (32, 27),
            "LinkedIn: $3,913 million",
        ),
    ],
)
def test_what_a_company_makes_or_earns_from_a_line_is_its_revenue(
    question: str, name: str, pages: tuple[int, ...], answer: str
) -> None:
    sources = _pages_as_sources(name, HEADERS[name[8:12]], *pages)
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and answer in extracted.text, extracted


def test_made_from_is_the_filings_revenue_and_no_word_of_its_own() -> None:
    terms = set(expanded_terms("How much did Amazon make from AWS?"))
    assert {"revenue", "sale"} <= terms and "make" not in terms
    other = set(expanded_terms("Did Amazon make any acquisitions in 2023?"))
    assert "make" in other and "revenue" not in other


def test_a_row_naming_part_of_the_name_asked_is_another_lines() -> None:
    """p27: "Server products and cloud services" under "Revenue" shares "cloud" and "revenue" with
    the question; the sentence on the same page names Microsoft Cloud and gives its $31.8 billion."""
    sources = _pages_as_sources("2023 Q3 MSFT.pdf", "Microsoft Corporation | 10-Q", 27)
    question = "How much revenue did Microsoft Cloud bring in during the quarter ending September 2023?"
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and "$31.8 billion" in extracted.text, extracted


def test_the_sentence_leading_into_a_table_names_its_rows() -> None:
    """ "Revenue, classified by significant product and service offerings, was as follows:" over
    rows named only "Windows" and "LinkedIn"."""
    from app.chain.tables import table_rows
    from tests.app.test_verify import _page

    rows = {row.label: row for row in table_rows(_page("2023 Q3 MSFT.pdf", 27))}
    assert rows["LinkedIn"].heading == rows["Windows"].heading == "Revenue"


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        # "down $469 million" states the drop asked for, as "decreased 3%" does; CCG's sentence names
        # desktops only as the cause of the client group's fall
        ("How much did Intel's desktop revenue drop in Q3 2023?", "Desktop revenue was $2.8 billion, down $469"),
        # 笔记本电脑 is Intel's Notebook line: its sentence, not the company's net revenue row on page 6
        ("英特尔2023年第三季度笔记本电脑芯片的收入是多少？", "Notebook revenue was $4.5 billion"),
    ],
)
def test_a_client_line_asked_in_either_language_is_its_own_sentence(question: str, sentence: str) -> None:
    sources = _pages_as_sources("2023 Q3 INTC.pdf", "Intel Corporation | 10-Q", 26, 34, 6)
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and sentence in extracted.text


def test_a_glossed_word_adds_no_english_that_names_something_else() -> None:
    """"Internal Revenue Service" would make a tax question match every revenue line (a dev question
    on the IRS's NOPA got Microsoft's revenue row); "software" in 软件包 would pull the manual's
    package tables towards any text saying "software" (a dev question on etckeeper lost its line)."""
    assert {"irs", "additional", "tax"} <= set(expanded_terms("美国国税局要求微软补缴多少税款？"))
    assert "revenue" not in expanded_terms("美国国税局要求微软补缴多少税款？")
    assert "software" not in expanded_terms("有什么现成的软件包？")


@pytest.mark.parametrize(
    ("question", "figure"),
    [
        ("苹果卖了几部手机？", True),
        ("公司一共有几个部门？", True),
        ("时间差了好几个小时，怎么改时区？", False),  # "several hours"
        ("一个几十 G 的大文件，用什么命令切开？", False),  # "tens of gigabytes"
        ("几乎每次开机都很慢，怎么查？", False),  # "almost"
    ],
)
def test_ji_asks_how_many_unless_it_says_several_or_almost(question: str, figure: bool) -> None:
    assert bool(ASKS_FOR_FIGURE.search(question)) is figure


def test_chinese_words_broken_over_lines_are_joined_and_nothing_else() -> None:
    assert joined_cjk("由哪个进程打\n开。 See fuser(1)\nfor more") == "由哪个进程打开。 See fuser(1)\nfor more"
    assert joined_cjk("安装 lsof 软件包") == "安装 lsof 软件包"  # a Latin name keeps its spaces


def test_sold_off_is_no_fall() -> None:
    """"卖掉了" sold receivables: its "掉了" says no fall ("收入掉了多少"), which would search for one."""
    question = "英特尔2023年一季度通过无追索权保理卖掉了多少应收账款？"
    terms = set(expanded_terms(question))
    assert "sold" in terms and not {"decrease", "decreased"} & terms
    assert not asks_for_change(question) and asks_for_change("英特尔收入掉了多少？")
