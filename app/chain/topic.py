"""What a question is about, as against how it asks: the terms an answer must speak of.

A quote or a checked answer must hold the question's rarest term ("What is the procedure for
reporting a lost laptop?" is not answered by a sentence on disclosure procedures). The rarest term
of a long analyst question is often a word of its asking ("How has Microsoft's total net sales
evolved?") or of a follow-up it adds ("..., and what might this suggest about their supply chain
strategies?"): the first is not what it is about, and an answer may speak of the second's subject
or of the follow-up's. Asked about one thing or another ("acquisitions or sell-offs"), an answer
may speak of either.
"""

import re
from collections.abc import Iterable, Mapping

from app.retrieval.text import content_terms, is_stop_word, stem, word_list

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
        level performance section shared discussion overview significantly materially
        timeframe evolution outline
        """
    )
)

# A clause after the first that points back at it ("and what might this suggest about ...",
# "If so, what are the key drivers ...", "Please detail the effects for each period"): a follow-up,
# asked of what the first clause is about.
_CLAUSE_BREAK = re.compile(r"[?.;]\s+|,?\s+and\s+(?=(?:what|how|why|which|describe|explain|discuss)\b)", re.I)
_POINTS_BACK = re.compile(r"\b(?:this|these|that|those|they|them|their|it|its|so|such)\b", re.I)


# "reported", "gleaned", "transformed": a past participle says what was done with the subject; the
# subject is a noun ("laptop", "gift"), which a question about no document still names. A negated
# one is what is asked about ("unrecognized compensation cost", "unrealized losses").
_PARTICIPLE = re.compile(r"(?!un)[a-z]{3,}[^e]ed$")


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


# "acquisitions or sell-offs", "legal proceedings or risks": either side is what is asked about
_EITHER = re.compile(r"([A-Za-z][\w&-]*)\s+or\s+(?:any\s+|other\s+|an?\s+|the\s+)*([A-Za-z][\w&-]*)", re.I)
# "How does the information on X relate to Y?", "compare X with Y", "the relationship between X and
# Y": two things set side by side, each what the question is about
_SIDE_BY_SIDE = re.compile(
    r"\b(?:relates?|connects?|aligns?|corresponds?|compares?|compared|reflects?|stack\s+up)\s+(?:to|with|against)\b"
    r"|(?<=\w)\s+reflect\s+(?=the\b|its\b|their\b)",  # "how do the changes in X reflect the Y"
    re.I,
)
_COMPARE_WITH = re.compile(r"\bcompare\b(.+?)\b(?:with|to|against)\b(.+)", re.I)
_BETWEEN = re.compile(r"\bbetween\s+(.+?)\s+and\s+(.+)", re.I)
# "operating" for "operational", "inventories" for "inventory", "launches" for "launch": one word
# in another form (the index's own stemming folds plurals only)
_ENDINGS = (
    ("ies", "y"),
    ("ie", "y"),
    ("ional", ""),
    ("ions", ""),
    ("ion", ""),
    ("ing", ""),
    ("ed", ""),
    ("al", ""),
    ("e", ""),
)
_MIN_ROOT = 4


def root(term: str) -> str:
    """The term without the ending that makes it a noun, verb or adjective of the same word."""
    for ending, replacement in _ENDINGS:
        if term.endswith(ending) and len(term) - len(ending) >= _MIN_ROOT:
            return term[: -len(ending)] + replacement
    return term


def alternatives(question: str) -> list[tuple[frozenset[str], frozenset[str]]]:
    """The terms on either side of each "or" of the question."""
    return [
        (frozenset(content_terms(left)), frozenset(content_terms(right))) for left, right in _EITHER.findall(question)
    ]


def side_texts(question: str) -> list[str]:
    """The words of each of two things the question sets side by side; none if it sets none."""
    paired = _BETWEEN.search(question) or _COMPARE_WITH.search(question)
    parts = list(paired.groups()) if paired else _SIDE_BY_SIDE.split(question, maxsplit=1)
    return parts if len(parts) == 2 else []


def sides(question: str) -> list[frozenset[str]]:
    """The terms of each of two things the question sets side by side; none if it sets none."""
    return [frozenset(content_terms(part)) for part in side_texts(question)]


# What names the filings a question is about: "Amazon's", "Q1 2023", "10-Q"; outside the two things
# set side by side, any capitalised word ("In NVIDIA's Q3 2023 10-Q, compare ...")
_NAMING = re.compile(r"\b(?:[A-Z][\w&.-]*[’']s|Q[1-4]|(?:19|20)\d\d|10-Qs?)\b")
_CAPITALISED = re.compile(r"\b[A-Z][\w&.-]*[A-Za-z]\b")


def side_questions(question: str) -> list[str]:
    """One question for each of two things set side by side, each with the names and periods of the
    whole ("How did Amazon's operational expenditures stack up against its earnings in Q1 2023?":
    "How did Amazon's operational expenditures Q1 2023", "its earnings in Q1 2023 Amazon's"): a
    search for both at once brings up the pages on the one the index weighs more."""
    parts = side_texts(question)
    if not parts:
        return []
    outside = question
    for part in parts:
        outside = outside.replace(part, " ")
    naming = [n for n in _NAMING.findall(question) + _CAPITALISED.findall(outside) if not is_stop_word(n.lower())]
    naming = [n for n in dict.fromkeys(naming) if not any(m != n and m.startswith(n) for m in naming)]
    questions = []
    for part in parts:
        missing = [n for n in naming if n not in part]
        questions.append(" ".join([part.strip(" ?,."), *missing]))
    return questions


def rarest_terms(
    wanted: Iterable[str], rarity: Mapping[str, float], question: str = "", each_side: bool = False
) -> frozenset[str]:
    """The question's rarest terms besides the words saying how it asks (ties all count); those of
    its first clause where a follow-up adds rarer ones, the other side of an "or" that holds one,
    and with `each_side` those of each of two things it sets side by side: an answer may speak of
    any. None when fewer than two are weighed. (Quotes, the documents' own words, may speak of one
    side; a small model's sentence that does is mostly the question's words said back.)"""
    weighed = {t: rarity[t] for t in wanted if t in rarity and not asks_only(t)}
    if len(weighed) < 2:
        return frozenset()
    follow_up = follow_up_terms(question)
    main = {t: weight for t, weight in weighed.items() if t not in follow_up}
    rarest = _rarest(weighed) | (_rarest(main) if main else frozenset())
    for side in sides(question) if each_side else []:
        held = {t: weight for t, weight in weighed.items() if t in side}
        rarest |= _rarest(held) if held else frozenset()
    either: set[str] = set()
    for left, right in alternatives(question):
        either |= right if left & rarest else left if right & rarest else set()
    return rarest | frozenset(either & set(wanted))


def _rarest(weighed: Mapping[str, float]) -> frozenset[str]:
    top = max(weighed.values())
    return frozenset(t for t, weight in weighed.items() if weight >= top)


def covers_the_rarest(
    wanted: frozenset[str],
    matched: Iterable[str],
    rarity: Mapping[str, float],
    question: str = "",
    each_side: bool = False,
) -> bool:
    """Do the quotes hold the question's rarest term, what it is about? "What is the procedure for
    reporting a lost laptop?" was answered with a sentence on disclosure "procedures" and
    "reporting": true, and about no laptop. Without rarities (or with one term), any will do."""
    rarest = rarest_terms(wanted, rarity, question, each_side)
    return not rarest or bool(rarest & set(matched))
