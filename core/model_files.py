"""Facts read from model files without loading them: family, inpaint channels, hashes, configs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from core.errors import ModelError

PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin", ".pkl"}
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
BUNDLED_CONFIGS = RESOURCES / "model_configs"

_UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
_SD2_KEY = "model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight"
_SDXL_KEY = "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias"


def user_cache_dir() -> Path:
    """Where the app keeps small caches (hashes, assembled configs)."""
    override = os.environ.get("IMG2IMG_STUDIO_CACHE_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(override) if override else Path(xdg) / "img2img-studio"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def detect_single_file_family(path: Path) -> tuple[str, bool]:
    """Return (family, is_inpaint) of an LDM-layout .safetensors checkpoint from its header."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
            if _UNET_IN not in keys:
                raise ModelError(
                    f"{path.name} is not a Stable Diffusion checkpoint (no UNet found)"
                )
            in_channels = f.get_slice(_UNET_IN).get_shape()[1]
            cross_dim = f.get_slice(_SD2_KEY).get_shape()[-1] if _SD2_KEY in keys else 768
    except ModelError:
        raise
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ModelError(
            f"cannot read {path.name}: not a valid .safetensors file ({exc})"
        ) from None
    if _SDXL_KEY in keys or any(k.startswith("conditioner.embedders.1.") for k in keys):
        family = "sdxl"
    elif cross_dim == 1024:
        family = "sd2"
    else:
        family = "sd1"
    return family, in_channels == 9


def bundled_config_for(family: str, is_inpaint: bool) -> Path | None:
    """The bundled diffusers config folder for a single-file family, or None if not bundled."""
    if family != "sd1":
        return None
    base = BUNDLED_CONFIGS / "sd15"
    if not is_inpaint:
        return base
    # The inpaint config differs only in model_index.json and the UNet's in_channels: assemble it
    # once in the cache from the shared parts.
    overlay = BUNDLED_CONFIGS / "sd15-inpaint"
    target = user_cache_dir() / "configs" / "sd15-inpaint"
    stamp = target / ".source"
    signature = str((overlay / "unet" / "config.json").stat().st_mtime)
    if not stamp.is_file() or stamp.read_text() != signature:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(base, target)
        shutil.copytree(overlay, target, dirs_exist_ok=True)
        stamp.write_text(signature)
    return target


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cached_file_hash(path: Path) -> str:
    """sha256 of a (large) weights file, remembered by path, size and mtime."""
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{int(stat.st_mtime)}"
    cache_file = user_cache_dir() / "hashes.json"
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    if key not in cache:
        cache[key] = file_sha256(path)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(tmp, cache_file)
    return cache[key]
