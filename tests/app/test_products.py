"""A question for a product ("what chip ...", "哪款芯片") asks for its name, not a figure, though it
names figures of its own ("A100", "2023"): a sentence answers it only if it names a model or a name
that the question does not."""

from app.chain.extract import Extractor, Question
from app.chain.verify import AnswerChecker
from tests.app.test_verify import _pages_as_sources


def test_a_product_asked_is_a_name_whatever_figures_the_question_holds() -> None:
    assert Question.parse("what chip is in the new mac pro apple announced around june 2023?").wants == "product"
    assert Question.parse("英伟达卖给中国客户的是哪款芯片？").wants == "product"
    assert Question.parse("How much did Apple's Mac sales drop in 2023?").wants == "figure"


def test_what_chip_is_answered_by_the_line_naming_it() -> None:
    """Round 13: "what chip ..." was taken for a figure question, and no sentence of page 17 was
    quoted ("No single passage answers this")."""
    sources = _pages_as_sources("2023 Q3 AAPL.pdf", "Apple Inc. | 10-Q", 17)
    extracted = Extractor().extract("what chip is in the new mac pro apple announced around june 2023?", sources)
    assert extracted is not None and "Mac Pro , powered by the new M2 Ultra chip" in extracted.text


def test_a_sentence_naming_only_the_products_the_question_names_does_not_answer() -> None:
    """Asked what NVIDIA sold instead of the A100, the sentence on the A100's license requirements
    names only the question's own model; the one on "our new A800 offering" names another."""
    asked = Question.parse(
        "after the us restricted A100 exports to china in 2022, what chip did nvidia sell chinese customers instead?"
    )
    sources = _pages_as_sources("2022 Q3 NVDA.pdf", "NVIDIA Corporation | 10-Q", 27)
    found = Extractor().candidates(asked, sources)
    a800 = next(c for c in found if "A800" in c.text)
    a100 = [c for c in found if "A100" in c.quote and "A800" not in c.quote]
    assert a800.holds and a100 and not any(c.holds for c in a100)


def test_a_generated_answer_to_a_product_question_must_name_a_product() -> None:
    """The bundled model answered it with page 27's sentences on the new requirements' impact,
    every word on the page and no chip in them; shown as an answer."""
    sources = _pages_as_sources("2022 Q3 NVDA.pdf", "NVIDIA Corporation | 10-Q", 27)
    question = "after the us restricted A100 exports to china in 2022, what chip did nvidia sell chinese customers"
    question += " instead?"
    copied = (
        "The new requirements may have a disproportionate impact on NVIDIA and may disadvantage NVIDIA against "
        "certain of our competitors who sell products that are not subject to the new restrictions. [1]"
    )
    [dropped] = AnswerChecker(sources).check(copied, question)
    assert not dropped.verified and "names no product" in dropped.reason
    named = "We have engaged with customers in China to satisfy their demand with products not subject to the new"
    named += " license requirements, such as our new A800 offering. [1]"
    [kept] = AnswerChecker(sources).check(named, question)
    assert kept.verified, kept
