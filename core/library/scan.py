"""Finding model files in a folder, in place: AUTOMATIC1111/Forge and ComfyUI trees are recognised
by their sub-folders (and only those are walked), any other folder is walked whole.

Each ``.safetensors``/``.sft`` file is read by its header alone (``core.library.detect``); a
diffusers folder (``model_index.json``) is one model and is not walked into; pickles
(``.ckpt``, ``.pt``, ``.pth``, ``.bin``) are reported as refused; unreadable files are reported,
never fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError
from core.library.index_family import denoiser_config, family_from_index
from core.model_spec import PICKLE_SUFFIXES

MODEL_SUFFIXES = {".safetensors", ".sft"}
# Sub-folder → the kind of file it holds (used when a header does not say).
A1111_FOLDERS = {
    "Stable-diffusion": "checkpoint",
    "Lora": "lora",
    "LyCORIS": "lora",
    "ControlNet": "controlnet",
    "VAE": "vae",
    "ipadapter": "ip_adapter",
}
COMFYUI_FOLDERS = {
    "checkpoints": "checkpoint",
    "diffusers": "diffusers",
    "loras": "lora",
    "controlnet": "controlnet",
    "vae": "vae",
    "unet": "unet",
    "diffusion_models": "unet",
    "clip": "text_encoder",
    "text_encoders": "text_encoder",
    "ipadapter": "ip_adapter",
}


@dataclass(frozen=True)
class Found:
    """A candidate under a scanned folder: a model file, a diffusers folder or a pickle."""

    path: Path
    hint: str  # the kind its sub-folder implies ("" in a plain folder)
    what: str  # "file" | "diffusers" | "pickle"


def folder_layout(folder: Path) -> tuple[str, dict[Path, str]]:
    """(source, {folder to walk: kind hint}) for a scanned folder: ``a1111`` when it (or its
    ``models/``) has ``Stable-diffusion``, ``comfyui`` when it has ``checkpoints``,
    ``diffusion_models`` or ``unet`` next to ``loras``/``vae``, else ``folder``."""
    for models in (folder / "models", folder):
        if (models / "Stable-diffusion").is_dir():
            return "a1111", _existing(models, A1111_FOLDERS)
        comfy = [n for n in ("checkpoints", "diffusion_models", "unet") if (models / n).is_dir()]
        if comfy and any((models / n).is_dir() for n in ("loras", "vae", "clip", "controlnet")):
            return "comfyui", _existing(models, COMFYUI_FOLDERS)
    return "folder", {folder: ""}


def _existing(models: Path, names: dict[str, str]) -> dict[Path, str]:
    return {models / name: kind for name, kind in names.items() if (models / name).is_dir()}


def find_models(roots: dict[Path, str]) -> Iterator[Found]:
    """Every candidate under ``roots`` (sorted, hidden folders skipped, links followed once)."""
    seen: set[Path] = set()
    for root, hint in roots.items():
        for top, dirs, files in os.walk(root, followlinks=True):
            here = Path(top)
            real = here.resolve()
            if real in seen:  # a link loop or a folder reached twice
                dirs[:] = []
                continue
            seen.add(real)
            if "model_index.json" in files:  # a diffusers folder is one model: not walked into
                dirs[:] = []
                yield Found(here, hint, "diffusers")
                continue
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                suffix = Path(name).suffix.lower()
                if suffix in MODEL_SUFFIXES:
                    yield Found(here / name, hint, "file")
                elif suffix in PICKLE_SUFFIXES:
                    yield Found(here / name, hint, "pickle")


def folder_size(folder: Path) -> int:
    """Bytes of the files in a (diffusers) folder, links followed."""
    total, seen = 0, set()
    for top, dirs, files in os.walk(folder, followlinks=True):
        real = Path(top).resolve()
        if real in seen:  # a link loop: counted once
            dirs[:] = []
            continue
        seen.add(real)
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(top) / name).stat().st_size
    return total


def diffusers_family(folder: Path) -> str:
    """The family of a diffusers folder by the loader's own rule (``family_from_index``); ""
    when unknown or unsupported. (The loader decides for good; this is for listing.)"""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
        if not isinstance(index, dict):
            return ""
        return family_from_index(index, denoiser_config(folder))[0]
    except (OSError, ValueError, TypeError, AttributeError, RecursionError, ModelError):
        return ""


def hub_repo_name(folder: Path) -> str | None:
    """``org/name`` for a snapshot of the HF cache (``models--org--name/snapshots/<rev>``)."""
    parts = folder.parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3][len("models--") :].replace("--", "/")
    return None
