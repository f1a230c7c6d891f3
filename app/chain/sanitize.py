"""Keep untrusted text (documents, questions) from becoming chat control tokens.

The prompt is rendered to text and then tokenized with special tokens recognised, so a document
that contains "<|im_end|>" or "[INST]" could close the system turn and speak as someone else.
We remove such strings before templating, repeating until none is left (removal can join halves).
"""

import re
from collections.abc import Iterable

# Control strings of the chat formats we serve (ChatML, Llama-2, Llama-3, generic <|...|> specials).
_GENERIC = re.compile(r"<\|[^<>|\n]{1,40}\|>|\[/?INST\]|<</?SYS>>|</?s>|<\|?(?:begin|end)_of_text\|?>", re.IGNORECASE)


def neutralise(text: str, specials: Iterable[str] = ()) -> str:
    """`text` without chat control strings (the generic ones and the tokenizer's own `specials`)."""
    literal = sorted({s for s in specials if s}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(s) for s in literal)) if literal else None
    while True:
        cleaned = _GENERIC.sub("", text)
        if pattern is not None:
            cleaned = pattern.sub("", cleaned)
        if cleaned == text:
            return cleaned
        text = cleaned
