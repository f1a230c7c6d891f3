"""What a question is about, as against how it asks: the terms an answer must speak of.

A quote or a checked answer must hold the question's rarest term ("What is the procedure for
reporting a lost laptop?" is not answered by a sentence on disclosure procedures). The rarest term
of a long analyst question is often a word of its asking ("How has Microsoft's total net sales
evolved?") or of a follow-up it adds ("..., and what might this suggest about their supply chain
strategies?"): the first is not what it is about, and an answer may speak of the second's subject
or of the follow-up's.
"""

import re
from collections.abc import Iterable, Mapping

from app.retrieval.text import content_terms, stem, word_list

# Words that say how a question asks, not what it is about: "How has Microsoft's total net sales
# evolved?", "Has Apple engaged in any significant share repurchase activities?", "... as reported
# in these 10-Qs". The filings seldom write them, so they are often a question's rarest words; an
# answer need not hold them (sec-10-q dev: 14 of 30 analyst questions were refused for "evolved",
# "reported", "engaged", "fluctuated", "notable", "qs").
HOW_ASKED = frozenset(
    stem(w)
    for w in word_list(
        """
        change changed changing evolve evolved evolving fluctuate fluctuated fluctuating fluctuation
        shift shifted shifting vary varied varying variation differ differed differing
        trended trending pattern move moved moving
        reported disclose disclosed announce announced engage engaged throughout
        partake partaken undertake undertaken notable noteworthy substantial considerable major key
        important meaningful potential potentially possible impact impacted effect
        affect affected influence influenced consequence repercussion
        imply implied suggest driver driving driven factor contributing
        discern discerned identified consistent qs relate relationship combine connect
        correspond align measure stack glean adapt analyze analyse examine alteration
        historical escalating specifically filing report quarterly
        """
    )
)

# A clause after the first that points back at it ("and what might this suggest about ...",
# "If so, what are the key drivers ...", "Please detail the effects for each period"): a follow-up,
# asked of what the first clause is about.
_CLAUSE_BREAK = re.compile(r"[?.;]\s+|,?\s+and\s+(?=(?:what|how|why|which|describe|explain|discuss)\b)", re.I)
_POINTS_BACK = re.compile(r"\b(?:this|these|that|those|they|them|their|it|its|so|such)\b", re.I)


# "reported", "gleaned", "transformed": a past participle says what was done with the subject; the
# subject is a noun ("laptop", "gift"), which a question about no document still names
_PARTICIPLE = re.compile(r"[a-z]{3,}[^e]ed$")


def asks_only(term: str) -> bool:
    """Does the term say how the question asks, not what about?"""
    return term in HOW_ASKED or _PARTICIPLE.fullmatch(term) is not None


def follow_up_terms(question: str) -> frozenset[str]:
    """The terms only a follow-up clause of the question holds."""
    clauses = [c for c in _CLAUSE_BREAK.split(question) if c.strip()]
    if len(clauses) < 2:
        return frozenset()
    follow_ups = [c for c in clauses[1:] if _POINTS_BACK.search(c)]
    main = set(content_terms(" ".join(c for c in clauses if c not in follow_ups)))
    return frozenset(t for c in follow_ups for t in content_terms(c) if t not in main)


def rarest_terms(wanted: Iterable[str], rarity: Mapping[str, float], question: str = "") -> frozenset[str]:
    """The question's rarest terms besides the words saying how it asks (ties all count), and those
    of its first clause where a follow-up adds rarer ones: an answer may speak of either. None when
    fewer than two are weighed."""
    weighed = {t: rarity[t] for t in wanted if t in rarity and not asks_only(t)}
    if len(weighed) < 2:
        return frozenset()
    follow_up = follow_up_terms(question)
    main = {t: weight for t, weight in weighed.items() if t not in follow_up}
    return _rarest(weighed) | (_rarest(main) if len(main) >= 2 else frozenset())


def _rarest(weighed: Mapping[str, float]) -> frozenset[str]:
    top = max(weighed.values())
    return frozenset(t for t, weight in weighed.items() if weight >= top)


def covers_the_rarest(
    wanted: frozenset[str], matched: Iterable[str], rarity: Mapping[str, float], question: str = ""
) -> bool:
    """Do the quotes hold the question's rarest term, what it is about? "What is the procedure for
    reporting a lost laptop?" was answered with a sentence on disclosure "procedures" and
    "reporting": true, and about no laptop. Without rarities (or with one term), any will do."""
    rarest = rarest_terms(wanted, rarity, question)
    return not rarest or bool(rarest & set(matched))
