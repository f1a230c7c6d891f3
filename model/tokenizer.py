"""Text <-> token ids for our decoder, on the `tokenizers` library.

Built from a GGUF's tokenizer metadata (`Tokenizer.from_gguf`) or from a Hugging Face folder's
tokenizer.json (`Tokenizer.from_hf_folder`). Ids match transformers' for the same files.
"""

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Regex, decoders, normalizers, pre_tokenizers
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers.models import BPE

from model.chat_template import BuiltinTemplateName, ChatMessage, ChatTemplate
from model.errors import TokenizerError
from model.gguf_metadata import GGUFMetadataError, read_metadata

# llama.cpp token types (tokenizer.ggml.token_type)
_CONTROL = 3
_USER_DEFINED = 4

# Regexes transformers uses for GGUF `tokenizer.ggml.pre` values (integrations/gguf): text is split this
# way before byte-level BPE. A pre type not listed gets GPT-2's own split, as in transformers.
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
BYTE_LEVEL_SPLITS: dict[str, str] = {
    **dict.fromkeys(("llama3", "llama-v3", "llama-bpe", "falcon3", "smaug-bpe", "dbrx"), _LLAMA3_SPLIT),
    **dict.fromkeys(("qwen2", "deepseek-r1-qwen"), _QWEN2_SPLIT),
}

# A probe the end-of-turn detection writes as an assistant reply, to see what the template puts after it.
_TURN_PROBE = "kb-end-of-turn-probe"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map: byte-level BPE vocabularies are spelled in it."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {byte: chr(char) for byte, char in zip(printable, chars, strict=True)}


class Tokenizer:
    """A `tokenizers.Tokenizer` plus the facts generation needs: BOS/EOS, stop ids, chat template."""

    def __init__(
        self,
        backend: BackendTokenizer,
        *,
        bos_id: int | None,
        eos_id: int | None,
        chat_template: ChatTemplate | None = None,
        add_bos_token: bool = False,
        extra_stop_ids: Iterable[int] = (),
    ) -> None:
        self.backend = backend
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.add_bos_token = add_bos_token  # whether the model expects BOS before a raw (non-chat) prompt
        self._chat_template = chat_template
        self._special_ids = frozenset(
            token_id for token_id, token in backend.get_added_tokens_decoder().items() if token.special
        )
        self._byte_ids = _byte_fallback_ids(backend)
        stops = set(extra_stop_ids)
        if eos_id is not None:
            stops.add(eos_id)
        end_of_turn = self._end_of_turn_id()
        if end_of_turn is not None:
            stops.add(end_of_turn)
        self.stop_ids: frozenset[int] = frozenset(stops)

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_gguf(cls, path: Path, *, fallback_template: BuiltinTemplateName | None = None) -> "Tokenizer":
        """Build from a GGUF's `tokenizer.*` metadata; `fallback_template` is used only if it has none."""
        meta = _read_gguf_tokenizer_metadata(path)
        kind = meta.get("tokenizer.ggml.model")
        if kind == "gpt2":
            backend = _byte_level_backend(meta)
        elif kind == "llama":
            backend = _sentencepiece_backend(meta)
        else:
            raise TokenizerError(
                f"{path.name} uses tokenizer type {kind!r}, which we do not support "
                "(supported: 'gpt2', 'llama'); use the model's Hugging Face folder (tokenizer.json) instead."
            )
        tokens: list[str] = meta["tokenizer.ggml.tokens"]
        bos_id = _optional_int(meta.get("tokenizer.ggml.bos_token_id"))
        eos_id = _optional_int(meta.get("tokenizer.ggml.eos_token_id"))
        template = _make_template(
            meta.get("tokenizer.chat_template"),
            fallback_template,
            bos_token=tokens[bos_id] if bos_id is not None else None,
            eos_token=tokens[eos_id] if eos_id is not None else None,
            unk_token=_token_at(tokens, meta.get("tokenizer.ggml.unknown_token_id")),
            pad_token=_token_at(tokens, meta.get("tokenizer.ggml.padding_token_id")),
        )
        return cls(
            backend,
            bos_id=bos_id,
            eos_id=eos_id,
            chat_template=template,
            # llama.cpp's default: a SentencePiece vocabulary gets BOS unless the file says otherwise.
            add_bos_token=bool(meta.get("tokenizer.ggml.add_bos_token", kind == "llama")),
            extra_stop_ids=[
                int(meta[key]) for key in ("tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id") if key in meta
            ],
        )

    @classmethod
    def from_hf_folder(cls, folder: Path, *, fallback_template: BuiltinTemplateName | None = None) -> "Tokenizer":
        """Build from tokenizer.json + tokenizer_config.json (+ special_tokens_map, generation_config)."""
        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise TokenizerError(
                f"{folder} has no tokenizer.json; give a Hugging Face model folder with a fast tokenizer."
            )
        try:
            backend = BackendTokenizer.from_file(str(tokenizer_file))
        except Exception as exc:  # the library raises a bare Exception on a malformed file
            raise TokenizerError(f"{tokenizer_file} could not be read: {exc}") from exc
        config = _read_json(folder / "tokenizer_config.json")
        special_map = _read_json(folder / "special_tokens_map.json")
        generation = _read_json(folder / "generation_config.json")
        # tokenizer_config.json wins over the legacy special_tokens_map.json, as in transformers.
        names = {
            key: _token_content(config.get(key, special_map.get(key)))
            for key in ("bos_token", "eos_token", "unk_token", "pad_token")
        }
        bos_id = _id_of(backend, names["bos_token"], "bos_token")
        eos_id = _id_of(backend, names["eos_token"], "eos_token")
        template_source = config.get("chat_template")
        if isinstance(template_source, list):  # several named templates: "default" is the chat one
            named = {t.get("name"): t.get("template") for t in template_source}
            template_source = named.get("default")
        chat_template_file = folder / "chat_template.jinja"
        if template_source is None and chat_template_file.is_file():
            template_source = chat_template_file.read_text(encoding="utf-8")
        template = _make_template(template_source, fallback_template, **names)
        gen_eos = generation.get("eos_token_id", [])
        return cls(
            backend,
            bos_id=bos_id,
            eos_id=eos_id,
            chat_template=template,
            add_bos_token=bool(config.get("add_bos_token", False)),
            extra_stop_ids=[gen_eos] if isinstance(gen_eos, int) else gen_eos,
        )

    # -- encoding and decoding ---------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return int(self.backend.get_vocab_size(with_added_tokens=True))

    def encode(self, text: str, *, add_bos: bool = False) -> list[int]:
        """Token ids of `text`; special tokens written in it (e.g. <|im_start|>) become their ids."""
        ids: list[int] = self.backend.encode(text, add_special_tokens=False).ids
        if add_bos:
            if self.bos_id is None:
                raise TokenizerError("This model has no BOS token; encode with add_bos=False.")
            ids.insert(0, self.bos_id)
        return ids

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        return str(self.backend.decode(list(ids), skip_special_tokens=skip_special))

    def token_to_id(self, token: str) -> int | None:
        token_id = self.backend.token_to_id(token)
        return None if token_id is None else int(token_id)

    def is_special(self, token_id: int) -> bool:
        return token_id in self._special_ids

    def is_byte_fallback(self, token_id: int) -> bool:
        """A SentencePiece <0xXX> byte token: its text depends on the whole run of byte tokens around it."""
        return token_id in self._byte_ids

    def stream_decoder(self, *, skip_special: bool = True) -> "StreamingDecoder":
        return StreamingDecoder(self, skip_special=skip_special)

    # -- chat --------------------------------------------------------------------------------------

    @property
    def has_chat_template(self) -> bool:
        return self._chat_template is not None

    @property
    def chat_template(self) -> ChatTemplate:
        if self._chat_template is None:
            raise TokenizerError(
                "This model carries no chat template: load it with fallback_template='llama2' or 'chatml'."
            )
        return self._chat_template

    def apply_chat_template(self, messages: Sequence[ChatMessage], add_generation_prompt: bool = True) -> list[int]:
        """Token ids of the rendered conversation; BOS comes from the template itself, never added twice."""
        return self.encode(self.chat_template.render(messages, add_generation_prompt=add_generation_prompt))

    def _end_of_turn_id(self) -> int | None:
        """The special token the template writes right after an assistant reply (<|im_end|>, </s>, ...)."""
        if self._chat_template is None:
            return None
        probe = [ChatMessage("user", "hi"), ChatMessage("assistant", _TURN_PROBE)]
        try:
            text = self._chat_template.render(probe, add_generation_prompt=False)
        except TokenizerError:
            return None  # a template that needs another shape of conversation: no end-of-turn to learn
        after = text.rpartition(_TURN_PROBE)[2].lstrip()
        if not after or _TURN_PROBE not in text:
            return None
        ids = self.backend.encode(after, add_special_tokens=False).ids
        return ids[0] if ids and ids[0] in self._special_ids else None


class StreamingDecoder:
    """Turns generated ids into text pieces as they arrive, never splitting a UTF-8 character.

    Each step decodes only a small window: the ids of the last emitted piece (context for decoders
    whose output depends on the previous token) plus the ids not yet emitted. A piece is released
    once the window's text no longer ends in U+FFFD, i.e. its last character is complete. A run of
    SentencePiece byte tokens is held until it ends: one invalid byte turns the whole run into U+FFFD.
    """

    # A character is at most 4 bytes and every token at least 1, so text still incomplete after this
    # many pending ids is genuinely invalid UTF-8 and gets released rather than held forever.
    MAX_PENDING = 8

    def __init__(self, tokenizer: Tokenizer, *, skip_special: bool = True) -> None:
        self._tokenizer = tokenizer
        self._skip_special = skip_special
        self._ids: list[int] = []  # window: [context ids of the last piece | pending ids]
        self._read = 0  # index in _ids where the pending ids start

    def feed(self, token_id: int) -> str:
        self._ids.append(token_id)
        context = self._decode(self._ids[: self._read])
        text = self._decode(self._ids)
        if self._tokenizer.is_byte_fallback(token_id):
            return ""
        if len(text) > len(context) and not text.endswith("\ufffd"):
            return self._release(len(self._ids), text, context)
        if len(self._ids) - self._read > self.MAX_PENDING:
            return self._release_invalid(text, context)
        return ""

    def flush(self) -> str:
        context = self._decode(self._ids[: self._read])
        text = self._decode(self._ids)
        piece = text[len(context) :]
        self._ids, self._read = [], 0
        return piece

    def _release(self, end: int, text: str, context: str) -> str:
        # The released ids become the next window's context; keep the old context when the piece is only
        # skipped specials, whose empty text gives a decoder nothing to lean on (Llama's leading-space strip).
        pending = self._ids[self._read : end]
        if any(not (self._skip_special and self._tokenizer.is_special(i)) for i in pending):
            self._ids, self._read = self._ids[self._read :], end - self._read
        else:
            self._read = end
        return text[len(context) :]

    def _release_invalid(self, text: str, context: str) -> str:
        # Release the longest prefix of the pending ids whose text is final: a prefix of the window's text,
        # ending outside a run of byte tokens.
        is_byte = self._tokenizer.is_byte_fallback
        for end in range(len(self._ids) - 1, self._read, -1):
            if is_byte(self._ids[end - 1]) and is_byte(self._ids[end]):
                continue
            head = self._decode(self._ids[:end])
            if len(head) > len(context) and text.startswith(head):
                return self._release(end, head, context)
        return ""

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special=self._skip_special) if ids else ""


# -- GGUF --------------------------------------------------------------------------------------------


def _byte_fallback_ids(backend: BackendTokenizer) -> frozenset[int]:
    model = backend.model
    if not (isinstance(model, BPE) and model.byte_fallback):
        return frozenset()
    vocab = backend.get_vocab(with_added_tokens=False)
    return frozenset(vocab[f"<0x{byte:02X}>"] for byte in range(256) if f"<0x{byte:02X}>" in vocab)


def _read_gguf_tokenizer_metadata(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise TokenizerError(f"The GGUF file {path} does not exist.")
    try:
        meta = read_metadata(path, prefix="tokenizer.")
    except (GGUFMetadataError, OSError) as exc:
        raise TokenizerError(f"{path} is not a readable GGUF file: {exc}") from exc
    if "tokenizer.ggml.tokens" not in meta:
        raise TokenizerError(f"{path.name} carries no tokenizer (tokenizer.ggml.tokens is missing).")
    return meta


def _byte_level_backend(meta: dict[str, Any]) -> BackendTokenizer:
    """Byte-level BPE (GPT-2 style), as transformers builds it from the same metadata."""
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    if "tokenizer.ggml.merges" not in meta:
        raise TokenizerError("This byte-level GGUF has no tokenizer.ggml.merges; the file is incomplete.")
    spelling = bytes_to_unicode()
    alphabet = set(spelling.values())

    def spelled(token: str) -> str:
        # A few files store tokens as raw text; the BPE model needs them in the byte alphabet.
        return token if set(token) <= alphabet else "".join(spelling[b] for b in token.encode("utf-8"))

    vocab = {spelled(token): index for index, token in enumerate(tokens)}
    merges = [tuple(merge.split(" ")) for merge in meta["tokenizer.ggml.merges"]]
    backend = BackendTokenizer(
        BPE(vocab=vocab, merges=merges, dropout=None, continuing_subword_prefix="", end_of_word_suffix="")
    )
    split = BYTE_LEVEL_SPLITS.get(meta.get("tokenizer.ggml.pre", ""))
    if split is None:
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(split), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    backend.decoder = decoders.ByteLevel()
    # Control tokens outside the byte alphabet are llama.cpp mislabels; adding them would grow the vocab.
    _add_gguf_added_tokens(backend, meta, keep=lambda token: set(token) <= alphabet)
    return backend


def _sentencepiece_backend(meta: dict[str, Any]) -> BackendTokenizer:
    """SentencePiece BPE with byte fallback (Llama-2), shaped like Llama-2's own tokenizer.json.

    Like llama.cpp and Meta's reference, every text segment (the start, and text after each special
    token) gets the "▁" word-start prefix. transformers' GGUF conversion prefixes only the first
    segment, so ids differ from it right after a special token, e.g. after <s> in "<s>[INST]".
    """
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    scores: list[float] | None = meta.get("tokenizer.ggml.scores")
    if "tokenizer.ggml.merges" in meta:
        merges = [tuple(merge.split(" ")) for merge in meta["tokenizer.ggml.merges"]]
    elif scores is not None:
        merges = _merges_from_scores(tokens, scores)
    else:
        raise TokenizerError("This SentencePiece GGUF has neither merges nor scores; the file is incomplete.")
    vocab = {token: index for index, token in enumerate(tokens)}
    unk = _token_at(tokens, meta.get("tokenizer.ggml.unknown_token_id"))
    backend = BackendTokenizer(BPE(vocab=vocab, merges=merges, unk_token=unk, fuse_unk=True, byte_fallback=True))
    add_prefix = bool(meta.get("tokenizer.ggml.add_space_prefix", True))
    steps = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    if add_prefix:
        backend.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        steps.append(decoders.Strip(" ", 1, 0))
    else:
        backend.normalizer = normalizers.Replace(" ", "▁")
    backend.decoder = decoders.Sequence(steps)
    _add_gguf_added_tokens(backend, meta, keep=lambda token: True)
    return backend


def _merges_from_scores(tokens: list[str], scores: list[float]) -> list[tuple[str, str]]:
    """BPE merges implied by a scored vocabulary (as transformers' generate_merges): every split of a
    token into two vocabulary pieces is a merge, ranked by the whole token's score, best first."""
    vocab = {token: index for index, token in enumerate(tokens)}
    ranked: list[tuple[str, str, float]] = []
    for token, score in dict(zip(tokens, scores, strict=True)).items():
        splits = [
            (token[:cut], token[cut:], score)
            for cut in range(1, len(token))
            if token[:cut] in vocab and token[cut:] in vocab
        ]
        ranked.extend(sorted(splits, key=lambda m: (vocab[m[0]], vocab[m[1]])))
    ranked.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    return [(left, right) for left, right, _ in ranked]


def _add_gguf_added_tokens(backend: BackendTokenizer, meta: dict[str, Any], keep: Any) -> None:
    """Control tokens (and the named bos/eos/unk/pad) as special tokens, user-defined ones as plain added
    tokens: either way they are matched whole in the text instead of being cut into pieces."""
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    types: list[int] = meta.get("tokenizer.ggml.token_type") or []
    special = [t for t, kind in zip(tokens, types, strict=False) if kind == _CONTROL and keep(t)]
    for key in ("bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id"):
        named = _token_at(tokens, meta.get(f"tokenizer.ggml.{key}"))
        if named is not None and named not in special:
            special.append(named)
    backend.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in special])
    vocab = backend.get_vocab()
    user = [t for t, kind in zip(tokens, types, strict=False) if kind == _USER_DEFINED and t in vocab]
    if user:
        backend.add_tokens([AddedToken(t, normalized=False, special=False) for t in user])


# -- small helpers -----------------------------------------------------------------------------------


def _make_template(
    source: str | None, fallback: BuiltinTemplateName | None, **special_tokens: str | None
) -> ChatTemplate | None:
    if source:
        return ChatTemplate(source, **special_tokens)
    if fallback is not None:
        return ChatTemplate.builtin(
            fallback, bos_token=special_tokens.get("bos_token"), eos_token=special_tokens.get("eos_token")
        )
    return None


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TokenizerError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise TokenizerError(f"{path} should hold a JSON object.")
    return data


def _token_content(value: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or an AddedToken dict."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _id_of(backend: BackendTokenizer, token: str | None, name: str) -> int | None:
    if token is None:
        return None
    token_id = backend.token_to_id(token)
    if token_id is None:
        raise TokenizerError(f"The {name} {token!r} named in tokenizer_config.json is not in tokenizer.json.")
    return int(token_id)


def _token_at(tokens: list[str], index: Any) -> str | None:
    index = _optional_int(index)
    return tokens[index] if index is not None and 0 <= index < len(tokens) else None


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


__all__ = ["ChatMessage", "StreamingDecoder", "Tokenizer", "bytes_to_unicode"]
