"""Questions a filing's cover page answers, and the chunks that answer them: how many shares a
company has outstanding, and when the period it reports on ended.

A filing's cover page states the count on a recent date ("15,634,232,000 shares of common stock
were issued and outstanding as of July 21, 2023"; "As of July 21, 2023, the registrant had
outstanding 4,188 million shares"), amid check boxes that share no word with "How many Apple
shares were outstanding in late July 2023?", while the notes' weighted-average share counts match
the question well and answer another one. "What date did Intel's second quarter of 2023 end?" is
answered by the cover's "For the quarterly period ended July 1, 2023", and its only content word,
"date", is on every page. The retriever adds the cover chunks as a ranked list of their own for
such questions, as it does signature blocks for "who" questions (roles.py).
"""

import re

# "shares ... outstanding", "outstanding shares", "share count"; Chinese 流通股 / 在外流通 / 已发行…股 / 发行在外…股.
_ASKS = re.compile(
    r"\bshares?\b[^?.]{0,60}\boutstanding\b|\boutstanding\s+(?:common\s+)?shares?\b|\bshare\s+count\b"
    r"|流通股|在外流通|(?:已发行|发行在外)[^？?]{0,8}股",
    re.IGNORECASE,
)
# Counts over a period are the notes' (earnings per share), not the cover's.
_AVERAGED = re.compile(r"\b(?:weighted|average|diluted|basic|dilutive)\b|加权|平均|摊薄|稀释", re.IGNORECASE)
# The cover's own form: its check boxes ("shell company", Rule 12b-2) or "latest practicable date".
_COVER = re.compile(r"shell\s+company|latest\s+practicable\s+date", re.IGNORECASE)
_STATED = re.compile(r"\boutstanding\b[^.]{0,80}?\d|\d[^.]{0,80}?\boutstanding\b", re.IGNORECASE)


def asks_for_shares_outstanding(question: str) -> bool:
    return bool(_ASKS.search(question)) and not _AVERAGED.search(question)


def says_averaged(text: str) -> bool:
    """ "Weighted average outstanding shares": a count over the period, not the shares outstanding on a day."""
    return _AVERAGED.search(text) is not None


def states_shares_outstanding(text: str) -> bool:
    """A cover page's share count: the form's check boxes and a figure beside "outstanding"."""
    return bool(_COVER.search(text) and _STATED.search(text))


# "When did the quarter end?", "What date did Intel's second quarter of 2023 end?", "苹果2022财年第三季度是哪天结束的？"
# A question for a date ("when", "what date", "哪天"); the extractor's test too.
# "日期" asks a date, unless its 日 ends one: "2023年10月29日期末" is "at the end of October 29".
# A day asked for in so many words ("which day", "哪天"); "when" may ask a time ("at noon") or an event.
ASKS_DAY = re.compile(
    r"\bwhat\s+(?:date|day)\b|\bwhich\s+(?:date|day)\b|哪天|哪一天|几号|(?<![0-9〇一二三四五六七八九十])日期",
    re.IGNORECASE,
)
# A past event's date asked for: "when did/was", "what year", "哪一年", "是什么时候…的" (the
# construction that asks when something happened); any day, month or year answers it.
ASKS_WHEN_IT_HAPPENED = re.compile(
    r"\bwhen\s+(?:did|was|were)\b|\b(?:what|which)\s+year\b|哪一?年|是(?:什么时候|何时)[^，。？?]*的",
    re.IGNORECASE,
)
ASKS_DATE = re.compile(
    r"\bwhen\b|\bwhat\s+(?:date|day)\b|\bwhich\s+(?:date|day)\b|哪天|哪一天|何时|什么时候|几号"
    r"|(?<![0-9〇一二三四五六七八九十])日期",
    re.IGNORECASE,
)
_ASKS_END = re.compile(
    # not "the quarter ended July 1, 2023", which names the end to say which report
    r"\b(?:quarter|period|fiscal\s+year)\b[^?]{0,40}?\b(?:end|ends|ended|close|closes|closed)\b(?!\s+(?:on\s+)?\w+\s+\d)"
    r"|\bend\s+of\s+(?:the\s+|its\s+)?(?:fiscal\s+)?(?:quarter|period)\b|(?:季度|财年|报告期)[^？?]{0,12}(?:结束|截止|截至哪)",
    re.IGNORECASE,
)
# The cover's "For the quarterly period ended July 1, 2023", under the form's name.
PERIOD_ENDED = re.compile(
    r"\bfor\s+the\s+(?:quarterly\s+period|fiscal\s+year|transition\s+period)\s+ended\s+[A-Z][a-z]+\s+\d{1,2},\s*\d{4}",
    re.IGNORECASE,
)
_REPORT_FORM = re.compile(r"(?:quarterly|annual)\s+report\s+pursuant\s+to\s+section", re.IGNORECASE)


def asks_for_period_end(question: str) -> bool:
    return bool(ASKS_DATE.search(question) and _ASKS_END.search(question))


def states_period_end(text: str) -> bool:
    """A cover page's "For the quarterly period ended ..." (notes say "period ended" everywhere)."""
    return bool(_REPORT_FORM.search(text) and PERIOD_ENDED.search(text))
