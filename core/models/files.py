"""Facts read from model files without loading them: what a single file is, its config folder.

Detection itself is ``core.library.detect`` (no torch). This module turns it into what loading a
checkpoint needs: a one-line error for files that are not checkpoints, and the diffusers config
folder for the file's family, assembled once in the cache from the bundled parts (shared CLIP
tokenizer files, per-variant overlays).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from pathlib import Path

from core.atomic import atomic_write_bytes, temp_name
from core.errors import ModelError
from core.library.detect import FileInfo, detect_file, first_keys
from core.library.key_rules import CHROMA_RADIANCE, FLUX2_DEV, SCALED_WEIGHTS
from core.resources import bundled_resource
from core.user_dirs import user_cache_dir

BUNDLED_CONFIGS = bundled_resource("model_configs")

_WHERE_IT_GOES = {
    "lora": "a LoRA, not a checkpoint: give it with --lora",
    "controlnet": "a ControlNet, not a checkpoint: give it with --controlnet",
    "vae": "a VAE alone, not a checkpoint (no UNet or transformer)",
    "text_encoder": "a text encoder alone, not a checkpoint (no UNet or transformer)",
    "ip_adapter": "an IP-Adapter, not a checkpoint: give it with --ip-adapter",
}


def checkpoint_info(path: Path) -> FileInfo:
    """What the single file ``path`` is; ModelError (one line) unless it holds a UNet or a
    transformer of a known family."""
    info = detect_file(path)
    if info.kind in _WHERE_IT_GOES:
        raise ModelError(f"{path.name} is {_WHERE_IT_GOES[info.kind]}")
    if FLUX2_DEV in info.notes:
        raise ModelError(
            f"{path.name} is a FLUX.2 [dev] transformer, which is not supported yet "
            "(FLUX.2 Klein 4B/9B files are)"
        )
    if CHROMA_RADIANCE in info.notes:
        raise ModelError(
            f"{path.name} is a Chroma1-Radiance (pixel-space) transformer, which diffusers "
            "cannot load yet (Chroma1-HD and -Base files are supported)"
        )
    if SCALED_WEIGHTS in info.notes and info.kind in ("unet", "checkpoint"):
        raise ModelError(
            f"{path.name} stores its weights quantised with per-layer scales (ComfyUI's scaled "
            "fp8 or NVFP4), which diffusers' single-file loader cannot convert; use the bf16 "
            "file of this model (--quantize fp8 or int8 saves the same memory)"
        )
    if info.kind == "unknown" or not info.family:
        keys = ", ".join(first_keys(path)) or "none"
        raise ModelError(f"{path.name}: no UNet or transformer keys found (first keys: {keys})")
    if "EMA-only" in info.notes:
        raise ModelError(
            f"{path.name} holds only EMA training weights (model_ema.*), no model weights to load; "
            "use the pruned or EMA-only export of this model"
        )
    if info.kind == "unet" and info.family in ("sd1", "sd2", "sdxl"):
        raise ModelError(
            f"{path.name} is a {info.family.upper()} UNet alone (no VAE or text encoders); "
            "use the full checkpoint or its diffusers folder"
        )
    return info


def detect_single_file_family(path: Path) -> tuple[str, bool]:
    """(family, is_inpaint) of a checkpoint file (see :func:`checkpoint_info`)."""
    info = checkpoint_info(path)
    return info.family, info.is_inpaint


# The bundled parts of each config folder, later parts winning: (folder, where it goes).
_CLIP_BPE = ("sd15/tokenizer/vocab.json", "sd15/tokenizer/merges.txt")


def _config_parts(family: str, is_inpaint: bool, variant: str) -> tuple[tuple[str, str], ...]:
    overlays = {
        ("sd1", True): "sd15-inpaint",
        ("sd2", True): "sd2-inpaint",
        ("sd2", "v"): "sd2-v",
        ("sdxl", True): "sdxl-inpaint",
        ("sd3", "large"): "sd35-large",
        ("sd3", "sd3"): "sd3-medium",
        ("flux", "schnell"): "flux-schnell",
        ("flux-fill", True): "flux-fill",
    }
    bases = {
        "sd1": ("sd15", ()),
        "sd2": ("sd2", ("tokenizer",)),
        "sdxl": ("sdxl", ("tokenizer", "tokenizer_2")),
        "sd3": ("sd35-medium", ("tokenizer", "tokenizer_2")),
        "flux": ("flux-dev", ("tokenizer",)),
        "flux-fill": ("flux-dev", ("tokenizer",)),
        "flux-kontext": ("flux-dev", ("tokenizer",)),
    }
    if family not in bases:
        return ()
    base, tokenizers = bases[family]
    overlay = overlays.get((family, is_inpaint or variant))
    bpe = tuple((f, t) for t in tokenizers for f in _CLIP_BPE)
    return (*bpe, (base, ""), *(((overlay, ""),) if overlay else ()))


def bundled_config_for(family: str, is_inpaint: bool, variant: str = "") -> Path | None:
    """The bundled diffusers config folder for a single file, or None if not bundled.

    ``variant``: "v" (SD 2.x 768-v), "large" (SD 3.5 Large), "sd3" (SD 3 Medium), "schnell"
    (FLUX.1 schnell); anything else is the family's base config.
    """
    parts = _config_parts(family, is_inpaint, variant)
    if not parts:
        return None
    if len(parts) == 1:
        return BUNDLED_CONFIGS / parts[0][0]
    target = user_cache_dir() / "configs" / parts[-1][0]  # named after its most specific part
    sources = tuple((BUNDLED_CONFIGS / part, dest) for part, dest in parts)
    signature = _signature(sources)
    if not _assembled(target, signature):
        _assemble(target, sources, signature)
    return target


def _signature(sources: tuple[tuple[Path, str], ...]) -> str:
    """Changes whenever a bundled part does (a new version of the app)."""
    digest = hashlib.sha256()
    for source, dest in sources:
        files = sorted(source.rglob("*")) if source.is_dir() else [source]
        for file in files:
            stat = file.stat()
            digest.update(f"{file}:{dest}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def _assembled(target: Path, signature: str) -> bool:
    stamp = target / ".source"
    try:
        return stamp.read_text() == signature
    except OSError:
        return False


def _assemble(target: Path, parts: tuple[tuple[Path, str], ...], signature: str) -> None:
    """Copy ``parts`` (folders or files, each to its place; later ones win) into a fresh folder
    next to ``target``, stamp it, and only then swap it in: ``target`` is never a half-copied
    config, even if the process dies."""
    staging, old = temp_name(target), temp_name(target)
    try:
        for part, dest in parts:
            if part.is_dir():
                shutil.copytree(part, staging / dest, dirs_exist_ok=True)
            else:
                (staging / dest).mkdir(parents=True, exist_ok=True)
                shutil.copy2(part, staging / dest / part.name)
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
