"""A question that names no company but one of its brands ("How much did Xbox hardware revenue
fall last quarter?", "AWS 的营业利润") names the company: a name that most of one company's
documents use and no other company's document does is that company's mark.

Learned from the chunks the asking user may read, so it needs no list of products and reveals
nothing they cannot read. A word several companies use names no one, nor does one document's own
vocabulary, nor a common word that happens to occur in one company's filings only ("budget",
"spent"): the documents must write it as a name, capitalised.
"""

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import numpy.typing as npt

from app.retrieval.corpus import Corpus
from app.retrieval.metadata import DocumentFacts

# Of a company's readable documents, the share that must use the name: a brand appears in each
# filing's business overview, a passing word in one or two.
_SHARE_OF_ITS_DOCUMENTS = 0.6
_MIN_DOCUMENTS = 2
_CHUNKS_READ = 3  # to see how the documents write the word


def brands_company(
    question: str,
    terms: Iterable[str],
    corpus: Corpus,
    mask: npt.NDArray[np.bool_],
    visible: Mapping[int, DocumentFacts],
    texts: Callable[[list[int]], list[str]],
) -> tuple[str, ...]:
    """The significant words of the one organisation whose brand the question names in Latin
    letters; () when it names none or brands of two. `texts` reads chunks by id."""
    by_company: dict[str, set[int]] = defaultdict(set)
    for document_id, facts in visible.items():
        by_company[_company(facts)].add(document_id)
    found: set[str] = set()
    for term in dict.fromkeys(terms):
        # as the question writes it: a glossary's English for a Chinese word ("手机": iphone) is a guess
        if not (term.isascii() and term.isalpha()) or not re.search(rf"\b{term}\b", question, re.I):
            continue
        holders = corpus.documents_holding(term, mask)
        companies = {_company(visible[d]) for d in holders if d in visible}
        if len(companies) != 1 or len(holders) < _MIN_DOCUMENTS:
            continue
        (company,) = companies
        if company and len(holders) >= _SHARE_OF_ITS_DOCUMENTS * len(by_company[company]):
            chunk_ids = [int(i) for i in corpus.chunks_holding(term, mask)[:_CHUNKS_READ]]
            if _written_as_a_name(term, texts(chunk_ids)):
                found.add(company)
    return tuple(found.pop().split()) if len(found) == 1 else ()


def _company(facts: DocumentFacts) -> str:
    return " ".join(facts.company_phrase)  # "" for a document of no known organisation


def _written_as_a_name(term: str, texts: list[str]) -> bool:
    """Most of its occurrences have a capital: "Xbox", "iPad", "AWS", not "budget"."""
    seen = [m.group(0) for text in texts for m in re.finditer(rf"\b{term}\b", text, re.I)]
    return bool(seen) and 3 * sum(w != w.lower() for w in seen) >= 2 * len(seen)
