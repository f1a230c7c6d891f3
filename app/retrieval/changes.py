"""Questions that ask how much something changed ("how much did ... grow", "同比降了多少"): the verbs
that say a change is asked, and which way. The extractor answers such a question with a change
column or a sentence that says how much it moved.

A ranked list of the tables that print a change column, for such questions (as the segment tables
are for a question that names a segment), was measured and left out: it answered one more fresh
question and lost two of the natural dev set to the company's total row ("Revenue: up 11%" for
LinkedIn's growth).
"""

import re

_GO = r"\b(?:go|goes|gone|going|went)\s+"
DOWN_WORDS = rf"declin|decreas|\bf[ae]ll|\bdrop|shr[iau]nk|{_GO}down\b|减少|下降|下滑|跌|(?<!卖)掉了|降了|降低"
UP_WORDS = rf"increas|\bgr[eo]w|\bris[ei]|\brose\b|\bjump|\bclimb|{_GO}up\b|增加|增长|上升|涨"
CHANGE_ASKED = re.compile(rf"chang|变化|{DOWN_WORDS}|{UP_WORDS}", re.IGNORECASE)


def asks_for_change(question: str) -> bool:
    return CHANGE_ASKED.search(question) is not None
