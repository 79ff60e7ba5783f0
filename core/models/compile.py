"""Regional compilation (``--compile``): diffusers' ``compile_repeated_blocks`` compiles each
repeated transformer block once (seconds, not the minutes a whole-model compile takes) and
every block of that class reuses it. CUDA only; Inductor's cache lives under the user's cache
folder, so the next run of the app starts from the compiled kernels."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from core.user_dirs import user_cache_dir


def inductor_cache_dir() -> str:
    """Where Inductor keeps its compiled kernels between runs (set unless the user set one)."""
    folder = user_cache_dir() / "torchinductor"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder))
    return os.environ["TORCHINDUCTOR_CACHE_DIR"]


def compile_repeated_blocks(
    pipe: Any, device: str, on_note: Callable[[str], None] | None = None
) -> str:
    """Compile the denoiser's repeated blocks on CUDA; returns "regional" or "off" (a CPU, an
    offloaded model, or a model without repeated blocks: ``on_note`` says why in one line)."""
    note = on_note or (lambda text: None)
    denoiser = getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)
    if device != "cuda":
        note(f"compile: off on {device} (regional compilation is for CUDA GPUs)")
        return "off"
    if denoiser is None or not getattr(denoiser, "_repeated_blocks", None):
        note("compile: off (this model names no repeated blocks to compile)")
        return "off"
    inductor_cache_dir()
    denoiser.compile_repeated_blocks(fullgraph=True)
    return "regional"
