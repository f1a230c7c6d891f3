"""What a filing's cover states about its registrant, and the questions asking for it: the state it
is incorporated in, its address and telephone, the exchange its stock trades on and its symbol.

The cover prints each fact beside a label in brackets ("Delaware 94-1672743 / (State or other
jurisdiction of incorporation or organization)") or under a column header ("Name of each exchange
on which registered"), amid check boxes; no sentence says "Intel is incorporated in Delaware", so
neither search nor the sentence reader finds it. Here the labels are read as a form's fields.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

from app.retrieval.cover import ASKS_DATE


class Field(StrEnum):
    INCORPORATION = "state or other jurisdiction of incorporation"
    ADDRESS = "address of principal executive offices"
    TELEPHONE = "telephone number"
    EXCHANGE = "name of each exchange on which registered"
    SYMBOL = "trading symbol"


# The questions, English and Chinese. Not "foreign exchange", "exchange rates", "in exchange for" or
# the "Securities and Exchange Commission"; 上市 alone is also a product's launch ("iPhone 15 上市").
_ASKED: tuple[tuple[Field, re.Pattern[str]], ...] = (
    (
        Field.EXCHANGE,
        re.compile(
            r"\b(?:which|what)\s+(?:stock\s+)?exchange\b|\bstock\s+exchange|\bexchanges?\b[^?.]{0,40}\b(?:listed|traded|"
            r"registered)\b|\b(?:listed|traded|registered)\b[^?.]{0,40}\bexchanges?\b|\b(?:listed|traded)\s+on\b"
            r"|\b(?:stock|shares)\b[^?.]{0,20}\b(?:listed|traded)\b"
            r"|交易所|(?:股票|普通股|股份)[^，。？?]{0,12}(?:上市|挂牌|在哪[个里儿]?交易)",
            re.IGNORECASE,
        ),
    ),
    (
        Field.SYMBOL,
        re.compile(r"\bticker\b|\b(?:trading|stock)\s+symbol|股票代码|交易代码|证券代码", re.IGNORECASE),
    ),
    (
        Field.INCORPORATION,
        re.compile(
            r"\bincorporat(?:ed|es|ion|ing|e)?\b(?!\s+(?:by|into|herein)\b)|\bjurisdiction\b|注册成立|注册地|哪个州注册",
            re.IGNORECASE,
        ),
    ),
    (
        Field.TELEPHONE,
        # the company's number, not a "cell phone" litigation or a "phone" sold, nor an "电话会议"
        re.compile(
            r"(?<!cell\s)(?<!mobile\s)\btelephone\b|\bphone\s+(?:number|no\b|line)|(?:main|corporate|office)\s+phone\b"
            r"|电话(?!会议)",
            re.IGNORECASE,
        ),
    ),
    (
        Field.ADDRESS,
        re.compile(
            r"\b(?:street|office|mailing|postal|headquarters?)\s+address\b|\baddress\s+of\s+(?:its|the)\b"
            r"|\bheadquarter(?:s|ed)\b|总部|办公地址|主要办公",
            re.IGNORECASE,
        ),
    ),
)

# The labels a cover prints (some covers in capitals: "(STATE OF INCORPORATION)").
_INCORPORATION_LABEL = re.compile(r"\(\s*state\s+(?:or\s+other\s+jurisdiction|of\s+incorporation)", re.IGNORECASE)
_ADDRESS_LABEL = re.compile(r"\(\s*address\b[^)]{0,80}?\bprincipal\s+executive\s+offices?", re.IGNORECASE)
_EXCHANGE_HEADER = re.compile(r"name\s+of\s+(?:each\s+)?exchange\s+on\s+which\s+registered", re.IGNORECASE)
_END_OF_TABLE = re.compile(
    r"indicate\s+by\s+check\s+mark|securities\s+registered\s+pursuant\s+to\s+section\s+12\(g\)", re.I
)
_EMPLOYER_ID = re.compile(r"\b\d{2}-\d{7}\b")
_TELEPHONE = re.compile(r"\(\d{3}\)\s*\d{3}-\d{4}")
_ZIP = re.compile(r"\b\d{5}(?:-\d{4})?\b")
# A US exchange as covers name it: "The Nasdaq Global Select Market", "NASDAQ", "New York Stock Exchange".
_EXCHANGE = re.compile(
    r"(?:The\s+)?(?:Nasdaq|NASDAQ)(?:\s+(?:Global\s+Select|Global|Capital|Stock)\s+Market(?:\s+LLC)?)?"
    r"|(?:The\s+)?New\s+York\s+Stock\s+Exchange(?:\s+LLC)?|NYSE(?:\s+(?:American|Arca|Texas))?(?:\s+LLC)?"
    r"|(?:The\s+)?Chicago\s+Stock\s+Exchange|Cboe\s+\w+\s+Exchange"
)
_SYMBOL_BEFORE = re.compile(r"\b([A-Z][A-Z.]{0,5})\s*$")


@dataclass(frozen=True)
class Stated:
    field: Field
    value: str  # as the cover prints it: "Delaware", "The Nasdaq Global Select Market"
    start: int  # where the cover states it in the text read: the value with its label
    end: int

    def render(self) -> str:
        return f"{self.field.value[0].upper()}{self.field.value[1:]}: {self.value}"


def fields_asked(question: str) -> list[Field]:
    """The fields a question asks for; none for one asking when ("when was NVIDIA reincorporated
    in Delaware": a date the cover does not give)."""
    if ASKS_DATE.search(question):
        return []
    return [field for field, pattern in _ASKED if pattern.search(question)]


def asks_for_registrant_fact(question: str) -> bool:
    return bool(fields_asked(question))


def states_registrant_facts(text: str) -> bool:
    """A cover page's labelled fields (its chunks are the ones that answer such questions)."""
    return bool(_INCORPORATION_LABEL.search(text) or _EXCHANGE_HEADER.search(text) or _ADDRESS_LABEL.search(text))


def registrant_facts(text: str) -> list[Stated]:
    """Every field the cover in `text` states, in the order printed."""
    found: list[Stated] = []
    label = _INCORPORATION_LABEL.search(text)
    after = 0  # where the address may start: the line after the label's closing bracket
    if label:
        line_start, line_end = _line_before(text, label.start())
        line = text[line_start:line_end]
        employer = _EMPLOYER_ID.search(line)
        value = (line[: employer.start()] if employer else line).strip(" \u00a0\t,")
        close = text.find(")", label.start())
        if value and len(value) <= 40:
            found.append(Stated(Field.INCORPORATION, value, line_start, close + 1 if close > 0 else label.end()))
        after = text.find("\n", max(close, label.end()))
    found += _address_and_telephone(text, after if after >= 0 else len(text))
    found += _exchanges(text)
    return sorted(found, key=lambda s: s.start)


def _line_before(text: str, at: int) -> tuple[int, int]:
    """The last line with something on it before `at`."""
    end = len(text[:at].rstrip(" \u00a0\t\n"))
    return text.rfind("\n", 0, end) + 1, end


def _address_and_telephone(text: str, after: int) -> list[Stated]:
    """The lines between the incorporation field and the address label (a telephone among them),
    or without a label (Microsoft's cover), the first line after the incorporation field that
    ends in a ZIP code."""
    found: list[Stated] = []
    label = _ADDRESS_LABEL.search(text, after)
    window_end = label.start() if label else min(len(text), after + 400)
    window = text[after:window_end]
    lines = [(after + m.start(), after + m.end(), m.group(0).strip()) for m in re.finditer(r"[^\n]+", window)]
    # not the labels' brackets, which may run over lines ("(I.R.S. Employer / Identification No.)")
    lines = [(s, e, t) for s, e, t in lines if t and "(" not in t and ")" not in t]
    address = [(s, e, t) for s, e, t in lines if not _TELEPHONE.fullmatch(t) and not t.lower().startswith("www.")]
    if label is None:
        address = [line for line in address if _ZIP.search(line[2]) and "," in line[2]][:1]
    address = [line for line in address if not _EMPLOYER_ID.search(line[2])]
    if address and len(address) <= 3:
        value = ", ".join(t for _, _, t in address)
        found.append(Stated(Field.ADDRESS, value, address[0][0], label.end() if label else address[-1][1]))
    phone = _TELEPHONE.search(text, after, min(len(text), window_end + 200))
    if phone:
        found.append(Stated(Field.TELEPHONE, phone.group(0), phone.start(), phone.end()))
    return found


def _exchanges(text: str) -> list[Stated]:
    """The exchange (and symbol) of the first class of securities under the registration table's
    header: the common stock, which is what a question about "the stock" means."""
    header = _EXCHANGE_HEADER.search(text)
    if header is None:
        return []
    table_end = _END_OF_TABLE.search(text, header.end())
    table = text[header.end() : table_end.start() if table_end else min(len(text), header.end() + 1500)]
    exchange = _EXCHANGE.search(table)
    if exchange is None:
        return []
    start, end = header.end() + exchange.start(), header.end() + exchange.end()
    line_start = text.rfind("\n", 0, start) + 1
    columns = text.rfind("\n", 0, header.start()) + 1  # "Title of each class Trading symbol(s) Name of ..."
    found = [Stated(Field.EXCHANGE, exchange.group(0), columns, end)]
    symbol = _SYMBOL_BEFORE.search(text[line_start:start].rstrip())
    if symbol:
        found.append(Stated(Field.SYMBOL, symbol.group(1), columns, end))
    return found
