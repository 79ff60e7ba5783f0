"""Bare diffusers, the benchmarks' yardstick: the pipeline class the app ran, built from the same
loaded modules (no second copy of the weights), its own scheduler of the same class, called the
way a diffusers user would call it. Nothing of the app's call path (``core.engine``) is used, so
an app pass and a bare call that give the same bytes show the app adds nothing to the pixels.

The only per-family knowledge is what diffusers' own model cards write: Qwen-Image's CFG is
``true_cfg_scale`` with a (blank) negative prompt; every pipeline gets only the arguments its
``__call__`` takes (FLUX.2 Klein and Qwen-Image-Edit edit the whole picture: no ``strength``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

TRUE_CFG_PIPELINES = ("QwenImage",)  # class-name prefixes whose CFG is ``true_cfg_scale``


def bare_pipeline(app_pipe: Any) -> Any:
    """A fresh pipeline of ``app_pipe``'s class on its modules, with a scheduler of the same
    class and config as the one the app last ran (so both sample alike)."""
    cls = type(app_pipe)
    scheduler = app_pipe.scheduler
    modules, settings = cls._get_signature_keys(cls)
    parts = {name: app_pipe.components.get(name) for name in modules}
    parts["scheduler"] = type(scheduler).from_config(scheduler.config)
    # the pipeline's own settings too (FLUX.2 Klein's ``is_distilled``); not from_pipe, which
    # casts every module to fp32 and so refuses quantized weights
    own = {name: app_pipe.config[name] for name in settings if name in app_pipe.config}
    pipe = cls(**parts, **{k: v for k, v in own.items() if k not in parts})
    pipe.set_progress_bar_config(disable=True)
    return pipe


def bare_call(pipe: Any, request: Any) -> Any:
    """``pipe`` called with ``request``'s prompt, picture (its own size), strength, steps, CFG and
    seed (a CPU generator, as the app uses); the PIL picture it returns."""
    import torch

    kwargs: dict[str, Any] = {
        "prompt": request.prompt,
        "image": request.image,
        "strength": request.strength,
        "num_inference_steps": request.steps,
        "guidance_scale": request.cfg,
        "generator": torch.Generator("cpu").manual_seed(request.seed),
        "width": request.image.width,
        "height": request.image.height,
    }
    if type(pipe).__name__.startswith(TRUE_CFG_PIPELINES):
        kwargs["true_cfg_scale"] = kwargs.pop("guidance_scale")
        kwargs["negative_prompt"] = " "
    taken = inspect.signature(type(pipe).__call__).parameters
    return pipe(**{k: v for k, v in kwargs.items() if k in taken}).images[0].convert("RGB")


@contextlib.contextmanager
def bare_cache(pipe: Any, config: Any) -> Iterator[None]:
    """diffusers' step cache ``config`` (None: none) on ``pipe``'s transformer while this runs,
    as diffusers' caching guide writes it (the pipelines that name no cache context get one)."""
    if config is None:
        yield
        return
    transformer = pipe.transformer
    transformer.enable_cache(config)
    try:
        with transformer.cache_context("cond"):
            yield
    finally:
        transformer.disable_cache()


@contextlib.contextmanager
def small_qwen_edit_area(side: int = 64) -> Iterator[None]:
    """Qwen-Image-Edit resizes the picture it edits to about 1 MP before its VAE sees it (half a
    minute a call on the tiny model): while this runs, to ``side``² instead, for the app and the
    bare call alike (as tests/core/test_family_qwen_image_edit.py does)."""
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit as edit_module

    original = edit_module.calculate_dimensions
    edit_module.calculate_dimensions = lambda area, ratio: original(side * side, ratio)
    try:
        yield
    finally:
        edit_module.calculate_dimensions = original
