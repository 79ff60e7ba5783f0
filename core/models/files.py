"""Facts read from model files without loading them: family, inpaint channels, hashes, configs."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from core.atomic import atomic_write_bytes, temp_name
from core.errors import ModelError
from core.resources import bundled_resource
from core.user_dirs import user_cache_dir

PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin", ".pkl"}
BUNDLED_CONFIGS = bundled_resource("model_configs")

_UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
_SD2_KEY = "model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight"
_SDXL_KEY = "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias"


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
    signature = str((overlay / "unet" / "config.json").stat().st_mtime)
    if not _assembled(target, signature):
        _assemble(target, (base, overlay), signature)
    return target


def _assembled(target: Path, signature: str) -> bool:
    stamp = target / ".source"
    try:
        return stamp.read_text() == signature
    except OSError:
        return False


def _assemble(target: Path, parts: tuple[Path, ...], signature: str) -> None:
    """Copy ``parts`` (later ones win) into a fresh folder next to ``target``, stamp it, and only
    then swap it in: ``target`` is never a half-copied config, even if the process dies."""
    staging, old = temp_name(target), temp_name(target)
    try:
        for part in parts:
            shutil.copytree(part, staging, dirs_exist_ok=True)
        atomic_write_bytes(staging / ".source", signature.encode())
        with contextlib.suppress(FileNotFoundError):
            target.rename(old)  # out of the way in one step; removed below
        try:
            staging.rename(target)
        except OSError:
            if not _assembled(target, signature):  # no other process assembled it meanwhile
                raise
    except OSError as exc:
        reason = exc.strerror or exc
        raise ModelError(f"cannot assemble the model config in {target}: {reason}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
