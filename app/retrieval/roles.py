"""Questions about who holds a role or signed a document, and the chunks that can answer them.

"Who is Intel's CFO?" is answered by a signature block ("/s/ DAVID ZINSNER / David Zinsner /
Executive Vice President and Chief Financial Officer"): a page that shares few words with the
question and has none of a sentence's shape, so neither search ranks it above the exhibit lists
and notes that name the same role. The retriever adds the signed chunks as a ranked list of their
own for such questions, as it does the statement pages for questions about figures.
"""

import re

_TITLES = r"ceo|cfo|cao|coo|cto|chief\s+\w+\s+officer|president|chair(?:man|woman)?|treasurer|secretary|controller"
# "who", or a titled person's name asked for: "What's Intel's CEO's name?", "the name of Apple's CFO"
ASKS_WHO = re.compile(
    rf"\bwho\b|\bwhom\b|谁|哪位|\b(?:{_TITLES})(?:['’]s)?\s+name\b|\bname\s+of\s+(?:\S+\s+){{0,2}}(?:{_TITLES})\b",
    re.IGNORECASE,
)
_ROLE = re.compile(
    r"\b(?:ceo|cfo|cao|coo|chief|officer|president|controller|treasurer|secretary|chairman|chair|director|"
    r"signs?|signed|signatory|signer)\b|首席|总裁|总经理|董事|财务官|会计官|执行官|签署|签字|签名",
    re.IGNORECASE,
)
# "When was the 10-Q signed?", "10-Q是哪天签的？": the date beside the signatures
_ASKS_WHEN = re.compile(r"\bwhen\b|\b(?:what|which)\s+(?:date|day)\b|哪天|哪一天|什么时候|何时|日期", re.I)
_SIGNING = re.compile(r"\bsign(?:s|ed|ing)?\b|签", re.IGNORECASE)
# the report's signing, not an agreement's
_REPORT = re.compile(r"(?<![a-z0-9])10-?[QK](?![a-z])|\breport\b|\bfiling\b|报告|季报|年报", re.IGNORECASE)
SIGNATURE_MARK = "/s/"


def asks_for_signer(question: str) -> bool:
    """A "who" question that names a role or signing, or one asking when a document was signed."""
    who = ASKS_WHO.search(question) and _ROLE.search(question)
    when = _ASKS_WHEN.search(question) and _SIGNING.search(question) and _REPORT.search(question)
    return bool(who or when)


def is_signed(text: str) -> bool:
    return SIGNATURE_MARK in text
