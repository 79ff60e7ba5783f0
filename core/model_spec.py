"""What to load: a model reference (folder, single file or hub id) and how to run it.

Part of the contract (no torch): the window's parameters, the jobs and the workers carry a
``ModelSpec``; ``core.models`` loads it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ModelError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
# Checkpoint formats that are Python pickles (loading one can run code): refused everywhere.
PICKLE_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin", ".pkl"})


@dataclass(frozen=True)
class ModelSpec:
    """What to load: ``reference`` (folder, .safetensors file or hub id) plus overrides."""

    reference: str
    config: str | None = None  # diffusers config folder for single files
    device: str = "auto"  # auto | cpu | cuda | mps
    dtype: str = "auto"  # auto | fp32 | fp16 | bf16
    memory: str = "auto"  # core.models.memory_modes.MEMORY_MODES
    quantize: str = "none"  # core.models.quantize.QUANTIZE_MODES (a GGUF file says its own)
    compile: bool = False  # regional compilation of the repeated blocks (CUDA only)
    # Step caching (core.models.step_cache): installed around each pass, so a change needs no
    # reload (not part of what identifies the loaded model).
    speed: str = field(default="off", compare=False)
    oom_retry: bool = field(default=False, compare=False)  # retry once in a lighter memory mode


def classify_reference(reference: str) -> str:
    """Return "folder", "single_file" or "hub"; raise ModelError for anything unusable."""
    ref = reference.strip()
    if not ref:
        raise ModelError(
            "no model given (use --model with a folder, a .safetensors file or a hub id)"
        )
    path = Path(ref).expanduser()
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise ModelError(
            f"{ref}: {suffix} checkpoints are Python pickles that can run code when loaded; "
            "convert it to .safetensors or use a diffusers folder"
        )
    if path.is_dir():
        if (path / "model_index.json").is_file():
            return "folder"
        raise ModelError(f"{ref} is a folder without model_index.json (not a diffusers model)")
    if path.is_file():
        if suffix in (".safetensors", ".sft", ".gguf"):
            return "single_file"
        raise ModelError(f"{ref}: unsupported model file (expected .safetensors or .gguf)")
    if (
        suffix in (".safetensors", ".sft", ".gguf")
        or ref.startswith((".", "/", "~"))
        or os.sep in ref[:1]
    ):
        raise ModelError(f"no such model file or folder: {ref}")
    if HUB_ID.match(ref):
        return "hub"
    raise ModelError(
        f"no model at '{ref}': expected a diffusers folder, a .safetensors file "
        "or a hub id (org/name)"
    )
