"""Tokens for keyword search: English lowercased without stop words, Chinese cut by jieba.

jieba loads its dictionary (about a second) on the first Chinese text, never at import time.
"""

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def word_list(words: str) -> list[str]:
    """A word list written as one string (easier to read and edit than a list literal)."""
    return words.split()


CJK_CHAR = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")  # one Chinese (or Japanese kanji) character
CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# A line break (or space) between two Chinese characters: pypdf breaks the manual's lines mid-word
# ("由哪个进程打\n开"), and Chinese puts no space between words.
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff])\s+(?=[\u3400-\u9fff\uf900-\ufaff])")
_WORD = re.compile(r"[^\W_]+")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d{3})")  # "82,959" and "82959" are the same number


def stem(word: str) -> str:
    """Plurals only: "revenues" finds "revenue", "liabilities" "liability", "taxes" "tax" and
    "losses" "loss" (a question says "inventory", a balance sheet "Inventories"; folded to "inventorie",
    the one never found the other); anything cleverer hurt figures and names."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")) and not word[-2].isdigit():
        return word[:-1]
    return word


# Common English function words, plus words that questions are made of but answers are not:
# "how did ... compare", "outline the ...", "base your judgments on ...". Left in, they are rare
# in filings, so BM25 gives them a high IDF and pulls in chunks that merely say "implications".
ENGLISH_STOP_WORDS = frozenset(
    word_list(
        """
        a about above after again against all also am an and any are as at be because been before being
        below between both but by can could did do does doing down during each either else etc ever few for
        from further had has have having he her here hers herself him himself his how i if in into is it its
        itself just let me might more most must my myself neither no nor not now of off on once only or
        other ought our ours ourselves out over own per please same shall she should so some such than that
        the their theirs them themselves then there these they this those through thus to too under until up
        upon us very via was we were what whatever when where whether which while who whom whose why will
        with within without would yet you your yours yourself yourselves according across along among amount
        answer answers approach approximately assume base based basis briefly calculate calculated compare
        compared comparison consider considered correlate decimal define defined describe described detail
        details discuss discussed elaborate element elements evolution evolve example explain explained
        figure figures find focus following given give happen identify identifiable implication implications
        indicate indicates indicating information insight insights judgment judgments kind list listed look
        main mention mentioned note noted outline overall particular particularly place point primarily
        provide provided question reflect reflected regarding related relate relying respect response round
        rounded say see separately shown show significant specific specifically state stated suggest
        summarize summarise tell term terms trend trends type types unit units use used using way well whole
        latest last recent recently much many going
        """
    )
)
ENGLISH_STOP_WORDS = frozenset(stem(w) for w in ENGLISH_STOP_WORDS)  # compared after stemming

CHINESE_STOP_WORDS = frozenset(
    word_list(
        """
        的 了 是 在 和 与 及 或 而 也 都 就 被 把 对 于 为 以 之 其 中 上 下 这 那 哪 有 个 一 一个 些 又 并 等
        吗 呢 吧 啊 什么 哪些 哪个 哪里 哪一 哪年 多少 几
        何 何时 谁 如何 怎么 怎样 为什么 是否 是什么 什么样 多 请 还
        我 你 他 她 它 我们 你们 他们 我的 你的 用 要 想 应该 需要 可以 能 能够 会 给 让 比如 例如
        某个 某些 里 后 之后 之前 以前 时 时候 有没有 能不能 是不是 怎么办 一下 到底
        """
    )
)

_jieba: Any = None
_jieba_lock = threading.Lock()


def _dictionary() -> Any:
    """jieba's tokenizer, its dictionary loaded on first use (not at import)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _jieba = tokenizer
    return _jieba


def _cut_chinese(run: str) -> list[str]:
    return [w for w in _dictionary().lcut(run, HMM=True) if w.strip()]


def split_guess(term: str) -> list[str] | None:
    """A two-character Chinese token that jieba's dictionary lacks is its statistical guess at a
    word, mostly two words run together ("先装", "建个", "上要"): the dictionary's words in it, without
    stop words; None for a word the dictionary has (or any other term)."""
    if len(term) != 2 or not CJK_RUN.fullmatch(term):
        return None
    dictionary = _dictionary()
    if dictionary.FREQ.get(term):
        return None
    return [w for w in dictionary.lcut(term, HMM=False) if not is_stop_word(w)]


def tokenize(text: str) -> list[str]:
    """Every token, stop words included (documents keep them so lengths stay honest)."""
    text = _DIGIT_COMMA.sub("", text.lower())
    tokens: list[str] = []
    position = 0
    for match in CJK_RUN.finditer(text):
        tokens += [stem(w) for w in _WORD.findall(text[position : match.start()])]
        tokens += _cut_chinese(match.group(0))
        position = match.end()
    tokens += [stem(w) for w in _WORD.findall(text[position:])]
    return tokens


def joined_cjk(text: str) -> str:
    """The text with no space or line break between two Chinese characters: its words whole again."""
    return _CJK_GAP.sub("", text)


def is_mostly_cjk(text: str) -> bool:
    """Chinese (or Japanese) text, allowing Latin names and numbers inside it: a CJK character carries
    about as much as a short word, so it counts as three Latin letters."""
    cjk = sum(len(run) for run in CJK_RUN.findall(text))
    latin = sum(ch.isascii() and ch.isalpha() for ch in text)
    return cjk > 0 and 3 * cjk >= latin


def is_stop_word(token: str) -> bool:
    return token in ENGLISH_STOP_WORDS or token in CHINESE_STOP_WORDS


def content_terms(text: str) -> list[str]:
    """The tokens of a question worth searching for, in order, without repeats."""
    # Single Latin letters ("R&D" -> r, d) match everything and mean little.
    terms = (t for t in tokenize(text) if not is_stop_word(t) and not (len(t) == 1 and t.isascii() and t.isalpha()))
    return list(dict.fromkeys(terms))


def without_stop_words(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if not is_stop_word(t)]


# A sentence ends at . ! ? (followed by space; not after a title or company suffix) or a CJK
# full stop, at a blank line, or before a line that opens with a bullet (a list's lead-in,
# "Highlights ... included:", is not part of its first item); citation markers right after the
# full stop ("rose 5%. [2]") stay with the sentence they follow.
_NOT_AN_END = (
    r"(?<!\b(?:Mr|Ms|Dr|Jr|Sr|St|No|vs|Co)\.)(?<!\b(?:Mrs|Inc|Ltd|etc)\.)(?<!\bCorp\.)"
    r"(?<!\b[A-Z]\.)"  # a middle initial: "Patrick P. Gelsinger"
)
_BOUNDARY = re.compile(
    r"(?<=[.!?])" + _NOT_AN_END + r"(?P<tail>(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*[\"')]*)\s+(?=[^\sa-z])"
    r"|(?<=[。！？])(?P<cjk>(?:\[\d+\])*)|\n\s*\n|\n(?=[ \t]*[•●▪])"
)

@dataclass(frozen=True)
class Sentence:
    start: int  # offset in the text it was split from
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    sentences: list[Sentence] = []
    start = 0
    for match in [*_BOUNDARY.finditer(text), None]:
        end = match.start() + len(match.group("tail") or match.group("cjk") or "") if match else len(text)
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            sentences.append(Sentence(start + lead, start + lead + len(stripped), stripped))
        if match:
            start = match.end()
    return sentences
