"""A tiny Qwen tokenizer written offline, for the tiny Z-Image and Qwen-Image models.

Real Qwen tokenizers cannot be downloaded here. This one is a byte-level BPE built with
``Qwen2Tokenizer`` (the ``tokenizers`` library underneath): the 256 byte symbols, a few merges,
the chat-template special tokens the pipelines insert (``<|im_start|>``, ``<|im_end|>``,
``<|vision_start|>``, ``<|image_pad|>``, …) and a ChatML chat template. Its ids stay below
:data:`QWEN_VOCAB`, the vocabulary size the tiny text encoders are built with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.tiny_models.tiny_model import _bytes_to_unicode

QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
QWEN_VOCAB = 320  # byte symbols + merges + special tokens, with room to spare
_MERGES = ("t h", "th e", "a n", "o n", "i n", "e r", "Ġ a", "Ġ th")
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% else %}<|vision_start|><|image_pad|><|vision_end|>{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def build_qwen_tokenizer() -> Any:
    """The tiny Qwen2 tokenizer (byte-level BPE, special tokens, ChatML template)."""
    from transformers import Qwen2Tokenizer

    symbols = list(_bytes_to_unicode().values())
    symbols += [merge.replace(" ", "") for merge in _MERGES]
    vocab = {symbol: i for i, symbol in enumerate(symbols)}
    merges: Any = [tuple(merge.split()) for merge in _MERGES]  # pairs (the hint says str)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges)
    tokenizer.add_special_tokens(
        {"additional_special_tokens": list(QWEN_SPECIAL_TOKENS[1:])},
        replace_extra_special_tokens=False,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    assert len(tokenizer) <= QWEN_VOCAB
    return tokenizer


def write_qwen_tokenizer(folder: Path) -> Any:
    """Write the tiny Qwen tokenizer to ``folder`` and return it."""
    tokenizer = build_qwen_tokenizer()
    tokenizer.save_pretrained(folder)
    return tokenizer
