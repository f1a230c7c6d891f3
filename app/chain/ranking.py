"""Questions that ask which line of a table ranks first, and the tables' blocks of lines to rank.

"Besides the US, which country brought NVIDIA the most revenue last quarter?" is answered by no
one row: the revenue-by-country table lists each country, and the answer is the largest of them
other than the United States. Word overlap cannot check a model's "the most"; the table can.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.chain.tables import Row
from app.retrieval.text import content_terms, word_list

_MOST = r"most|highest|largest|biggest|greatest|top"
_LEAST = r"least|lowest|smallest|fewest"
_ASKS_RANK = re.compile(
    rf"\b(?:which|what)\s+(?P<kind>[a-z]+(?:\s+[a-z]+)?)\b.*?\b(?P<rank>{_MOST}|{_LEAST})\b"
    r"|哪(?:个|一个|些)?(?P<kind_zh>国家|地区|市场|部门|分部|业务|产品|细分市场|板块)[^？?]*?最(?P<rank_zh>多|高|大|少|低|小)"
    r"|最(?P<rank_zh2>多|高|大|少|低|小)的(?P<kind_zh2>国家|地区|市场|部门|分部|业务|产品|板块)",
    re.IGNORECASE,
)
_BESIDES = re.compile(
    r"\b(?i:besides|other\s+than|excluding|except(?:\s+for)?|apart\s+from|aside\s+from|outside(?:\s+of)?)\s+"
    r"(?i:the\s+)?(?P<name>U\.?S\.?|[A-Z][\w.&'-]*(?:\s+[A-Z][\w.&'-]*)*)"
    r"|除(?:了)?(?P<name_zh>[^，,、之以外]{1,8}?)(?:之外|以外|外|(?=[，,]))",
)
# What a kind of line is called in the text above its table ("Revenue by geographic areas").
_KIND_WORDS = {
    "place": frozenset(
        word_list("country countrie geographic geographical geography region regional area location nation")
        + word_list("国家 地区 区域")
    ),
    "segment": frozenset(word_list("segment segments operating reportable 部门 分部 板块")),
    "market": frozenset(word_list("market markets specialized platform 市场")),
    "product": frozenset(word_list("product products service services category 产品 业务")),
}
_KIND_OF = {
    "country": "place", "countries": "place", "region": "place", "regions": "place", "geography": "place",
    "geographic": "place", "area": "place", "location": "place", "nation": "place",
    "国家": "place", "地区": "place",
    "segment": "segment", "segments": "segment", "division": "segment", "group": "segment", "business": "segment",
    "部门": "segment", "分部": "segment", "业务": "segment", "板块": "segment",
    "market": "market", "markets": "market", "市场": "market", "细分市场": "market",
    "product": "product", "products": "product", "category": "product", "line": "product", "产品": "product",
}  # fmt: skip
# Chinese names of the lines a question may set aside ("除了美国")
_CHINESE_PLACES = {"美国": "united states", "中国": "china", "台湾": "taiwan", "日本": "japan", "新加坡": "singapore"}
_AGGREGATE = re.compile(
    r"^(?:total|other|all\s+other|corporate|unallocated|eliminations?|consolidated)\b", re.IGNORECASE
)
_US = re.compile(r"^u\.?s\.?$|^us$|^america$", re.IGNORECASE)


@dataclass(frozen=True)
class RankAsked:
    most: bool  # the largest (else the smallest)
    kind: str  # "place", "segment", "market", "product" or "" (not said)
    besides: tuple[str, ...]  # lines set aside, lower-cased ("united states")


def asks_rank(question: str) -> RankAsked | None:
    match = _ASKS_RANK.search(question)
    if match is None:
        return None
    rank = (match.group("rank") or match.group("rank_zh") or match.group("rank_zh2")).lower()
    most = bool(re.fullmatch(_MOST, rank) or rank in "多高大")
    said = (match.group("kind") or match.group("kind_zh") or match.group("kind_zh2") or "").lower()
    kind = next((_KIND_OF[w] for w in [said, *said.split()] if w in _KIND_OF), "")
    if not kind and not match.group(0).lower().startswith("which"):
        return None  # "What was the highest price?": one figure, not one of a table's lines
    besides = []
    for aside in _BESIDES.finditer(question):
        name = aside.group("name") or aside.group("name_zh") or ""
        name = "united states" if _US.match(name.strip()) else _CHINESE_PLACES.get(name.strip(), name.strip().lower())
        besides.append(name)
    return RankAsked(most, kind, tuple(besides))


_RANK_VOCABULARY = (
    frozenset(word_list(f"{_MOST} {_LEAST}".replace("|", " ")))
    | frozenset(_KIND_OF)
    | frozenset().union(*_KIND_WORDS.values())
)


def measured(terms: frozenset[str]) -> frozenset[str]:
    """The question's terms that say what is measured ("net sales"), not how it ranks ("highest")
    nor what kind of line ("segment")."""
    return terms - _RANK_VOCABULARY


def blocks(rows: Sequence[Row]) -> list[list[Row]]:
    """Runs of three or more lines under one heading, one unit and one set of columns, without their
    totals and catch-alls ("Other countries"), which rank nothing."""
    found: list[list[Row]] = []
    run: list[Row] = []
    for row in rows:
        same = run and (row.heading, row.unit, len(row.cells)) == (run[-1].heading, run[-1].unit, len(run[-1].cells))
        if run and (not same or _AGGREGATE.match(row.label)):
            found.append(run)
            run = []
        if not _AGGREGATE.match(row.label) and row.label:
            run.append(row)
    found.append(run)
    return [b for b in found if len(b) >= 3]


def kind_fits(kind: str, above: str) -> bool:
    """Does the text above a table ("Revenue by geographic areas were as follows:") call its lines
    what the question does?"""
    return bool(kind) and bool(_KIND_WORDS[kind] & set(content_terms(above)))


def set_aside(asked: RankAsked, row: Row) -> bool:
    label = row.label.lower()
    return any(name and (label.startswith(name) or name in label.split(" (")[0]) for name in asked.besides)
