"""Chat templates: turn a conversation into the prompt text a chat model was trained on.

Templates are Jinja, rendered the way transformers' `apply_chat_template` renders them (sandboxed,
trim_blocks + lstrip_blocks, `raise_exception`, a `tojson` that does not escape HTML), so a template
taken from a model's own metadata gives byte-identical prompts. Two built-in templates cover models
that carry none; the caller picks one by name, we never guess from the model's name.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from model.errors import TokenizerError

BuiltinTemplateName = Literal["llama2", "chatml"]

# The official template of meta-llama/Llama-2-*-chat-hf (tokenizer_config.json), verbatim: the
# system prompt goes inside the first [INST] block; every user turn starts with BOS.
LLAMA2_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)

# Plain ChatML (no default system prompt), as OpenHermes and others ship it.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

BUILTIN_TEMPLATES: dict[str, str] = {"llama2": LLAMA2_CHAT_TEMPLATE, "chatml": CHATML_TEMPLATE}


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user" or "assistant"
    content: str


class _GenerationTag(Extension):
    """Accept `{% generation %}...{% endgeneration %}` (assistant-mask markers) and render the body as is."""

    tags = {"generation"}  # noqa: RUF012 - jinja reads it as a class attribute

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render_body"), [], [], body).set_lineno(lineno)

    def _render_body(self, caller: Any) -> str:
        return str(caller())


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # Jinja's own tojson escapes <, >, & for HTML; transformers' does not, and templates expect that.
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _environment() -> ImmutableSandboxedEnvironment:
    # Templates come with downloaded models: untrusted code, hence the immutable sandbox.
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationTag, "jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


class ChatTemplate:
    """A compiled chat template plus the special-token strings it may refer to."""

    def __init__(
        self,
        source: str,
        *,
        bos_token: str | None = None,
        eos_token: str | None = None,
        unk_token: str | None = None,
        pad_token: str | None = None,
    ) -> None:
        self.source = source
        # Named like transformers' special_tokens_map, which is what templates read.
        self.special_tokens = {
            name: token
            for name, token in (
                ("bos_token", bos_token),
                ("eos_token", eos_token),
                ("unk_token", unk_token),
                ("pad_token", pad_token),
            )
            if token is not None
        }
        try:
            self._template = _environment().from_string(source)
        except jinja2.exceptions.TemplateSyntaxError as exc:
            raise TokenizerError(
                f"The model's chat template is not valid Jinja ({exc.message}, line {exc.lineno}); "
                "choose a built-in template ('llama2' or 'chatml') instead."
            ) from exc

    @classmethod
    def builtin(
        cls, name: BuiltinTemplateName, *, bos_token: str | None = None, eos_token: str | None = None
    ) -> "ChatTemplate":
        if name not in BUILTIN_TEMPLATES:
            raise TokenizerError(
                f"Unknown built-in chat template {name!r}; choose one of {sorted(BUILTIN_TEMPLATES)}."
            )
        return cls(BUILTIN_TEMPLATES[name], bos_token=bos_token, eos_token=eos_token)

    def render(self, messages: Sequence[ChatMessage], add_generation_prompt: bool = True) -> str:
        if not messages:
            raise TokenizerError("Cannot build a prompt from an empty conversation: give a message.")
        plain = [{"role": m.role, "content": m.content} for m in messages]
        try:
            return self._template.render(
                messages=plain,
                tools=None,  # passed as None, like transformers, so `tools is not none` tests behave
                documents=None,
                add_generation_prompt=add_generation_prompt,
                **self.special_tokens,
            )
        except jinja2.exceptions.TemplateError as exc:
            raise TokenizerError(f"The chat template rejected this conversation: {exc}") from exc

    def __repr__(self) -> str:
        return f"ChatTemplate({self.source[:40]!r}...)"
