"""Asked for a figure of something the question names ("in China", "Gaming"), a generated sentence
giving a figure must say it is that thing's, or cite the passage sentence that does."""

from app.chain.verify import AnswerChecker
from app.types import Source
from tests.app.test_chain import chunk, hit

STATEMENT = chunk(
    "Net sales (revenue):\nNorth America $ 82,546 $ 74,430\nInternational 29,697 27,065\nAWS 22,140 19,739\n"
    "Consolidated $ 134,383 $ 121,234\n",
    cid=3,
    name="2023 Q2 AMZN.pdf",
)


def _checked(reply: str, question: str) -> list:
    return AnswerChecker([Source(1, hit(STATEMENT))]).check(reply, question)


def test_a_figure_not_said_to_be_the_named_things_is_dropped() -> None:
    """ "The source of revenue is: 121,234. [1]" is on the page (the year-ago consolidated net sales)
    and says nothing of China, which no filing gives a figure for."""
    [claim] = _checked(
        "The source of revenue is: 121,234. [1]", "How much revenue did AWS generate in China in Q2 2023?"
    )
    assert not claim.verified and claim.reason == "its figure is not said to be china’s"


def test_a_figure_of_the_named_thing_is_kept_whether_the_answer_or_its_passage_names_it() -> None:
    question = "What were Amazon's net sales in North America in Q2 2023?"
    [named] = _checked("North America net sales were $82,546 million. [1]", question)
    assert named.verified, named.reason
    [by_the_passage] = _checked("Net sales were $82,546 million. [1]", question)  # its row names North America
    assert by_the_passage.verified, by_the_passage.reason
    [another_line] = _checked("Net sales were $29,697 million. [1]", question)  # International's
    assert not another_line.verified and "north" in another_line.reason
