"""A cheap guess of a model's native side before it loads (the window's work-size label).

The engine uses the loaded model's real value (``LoadedModel.native_size``); this reads only
small files: a folder's UNet or VAE config, a single file's header.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import ModelError
from core.library.detect import detect_file

FAMILY_SIZES = {  # FLUX: 1024 too
    "sd1": 512,
    "sd2": 768,
    "sdxl": 1024,
    "sd3": 1024,
    "zimage": 1024,
    "chroma": 1024,
}
DEFAULT_SIZE = 512


def native_size_of(reference: str) -> int:
    """The native side (px) of a folder, single file or hub id, without loading it.

    A diffusers folder: its UNet's ``sample_size`` × 8, or for transformer models its VAE's
    ``sample_size``; a single file: its detected family's size (SD 2.x: 768 for v-prediction
    files, else 512, as the config they load with); a hub id: from its name.
    """
    path = Path(reference).expanduser()
    try:
        if (path / "model_index.json").is_file():
            return _folder_size(path)
        if path.is_file():
            return _file_size(path)
    except (OSError, ValueError, ModelError):
        return DEFAULT_SIZE
    name = reference.lower()
    if any(word in name for word in ("xl", "flux", "stable-diffusion-3", "z-image", "chroma")):
        return 1024
    return 768 if "stable-diffusion-2" in name and "base" not in name else DEFAULT_SIZE


def _folder_size(folder: Path) -> int:
    unet = folder / "unet" / "config.json"
    if unet.is_file():
        return int(json.loads(unet.read_text(encoding="utf-8")).get("sample_size", 64)) * 8
    vae = folder / "vae" / "config.json"
    if vae.is_file():
        size = json.loads(vae.read_text(encoding="utf-8")).get("sample_size")
        if isinstance(size, int) and size >= 64:
            return size
    return 1024 if (folder / "transformer").is_dir() else DEFAULT_SIZE


def _file_size(path: Path) -> int:
    info = detect_file(path)
    if info.family == "sd2":
        return 768 if info.v_prediction else 512
    return FAMILY_SIZES.get(info.family, 1024 if info.family.startswith("flux") else DEFAULT_SIZE)
