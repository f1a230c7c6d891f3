"""For the tokenizer and chat-template tests: the bundled tokenizer, ours and transformers', built once."""

import functools
import os
from typing import Any

from model.bundled import bundled_gguf_path
from model.tokenizer import Tokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@functools.cache
def bundled_tokenizer() -> Tokenizer:
    return Tokenizer.from_gguf(bundled_gguf_path())


@functools.cache
def reference_tokenizer() -> Any:
    """transformers' tokenizer for the same GGUF: the reference ours must match."""
    from transformers import AutoTokenizer

    path = bundled_gguf_path()
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


# Text that stresses a byte-level BPE: several scripts, code, digits, whitespace runs, specials in text.
CORPUS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces and trailing spaces   ",
    "tabs\tand\nnewlines\n\n\nand\r\nCRLF",
    "Numbers: 3.14159, 1,000,000 and 2024-06-30; x   1 and  42.",
    "def add(a: int, b: int) -> int:\n    return a + b  # comment\n",
    'if (x != y && z >= 10) { printf("%d\\n", x); }',
    "中文文本：公司的季度报告显示收入增长了百分之十二。",
    "Mixed 中英 text with émojis 😀🎉👩‍👩‍👧 and accents: naïve café Zürich",
    "日本語のテキストと한국어 텍스트",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "Special tokens glued:<|im_end|><|endoftext|>text after",
    "Apostrophes: don't, I'm, they're, we've, she'll, he'd",
    "",
    " ",
    "\u00a0non-breaking\u2003em space\u200bzero-width",
]
