"""Step caching (the Speed setting): diffusers' cache hooks on a transformer, around one pass.

- ``off``: every step computes every block.
- ``fast``: First-Block Cache (``FirstBlockCacheConfig``): when the first block's output barely
  changed since the last computed step, the other blocks' cached residual is reused.
- ``fastest``: TaylorSeer (``TaylorSeerCacheConfig``): after a few full steps, the attention
  outputs of most steps are predicted from a Taylor series instead of computed.

The hooks go on before the pass and come off after it (also on failure or cancel), so a pass
with speed ``off`` afterwards runs exactly as before. UNet models (SD 1.x/2.x/XL) have no cache
hooks in diffusers: they run every step, and the pass says so once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from core.requests import SPEED_MODES

SPEED_HINTS: dict[str, str] = {
    "off": "every step computes the whole model",
    "fast": "First-Block Cache: skips steps that barely change the picture (transformer models)",
    "fastest": "TaylorSeer: predicts most steps from the last ones; softer detail (transformers)",
}
# fast: cache-dit / ParaAttention use 0.08–0.12 on FLUX.1-dev (1.5–2× at no visible cost);
# the lower end keeps fine detail. fastest: compute 2 steps, then 1 of every 3.
FIRST_BLOCK_THRESHOLD = 0.08
TAYLORSEER_INTERVAL = 3
TAYLORSEER_WARMUP_STEPS = 2
# Transformers whose blocks diffusers' First-Block Cache cannot wrap (0.42: FLUX.2's blocks
# return a pair the hook subtracts as a tensor, a TypeError mid-pass): ``fast`` runs every step.
NO_FIRST_BLOCK_CACHE = frozenset({"Flux2Transformer2DModel"})


def cache_config(speed: str) -> Any:
    """The diffusers cache config for ``speed`` (None for "off")."""
    if speed not in SPEED_MODES:
        raise ValueError(f"unknown speed {speed!r} (choose one of: {', '.join(SPEED_MODES)})")
    if speed == "off":
        return None
    from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

    if speed == "fast":
        return FirstBlockCacheConfig(threshold=FIRST_BLOCK_THRESHOLD)
    return TaylorSeerCacheConfig(
        cache_interval=TAYLORSEER_INTERVAL, disable_cache_before_step=TAYLORSEER_WARMUP_STEPS
    )


def cache_name(speed: str) -> str:
    """What the record says for ``speed``: "off", "fast (First-Block Cache)", …"""
    return {"fast": "fast (First-Block Cache)", "fastest": "fastest (TaylorSeer)"}.get(speed, speed)


@contextlib.contextmanager
def step_caching(
    pipe: Any, speed: str, on_note: Callable[[str], None] | None = None
) -> Iterator[str]:
    """Install ``speed``'s cache hooks on ``pipe``'s transformer for the block and remove them
    after it; yields what is in use ("off" when the model cannot cache, with a note)."""
    config = cache_config(speed)
    transformer = getattr(pipe, "transformer", None)
    if config is None:
        yield "off"
        return
    if transformer is None or not hasattr(transformer, "enable_cache"):
        if on_note is not None:
            on_note(f"speed {speed}: this model has no step cache (UNet models run every step)")
        yield "off"
        return
    if speed == "fast" and type(transformer).__name__ in NO_FIRST_BLOCK_CACHE:
        if on_note is not None:
            on_note(
                "speed fast: First-Block Cache does not work with this model yet; every step "
                "runs (speed fastest caches it)"
            )
        yield "off"
        return
    if getattr(transformer, "is_cache_enabled", False):
        transformer.disable_cache()  # left over from a pass that died mid-way
    transformer.enable_cache(config)
    try:
        # FLUX/SD 3.5 img2img pipelines do not name a cache context; Qwen's name their own.
        with transformer.cache_context("cond"):
            yield cache_name(speed)
    finally:
        transformer.disable_cache()
