"""Model-based control images from detector files found on disk (nothing is unpickled).

Depth uses a transformers depth-estimation model in safetensors (Depth Anything, DPT); soft edge
and pose use Caffe networks run by OpenCV (:mod:`core.conditioning.hed`,
:mod:`core.conditioning.openpose`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.errors import ModelError

_LOADED: dict[str, tuple[Any, Any]] = {}  # folder → (processor, model), loaded once


def estimate(kind: str, folder: Path, picture: Image.Image) -> Image.Image:
    """``kind``'s control image of ``picture`` (RGB, the picture's size)."""
    if kind == "softedge":
        from core.conditioning.hed import soft_edges

        return soft_edges(folder, picture)
    if kind == "pose":
        from core.conditioning.openpose import pose_map

        return pose_map(folder, picture)
    if kind != "depth":
        raise ModelError(f"the {kind} preprocessor is not available; use type 'image'")
    import torch

    processor, model = _depth_model(folder)
    with torch.no_grad():
        inputs = processor(images=picture, return_tensors="pt")
        depth = model(**inputs).predicted_depth
    depth = torch.nn.functional.interpolate(
        depth[:, None], size=(picture.height, picture.width), mode="bicubic"
    )[0, 0].numpy()
    low, high = float(depth.min()), float(depth.max())
    scaled = (depth - low) / (high - low) if high > low else np.zeros_like(depth)
    grey = (scaled * 255.0).clip(0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def _depth_model(folder: Path) -> tuple[Any, Any]:
    key = str(folder)
    if key not in _LOADED:
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        try:
            processor = AutoImageProcessor.from_pretrained(  # a config: no weights
                folder, local_files_only=True, use_safetensors=True
            )
            model = AutoModelForDepthEstimation.from_pretrained(
                folder, local_files_only=True, use_safetensors=True
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the depth preprocessor in {folder}: {exc}") from None
        _LOADED[key] = (processor, model.eval())
    return _LOADED[key]
