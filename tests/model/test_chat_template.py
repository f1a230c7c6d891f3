"""Chat templates render byte-for-byte what transformers renders, and tokenize to the same ids."""

import json
from pathlib import Path
from typing import Any

import pytest

from model.chat_template import CHATML_TEMPLATE, LLAMA2_CHAT_TEMPLATE, ChatMessage, ChatTemplate
from model.errors import TokenizerError
from model.tokenizer import Tokenizer
from tests.model.tok_helpers import bundled_tokenizer, reference_tokenizer

# Copied from meta-llama/Llama-2-7b-chat-hf tokenizer_config.json, kept apart from our copy on purpose.
OFFICIAL_LLAMA2_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}"
    "{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0)"
    " %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + "
    "system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = "
    "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + "
    "content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + "
    "' ' + eos_token }}{% endif %}{% endfor %}"
)

CONVERSATIONS = {
    "user only": [ChatMessage("user", "What is our travel policy?")],
    "with system": [
        ChatMessage("system", "Answer only from the documents. Cite [n]."),
        ChatMessage("user", "  Wie hoch ist das Budget?  "),
    ],
    "multi-turn": [
        ChatMessage("system", "You are terse."),
        ChatMessage("user", "Summarise Q1 2023."),
        ChatMessage("assistant", " Revenue rose 12% [1]. "),
        ChatMessage("user", "而第二季度呢？😀"),
    ],
    "multi-turn without system": [
        ChatMessage("user", "hi"),
        ChatMessage("assistant", "Hello!\n\nHow can I help?"),
        ChatMessage("user", 'Tabs\tand <b>html</b> & "quotes"'),
    ],
}


def as_dicts(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def reference_ids(ref: Any, messages: list[ChatMessage], add_generation_prompt: bool) -> list[int]:
    encoded = ref.apply_chat_template(
        as_dicts(messages), tokenize=True, add_generation_prompt=add_generation_prompt
    )
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


@pytest.fixture(scope="module")
def llama2_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Llama-2-chat style folder: the bundled vocabulary plus <s>/</s> and the official template."""
    from transformers import AutoTokenizer

    base = tmp_path_factory.mktemp("base")
    reference_tokenizer().save_pretrained(base)
    tok = AutoTokenizer.from_pretrained(base)
    tok.add_special_tokens({"bos_token": "<s>", "eos_token": "</s>"})
    folder = tmp_path_factory.mktemp("llama2_chat")
    tok.save_pretrained(folder)
    config_file = folder / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config["chat_template"] = OFFICIAL_LLAMA2_TEMPLATE
    config_file.write_text(json.dumps(config))
    (folder / "chat_template.jinja").unlink(missing_ok=True)  # the config's template is the one in force
    return folder


@pytest.mark.parametrize("add_generation_prompt", [True, False])
@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_bundled_template_matches_transformers(name: str, add_generation_prompt: bool) -> None:
    ours, ref = bundled_tokenizer(), reference_tokenizer()
    messages = CONVERSATIONS[name]
    expected = ref.apply_chat_template(
        as_dicts(messages), tokenize=False, add_generation_prompt=add_generation_prompt
    )
    assert ours.chat_template.render(messages, add_generation_prompt=add_generation_prompt) == expected
    assert ours.apply_chat_template(messages, add_generation_prompt) == reference_ids(
        ref, messages, add_generation_prompt
    )


def test_bundled_template_adds_its_default_system_prompt() -> None:
    text = bundled_tokenizer().chat_template.render([ChatMessage("user", "hi")])
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def llama2_pair(llama2_folder: Path) -> tuple[Tokenizer, Any]:
    from transformers import AutoTokenizer

    return Tokenizer.from_hf_folder(llama2_folder), AutoTokenizer.from_pretrained(llama2_folder)


@pytest.mark.parametrize("add_generation_prompt", [True, False])
@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_llama2_template_matches_transformers(
    llama2_pair: tuple[Tokenizer, Any], name: str, add_generation_prompt: bool
) -> None:
    ours, ref = llama2_pair
    messages = CONVERSATIONS[name]
    expected = ref.apply_chat_template(
        as_dicts(messages), tokenize=False, add_generation_prompt=add_generation_prompt
    )
    assert expected.startswith("<s>[INST] ")
    assert ours.chat_template.render(messages, add_generation_prompt=add_generation_prompt) == expected
    assert ours.apply_chat_template(messages, add_generation_prompt) == reference_ids(
        ref, messages, add_generation_prompt
    )
    # The built-in Llama-2 template is the official one.
    builtin = ChatTemplate.builtin("llama2", bos_token="<s>", eos_token="</s>")
    assert builtin.render(messages, add_generation_prompt) == expected


def test_llama2_folder_stops_at_its_eos(llama2_pair: tuple[Tokenizer, Any]) -> None:
    ours = llama2_pair[0]
    eos = ours.token_to_id("</s>")
    assert ours.eos_id == eos and eos in ours.stop_ids
    assert ours.apply_chat_template([ChatMessage("user", "hi")])[0] == ours.token_to_id("<s>")


def test_builtin_templates_are_the_known_strings() -> None:
    assert LLAMA2_CHAT_TEMPLATE == OFFICIAL_LLAMA2_TEMPLATE
    chatml = ChatTemplate(CHATML_TEMPLATE)
    assert (
        chatml.render([ChatMessage("user", "hi")])
        == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    with pytest.raises(TokenizerError, match="choose one of"):
        ChatTemplate.builtin("vicuna")  # type: ignore[arg-type]


def test_template_errors_are_tokenizer_errors() -> None:
    llama2 = ChatTemplate.builtin("llama2", bos_token="<s>", eos_token="</s>")
    with pytest.raises(TokenizerError, match="must alternate"):
        llama2.render([ChatMessage("user", "a"), ChatMessage("user", "b")])
    with pytest.raises(TokenizerError, match="empty conversation"):
        llama2.render([])
    with pytest.raises(TokenizerError, match="not valid Jinja"):
        ChatTemplate("{% for m in messages %}")


def test_sandbox_blocks_attribute_escapes() -> None:
    hostile = ChatTemplate("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TokenizerError):
        hostile.render([ChatMessage("user", "x")])


def test_tojson_does_not_escape_html_and_generation_tag_renders() -> None:
    template = ChatTemplate(
        "{% for m in messages %}{% generation %}{{ m | tojson }}{% endgeneration %}{% endfor %}"
    )
    assert (
        template.render([ChatMessage("user", "<b>&</b> 中")]) == '{"role": "user", "content": "<b>&</b> 中"}'
    )
