"""Questions about how many shares a company has outstanding, and the chunks that answer them.

A filing's cover page states the count on a recent date ("15,634,232,000 shares of common stock
were issued and outstanding as of July 21, 2023"; "As of July 21, 2023, the registrant had
outstanding 4,188 million shares"), amid check boxes that share no word with "How many Apple
shares were outstanding in late July 2023?", while the notes' weighted-average share counts match
the question well and answer another one. The retriever adds the cover chunks as a ranked list of
their own for such questions, as it does signature blocks for "who" questions (roles.py).
"""

import re

# "shares ... outstanding", "outstanding shares", "share count"; Chinese 流通股 / 在外流通 / 已发行…股.
_ASKS = re.compile(
    r"\bshares?\b[^?.]{0,60}\boutstanding\b|\boutstanding\s+(?:common\s+)?shares?\b|\bshare\s+count\b"
    r"|流通股|在外流通|已发行[^？?]{0,8}股",
    re.IGNORECASE,
)
# Counts over a period are the notes' (earnings per share), not the cover's.
_AVERAGED = re.compile(r"\b(?:weighted|average|diluted|basic|dilutive)\b|加权|平均|摊薄|稀释", re.IGNORECASE)
# The cover's own form: its check boxes ("shell company", Rule 12b-2) or "latest practicable date".
_COVER = re.compile(r"shell\s+company|latest\s+practicable\s+date", re.IGNORECASE)
_STATED = re.compile(r"\boutstanding\b[^.]{0,80}?\d|\d[^.]{0,80}?\boutstanding\b", re.IGNORECASE)


def asks_for_shares_outstanding(question: str) -> bool:
    return bool(_ASKS.search(question)) and not _AVERAGED.search(question)


def states_shares_outstanding(text: str) -> bool:
    """A cover page's share count: the form's check boxes and a figure beside "outstanding"."""
    return bool(_COVER.search(text) and _STATED.search(text))
