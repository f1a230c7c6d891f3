"""For the tokenizer and chat-template tests: the bundled tokenizer, ours and transformers', built once."""

import functools
import os
from pathlib import Path
from typing import Any

from model.bundled import bundled_gguf_path
from model.tokenizer import Tokenizer, bytes_to_unicode

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


def write_sentencepiece_gguf(path: Path, *, chat_template: str | None = None) -> Path:
    """A metadata-only GGUF with a Llama-2 style SentencePiece vocabulary (<unk>, <s>, </s>, byte tokens,
    scored pieces), its pieces taken from the bundled byte-level vocabulary respelled with "▁"."""
    import gguf

    byte_of = {char: byte for byte, char in bytes_to_unicode().items()}
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256))]
    types = [2, 3, 3, *([6] * 256)]  # unknown, control, control, byte
    seen = set(tokens)
    bundled = bundled_tokenizer()
    for token, token_id in sorted(bundled.backend.get_vocab(with_added_tokens=False).items(), key=lambda kv: kv[1]):
        if bundled.is_special(token_id):
            continue
        try:
            text = bytes(byte_of[c] for c in token).decode("utf-8")
        except (KeyError, UnicodeDecodeError):
            continue  # a piece of a multi-byte character: SentencePiece covers those with byte tokens
        piece = text.replace(" ", "▁")
        if piece not in seen:
            seen.add(piece)
            tokens.append(piece)
            types.append(1)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0, 0.0, 0.0, *([0.0] * 256), *(-float(i) for i in range(len(tokens) - 259))])
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
