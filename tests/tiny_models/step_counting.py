"""Counting what a transformer really computes: its last block's attention runs once per
computed step and not at all on a step a cache hook skipped or predicted."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def _last_attention(transformer: Any) -> Any:
    for name in ("single_transformer_blocks", "transformer_blocks"):
        blocks = getattr(transformer, name, None)
        if blocks is not None and len(blocks) and hasattr(blocks[-1], "attn"):
            return blocks[-1].attn
    raise ValueError(f"{type(transformer).__name__} has no transformer blocks with attention")


@contextlib.contextmanager
def counting_computed_steps(transformer: Any) -> Iterator[list[int]]:
    """Yield a one-item list holding how many times the last block's attention ran."""
    attention = _last_attention(transformer)
    processor = attention.processor
    count = [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return processor(*args, **kwargs)

    attention.processor = counted
    try:
        yield count
    finally:
        attention.processor = processor
