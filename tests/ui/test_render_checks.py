"""What the page shows of an answer's check: removed sentences with their reasons (escaped: they
are the model's words), and 'most relevant passages' when nothing could be verified."""

from ui.render import answer_markdown

PASSAGE = {
    "n": 1,
    "document": "2023 Q3 INTC.pdf",
    "document_id": 3,
    "page": 52,
    "snippet": "Patrick P. Gelsinger Chief Executive Officer and Director.",
    "sentence": "Patrick P. Gelsinger Chief Executive Officer and Director.",
    "score": 0.5,
}


def test_removed_sentences_are_listed_with_reasons_and_escaped() -> None:
    checks = {
        "outcome": "unverified",
        "method": "",
        "checked": [
            {
                "text": "The CEO of Intel is Elon Musk. <img src=x onerror=alert(1)>",
                "verified": False,
                "reason": "Elon, Musk is in none of any source",
                "sources": [],
            }
        ],
    }
    shown = answer_markdown("I could not find a verified answer.", [PASSAGE], checks)
    assert "Most relevant passages" in shown and "Sources" not in shown
    assert "1 sentence of the model" in shown and "answer removed by the check against the sources" in shown
    assert "Elon, Musk is in none of any source" in shown
    assert "<img" not in shown and "&#60;img" in shown
    assert shown.index("Most relevant passages") < shown.index("kb-dropped")


def test_a_verified_answer_shows_sources_and_no_removal_line() -> None:
    checks = {"outcome": "answered", "method": "extractive", "checked": []}
    shown = answer_markdown("Patrick P. Gelsinger [1]", [PASSAGE], checks)
    assert "Sources" in shown and "kb-dropped" not in shown
