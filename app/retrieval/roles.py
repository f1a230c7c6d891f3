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
SIGNATURE_MARK = "/s/"


def asks_for_signer(question: str) -> bool:
    """A "who" question that names a role or signing."""
    return bool(ASKS_WHO.search(question) and _ROLE.search(question))


def is_signed(text: str) -> bool:
    return SIGNATURE_MARK in text
