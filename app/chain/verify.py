"""Check every sentence of an answer against the passages it cites before it is shown as fact.

A sentence is kept when (1) each figure, date and name in it occurs in a passage it cites (a
sentence without a marker is checked against every source and gets the marker of the one that
holds it), (2) a passage sentence it cites carries most of its words, and (3) it speaks to the
question: not a page's furniture copied out ("PART I Item 1."), and for an English question, one of
its words; a Chinese sentence, two of a Chinese question's words. A sentence that says little on
its own ("The answer is 18.3 billion.") is read with the question's words, so its figure must stand
beside what was asked. A sentence that ranks ("the most") needs a cited sentence that ranks too.
Asked who, which company, which country or what something is called, a sentence must name someone
besides those the question names; asked an open question, the answer must hold its rarest word.
Everything else is dropped, with the reason.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from app.chain.citations import MARKER, marker_numbers
from app.chain.extract import Question, names_another_product
from app.chain.facts import (
    ASKS_FOR_FIGURE,
    ASKS_NAME,
    ASKS_ORGANISATION,
    ASKS_PLACE,
    Facts,
    Passage,
    answering_figures,
    asks_for_a_count,
    facts_of,
    find_figures,
    find_names,
    unsupported,
)
from app.chain.sentences import content_words, ends_on_dangling_word, split_sentences, support
from app.chain.topic import covers_the_rarest, rarest_terms, root
from app.retrieval.cover import ASKS_DAY, ASKS_WHEN_IT_HAPPENED
from app.retrieval.dates import MONTH_NAMES, MONTHS, date_mentions
from app.retrieval.glossary import english_company_names, english_phrases
from app.retrieval.roles import ASKS_WHO
from app.retrieval.text import CJK_CHAR, content_terms, is_mostly_cjk, stem
from app.types import CheckedSentence, Source

# Words the model wraps answers in; they claim nothing about the documents.
FILLER = content_words(
    "answer source sources information according document documents based provided passage passages "
    "question context text here following given mentioned states stated says"
)
# A page's structure, which a model copies out when it has nothing to say.
FURNITURE = content_words("part item table contents page note section exhibit index unaudited continued")
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi"}
_ENDS = (".", "!", "?", "。", "！", "？", "…")
# Words of a name that say what kind of thing it is, not which: "Microsoft Corporation" names no one
# besides Microsoft, "the Chief Executive Officer" no one at all.
_KIND_OF_NAME = content_words(
    "corporation corp inc incorporated company companies co ltd limited llc lp plc group holdings "
    "chief executive financial operating accounting officer president vice director board chairman ceo cfo"
)
# "iRobot", "eBay": a name that starts lower-case
_CAMEL_NAME = re.compile(r"\b[a-z]+[A-Z][A-Za-z]*\b")
# Words that rank or compare: a sentence saying one is "the most" says what its words alone do not.
_RANKS = re.compile(
    r"\b(?:most|least|highest|lowest|largest|smallest|biggest|greatest|fewest|best|worst|more|less|fewer)\b"
)
_PERIOD_NAMES = {name.lower() for name in MONTH_NAMES} | {"q1", "q2", "q3", "q4", "fiscal", "quarter", "year"}
MIN_SUPPORT = 0.5  # share of a sentence's content words one cited passage sentence must carry
MIN_OWN_WORDS = 2  # fewer content words (besides figures): the sentence is read with the question's
# Words that join or stress a sentence and claim nothing: "Specifically, it relates to the segment
# reporting and insights shared." holds no other word the question did not.
_CONNECTIVES = content_words(
    "specifically additionally furthermore moreover however overall generally therefore thus also "
    "indeed namely particular particularly relates related relating"
)
_ASKS_YES_OR_NO = re.compile(r"\s*(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should)\b", re.I)
MIN_CHINESE_SHARED = 2  # words of a Chinese question a Chinese sentence must hold


@dataclass
class _Unit:
    text: str
    words: set[str]

    @cached_property
    def passage(self) -> Passage:
        """Read once, on the first claim with figures checked against this sentence."""
        return Passage(self.text)


@dataclass
class _Held:
    source: Source
    passage: Passage
    units: list[_Unit]  # each sentence (and each table line) of the passage

    @cached_property
    def words(self) -> set[str]:
        return {w for u in self.units for w in u.words}


def _units(text: str) -> list[_Unit]:
    """Each sentence, and each line of one that spans several (a table's rows run together)."""
    units = []
    for sentence in split_sentences(text):
        units.append(_Unit(sentence.text, content_words(sentence.text)))
        lines = sentence.text.split("\n")
        if len(lines) > 2:
            units += [_Unit(line, content_words(line)) for line in lines]
    return units


def _anchored(unit: _Unit, facts: Facts) -> bool:
    """Does this sentence of the passage itself hold the claim's figures? A figure is read with
    the words beside it, not with any sentence of the page."""
    return not facts.figures or all(unit.passage.has_figure(f) for f in facts.figures)


# Words a sentence may add to what its passage says: the units and periods of its figures (checked
# as figures and dates), and the verbs that say where a figure comes from.
_FRAMING = content_words(
    "million millions billion billions thousand thousands percent percentage dollars usd respectively "
    "approximately about total show shows showed showing report reports reported reporting note notes "
    "noted indicate indicates indicated period periods ended ending quarter quarters year years fiscal"
)
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|cannot)\b|n[’']t\b", re.I)


def _not_carried(own: set[str], passage: set[str], asked: set[str]) -> list[str]:
    """The sentence's words that neither its cited passage nor the question holds, in any form of the
    word: what it claims besides what it was given. (Its best sentence there carries most of its
    words; the rest may stand beside it: "announced" in the line over a list of products.)"""
    kinds = _KIND_OF_NAME | _PERIOD_NAMES  # "the Company", "the quarter"
    given = {root(stem(w)) for w in passage | asked | FILLER | _CONNECTIVES | _FRAMING | kinds}
    return sorted(w for w in own if root(stem(w)) not in given)


def _names_all(unit: _Unit, names: Sequence[str]) -> bool:
    """Does the passage sentence holding a claim's figures also name whose they are? "NVIDIA's
    Gaming revenue was down 17% from a year ago" is not what "Revenue for the third quarter ... was
    $5.93 billion, down 17% from a year ago" says, though "Gaming" is on the page."""
    text = unit.text.lower()
    return all(name in text for name in names)


# A name written with a capital inside a sentence ("Gaming", "LinkedIn", "Data Center"): what the
# figures beside it belong to.
_CAPITALISED = re.compile(r"(?<=\s)[A-Z][A-Za-z&-]*[a-z][A-Za-z&-]*")


def _figure_owners(plain: str, known: set[str]) -> list[str]:
    """The capitalised names of a sentence with figures, lower-cased, besides the company's own and
    words of a period ("September")."""
    names = {m.group(0).lower().removesuffix("'s").removesuffix("’s") for m in _CAPITALISED.finditer(plain)}
    return sorted(n for n in names if n not in known and stem(n) not in known and n not in _PERIOD_NAMES)


class AnswerChecker:
    def __init__(self, sources: Sequence[Source], min_support: float = MIN_SUPPORT) -> None:
        self.min_support = min_support
        self.held = {s.n: _Held(s, Passage(f"{s.chunk.header}\n{s.chunk.text}"), _units(s.chunk.text)) for s in sources}
        # The sources' own names (company, form, file): every sentence of a filing may name its company.
        self.identity = {stem(w) for s in sources for w in content_words(f"{s.chunk.header} {s.chunk.file_name}")}
        self.companies = self.identity | set(english_company_names())

    def check(
        self, text: str, question: str, cut_off: bool = False, rarity: Mapping[str, float] | None = None
    ) -> list[CheckedSentence]:
        """cut_off: the model hit its token limit, so a last sentence without its full stop is a
        fragment (its figure may be cut too: "$81,7"). rarity: the question's terms by their rarity
        among the readable chunks; the answer must speak of the rarest."""
        checked: list[CheckedSentence] = []
        asked = content_words(question) - FILLER
        # The question's words, stemmed, with its abbreviations spelt out: an answer shares one. Not for a
        # Chinese question, whose English words are only those the glossary knows.
        topic = set() if is_mostly_cjk(question) else {stem(w) for w in _words_of(question) - FILLER}
        # ...besides the company's name: "Amazon ... could be subject to unspecified damages" does not
        # speak to "How many Prime members does Amazon have?"
        topic = (topic - self.identity) or topic
        chinese = _chinese_terms(question)
        # "Is parking free for employees?" is answered by saying it back: "Parking is free for employees."
        yes_or_no = _ASKS_YES_OR_NO.match(question) is not None
        said = Passage(question)
        sentences = split_sentences(text)
        for i, sentence in enumerate(sentences):
            plain = _unmarked(sentence.text)
            if not content_words(plain):
                continue  # a lone marker or punctuation: nothing to claim
            last = cut_off and i == len(sentences) - 1
            checked.append(self._one(sentence.text, plain, asked, topic, chinese, said, last, yes_or_no))
        parsed = Question.parse(question)
        checked = self._of_the_names_asked(_with_a_figure_if_asked(checked, question), question, parsed)
        checked = self._with_a_new_name_if_asked(_with_a_date_if_asked(checked, question), question, parsed)
        checked = _speaking_to_a_chinese_question(checked, question)
        if not parsed.open:
            return checked
        # the cited passages must hold it, not the answer: a model copies the question's words
        cited = {n for c in checked if c.verified for n in c.sources if n in self.held}
        held = {stem(w) for n in cited for u in self.held[n].units for w in u.words}
        return _about_the_rarest(checked, question, topic, rarity or {}, held)

    def _of_the_names_asked(
        self, checked: list[CheckedSentence], question: str, parsed: Question
    ) -> list[CheckedSentence]:
        """ "How much revenue did AWS generate in China in Q2 2023?" (in no filing) was answered "The
        source of revenue is: 121,234. [2]": Amazon's net sales, on the cited page. Asked for a
        figure of something the question names with a capital ("China", "Gaming"), a sentence giving
        a figure must name it, or the passage sentence holding its figure must."""
        figure_asked = parsed.wants == "figure" or ASKS_FOR_FIGURE.search(question)
        names = _figure_owners(question, self.companies) if figure_asked else []
        if not names or is_mostly_cjk(question):
            return checked
        return [c if not c.verified or self._names_its_figures(c, names) else _not_of(c, names) for c in checked]

    def _names_its_figures(self, claim: CheckedSentence, names: Sequence[str]) -> bool:
        plain = _unmarked(claim.text)
        facts = facts_of(plain)
        if not facts.figures:
            return True
        unsaid = [name for name in names if name not in plain.lower()]
        anchors = [u for n in claim.sources if n in self.held for u in self.held[n].units if _anchored(u, facts)]
        # a table's rows run together in one "sentence": the row holding the figure says whose it is
        lines = [u for u in anchors if "\n" not in u.text.strip()]
        return any(_names_all(u, unsaid) for u in lines or anchors)

    def _one(
        self,
        written: str,
        plain: str,
        asked: set[str],
        topic: set[str],
        chinese: set[str],
        said: Passage,
        last: bool,
        yes_or_no: bool = False,
    ) -> CheckedSentence:
        """topic: an English question's words, stemmed; chinese: a Chinese question's words;
        said: the question, whose own figures and dates a sentence saying it back holds."""
        cited = [n for n in marker_numbers(written) if n in self.held]
        if _broken_off(plain, last):
            return CheckedSentence(written.strip(), False, "it breaks off unfinished", tuple(cited))
        if plain.rstrip().endswith(("?", "？")) or plain.lower().startswith("question:"):
            return CheckedSentence(written.strip(), False, "a question, not an answer", tuple(cited))
        facts = facts_of(plain)
        claim = content_words(plain) - FILLER
        own = {w for w in claim if not any(ch.isdigit() for ch in w)}
        if (len(own) < MIN_OWN_WORDS and facts.empty) or not own:
            # "1. [4] 3. [4] 8. [2]": a list's numbers copied out, which say nothing on their own
            return CheckedSentence(written.strip(), False, "it says nothing the sources could confirm", tuple(cited))
        # A passage's furniture copied out ("PART I Item 1.") is on the page, and answers nothing.
        furniture = bool(own) and own <= FURNITURE | _ROMAN
        if furniture or (len(own) >= MIN_OWN_WORDS and topic and not {stem(w) for w in own} & topic):
            return CheckedSentence(written.strip(), False, "it does not speak to what was asked", tuple(cited))
        # (a yes-or-no question is answered by saying it back as a statement; "Legal Proceedings:" is none)
        stated = yes_or_no and plain.rstrip().endswith((".", "!"))
        # its names too, and its periods: "The legal proceedings that Amazon disclosed in Q2 2023 were:"
        new_facts = (facts.figures or facts.dates) and unsupported(facts, [said])
        says_back = not new_facts and _says_the_question_back(own, asked)
        if says_back and not stated and not is_mostly_cjk(plain):
            return CheckedSentence(written.strip(), False, "it only says the question back", tuple(cited))
        if is_mostly_cjk(plain) and not _shares_enough(plain, chinese):
            return CheckedSentence(written.strip(), False, "it does not speak to what was asked", tuple(cited))
        if len(own) < MIN_OWN_WORDS:
            claim |= asked
        candidates = cited or list(self.held)
        best: tuple[float, int, _Unit | None] | None = None
        missing_everywhere: list[str] | None = None
        owners = _figure_owners(plain, self.companies) if facts.figures else []
        owned_elsewhere = False  # the figures stand in a cited sentence, of something else
        for n in candidates:
            held = self.held[n]
            missing = unsupported(facts, [held.passage])
            if missing:
                if missing_everywhere is None:
                    missing_everywhere = missing
                continue
            anchored = [u for u in held.units if _anchored(u, facts)]
            owned = [u for u in anchored if _names_all(u, owners)]
            owned_elsewhere = owned_elsewhere or (bool(anchored) and not owned)
            score, unit = max(((support(claim, u.words), u) for u in owned), key=lambda p: p[0], default=(0.0, None))
            if best is None or score > best[0]:
                best = (score, n, unit)
        if owned_elsewhere and (best is None or best[0] == 0.0):
            reason = f"its figure stands in the cited passage for something other than {', '.join(owners)}"
            return CheckedSentence(written.strip(), False, reason, tuple(cited))
        if best is None:
            what = ", ".join(dict.fromkeys(missing_everywhere or []))
            where = "its cited passages" if cited else "any source"
            reason = f"{what} is in none of {where}" if what else "no source holds it"
            return CheckedSentence(written.strip(), False, reason, tuple(cited))
        score, n, unit = best
        ranked = _RANKS.findall(plain.lower())
        if ranked and not any(set(ranked) <= set(_RANKS.findall(u.text.lower())) for u in self.held[n].units):
            # "the data center brought the most revenue ..., which is China": every word is on the
            # page, and no sentence there ranks anything
            reason = f"its cited passage ranks nothing as “{ranked[0]}”"
            return CheckedSentence(written.strip(), False, reason, tuple(cited or [n]))
        if score < self.min_support:
            reason = f"the cited passage carries {round(score * 100)}% of what it says"
            return CheckedSentence(written.strip(), False, reason, tuple(cited or [n]))
        added = _not_carried(own, self.held[n].words, asked | self.identity) if unit is not None else []
        if added:
            # "The report was signed ..., and the company is a subsidiary of Apple Inc.": half its words
            # on the signature page, and a claim of its own
            reason = f"its cited passage does not say “{', '.join(added)}”"
            return CheckedSentence(written.strip(), False, reason, tuple(cited or [n]))
        if unit is not None and _NEGATION.search(plain) and not _NEGATION.search(unit.text):
            # "No, Apple did not report any unregistered sales ..." on a line of the table of contents
            reason = "it denies what its cited passage does not"
            return CheckedSentence(written.strip(), False, reason, tuple(cited or [n]))
        shown = written.strip() if cited else f"{written.strip()} [{n}]"
        return CheckedSentence(shown, True, "", tuple(cited or [n]))

    def _with_a_new_name_if_asked(
        self, checked: list[CheckedSentence], question: str, asked: Question
    ) -> list[CheckedSentence]:
        """ "Which company did Microsoft finish acquiring in October 2023?" was answered "The company
        that ended up acquiring Microsoft ... is Microsoft Corporation.": its name and date are on
        the cited page, and it answers nothing. Asked who or which company, a sentence whose names
        are all the question's own or its sources' company names no one else. One without any name
        ("Your manager approves them.") may still answer, as may a Chinese one, whose names this
        cannot see."""
        if asked.wants == "product":  # "what chip did nvidia sell instead?": a sentence with no product answers nothing
            return [
                replace(c, verified=False, reason="it names no product besides those the question names")
                if c.verified and not names_another_product(asked, _unmarked(c.text))
                else c
                for c in checked
            ]
        if not any(asks.search(question) for asks in (ASKS_WHO, ASKS_ORGANISATION, ASKS_PLACE, ASKS_NAME)):
            return checked
        known = {stem(w) for w in _words_of(question)} | self.identity | _KIND_OF_NAME
        return [
            replace(c, verified=False, reason="it names no one besides those the question names")
            if c.verified and _names_only(_unmarked(c.text), known)
            else c
            for c in checked
        ]


def _speaking_to_a_chinese_question(checked: list[CheckedSentence], question: str) -> list[CheckedSentence]:
    """The bundled model cannot read Chinese: asked "想看看某个文件夹到底占了多大空间，用什么命令？",
    it wrote "sudo rm -r *", a line of its cited page. An English sentence with no figure, date or
    name of its cited page ("The answer is: 2000年。" has one) answers a Chinese question only if it
    shares a word with the question's own English ("lsusb") or its glossary's ("revenue")."""
    if not is_mostly_cjk(question):
        return checked
    english = {stem(w) for w in _words_of(question) - FILLER if not CJK_CHAR.search(w)}
    return [
        replace(c, verified=False, reason="it is in English and shares no word with the question")
        if c.verified
        and not CJK_CHAR.search(plain := _unmarked(c.text))
        and facts_of(plain).empty
        and not {stem(w) for w in content_words(plain)} & english
        else c
        for c in checked
    ]


def _chinese_terms(question: str) -> set[str]:
    """A Chinese question's words of two characters or more (jieba's): each one character counts as
    a word for support, which any sentence of the same page shares."""
    if not is_mostly_cjk(question):
        return set()
    return {t for t in content_terms(question) if len(t) >= 2 and CJK_CHAR.search(t)}


def _shares_enough(sentence: str, terms: set[str]) -> bool:
    """ "有个服务每次开机都自己启动，不想让它开机自启，用什么命令？" was answered, as verified, with
    "使用 Debian 安装光盘以救援模式启动系统。": a sentence of a cited page, and about rescue mode.
    A Chinese sentence must hold two of a Chinese question's words (all, if it has fewer)."""
    if not terms:
        return True
    return sum(term in sentence for term in terms) >= min(MIN_CHINESE_SHARED, len(terms))


def _names_only(text: str, known: set[str]) -> bool:
    """Does the text name something, and only what `known` holds?"""
    if is_mostly_cjk(text):
        return False
    words = [word for name in find_names(text) for word in name.split()] + _CAMEL_NAME.findall(text)
    names = {stem(_POSSESSIVE.sub("", word.lower())) for word in words}
    return bool(names) and names <= known


_MONTH_WORDS = frozenset(MONTHS) | {name.lower() for name in MONTH_NAMES}
_POSSESSIVE = re.compile(r"['’]s?$")


def _about_the_rarest(
    checked: list[CheckedSentence], question: str, topic: set[str], rarity: Mapping[str, float], held: set[str]
) -> list[CheckedSentence]:
    """ "What is the policy on accepting gifts from suppliers?" (in no document) was answered with
    a supply-chain sentence: its words are on the page, and it says nothing of gifts. Asked an open
    question, the passages the verified sentences cite must hold its rarest word (`held`: their
    words), what it is about. "The procedure for reporting a lost laptop is to report ... to the
    registrant's auditors" holds "laptop" because the model copied it from the question."""
    words = frozenset(t for t in topic if t.isalpha() and t not in _MONTH_WORDS)
    if not any(c.verified for c in checked) or covers_the_rarest(words, held, rarity, question):
        return checked
    word = min(rarest_terms(words, rarity, question))
    return _all_dropped(checked, f"none of it speaks of “{word}”, what the question is about")


def _says_the_question_back(own: set[str], asked: set[str]) -> bool:
    """Does the sentence hold no word (in any form) besides the question's and joining words? A
    small model asked how two things relate says "it relates to the segment reporting": on the
    page, and no answer."""
    said_before = {root(stem(w)) for w in asked | _CONNECTIVES}
    return all(root(stem(w)) in said_before for w in own)


def _with_a_figure_if_asked(checked: list[CheckedSentence], question: str) -> list[CheckedSentence]:
    """ "苹果公司员工每年有多少天带薪年假？" (in no filing) was answered with a stock plan's sentence
    copied out: true, on its page, and no figure in it. Asked how much or how many, an answer whose
    verified sentences hold no figure answers something else; for a Chinese question, whose English
    words are few, this is the check that it speaks to what was asked."""
    if not ASKS_FOR_FIGURE.search(question):
        return checked
    named = {figure.value for figure in find_figures(question)}  # "Microsoft 365" names no answer
    counts = asks_for_a_count(question)  # "how many iPhones": a dollar amount is no number of them
    if any(c.verified and answering_figures(_unmarked(c.text), named, counts) for c in checked):
        return checked
    return _all_dropped(checked, f"{'a number of things' if counts else 'a figure'} was asked for and it gives none")


def _with_a_date_if_asked(checked: list[CheckedSentence], question: str) -> list[CheckedSentence]:
    """ "纳德拉是哪天采用新的10b5-1交易计划的?" was answered with the sentence before the one that
    says: "No other officers or directors ... adopted ... a Rule 10b5-1 trading arrangement". Asked
    which day, an answer whose verified sentences name no day, month or year answers something else
    ("When is lunch served?" may be answered "at noon"), nor one asked when a past event happened
    ("英特尔是什么时候…重新注册成立的？" was answered with a sentence on export licences)."""
    if not (ASKS_DAY.search(question) or ASKS_WHEN_IT_HAPPENED.search(question)):
        return checked
    if any(c.verified and (date_mentions(_unmarked(c.text)) or _A_YEAR.search(c.text)) for c in checked):
        return checked
    return _all_dropped(checked, "a date was asked for and it gives none")


def _not_of(claim: CheckedSentence, names: Sequence[str]) -> CheckedSentence:
    return replace(claim, verified=False, reason=f"its figure is not said to be {', '.join(names)}’s")


def _all_dropped(checked: list[CheckedSentence], reason: str) -> list[CheckedSentence]:
    return [replace(c, verified=False, reason=reason) if c.verified else c for c in checked]


_A_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)|年")


def _unmarked(text: str) -> str:
    """The sentence without its [n] markers, spaces collapsed."""
    return " ".join(MARKER.sub(" ", text).split())


def _broken_off(plain: str, last: bool) -> bool:
    """Ends on a word no sentence ends on, or is the text's last and lacks its full stop after
    the model was cut off."""
    if ends_on_dangling_word(plain):
        return True
    return last and not plain.rstrip().endswith(_ENDS)


def _words_of(question: str) -> set[str]:
    return content_words(" ".join([question, *english_phrases(question)]))


def kept_text(checked: Sequence[CheckedSentence]) -> str:
    """The verified sentences, each once: a small model repeats itself ("The Company has also
    announced ..." five times)."""
    kept: dict[str, str] = {}
    for sentence in checked:
        if sentence.verified:
            kept.setdefault(_unmarked(sentence.text).lower(), sentence.text)
    return " ".join(kept.values())
