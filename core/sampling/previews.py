"""Cheap step previews: the predicted clean latent projected to RGB.

The default is a linear latent→RGB projection (a 4×3 matrix per family, well under 1% of a
step's cost). When TAESD weights are present locally (``IMG2IMG_STUDIO_TAESD`` pointing at an
``AutoencoderTiny`` folder, or ``madebyollin/taesd`` in the HF cache) that tiny decoder is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

# rows = latent channel, columns = R, G, B (ComfyUI's published factors)
LATENT_RGB_FACTORS = {
    "sd1": (
        [
            [0.3512, 0.2297, 0.3227],
            [0.3250, 0.4974, 0.2350],
            [-0.2829, 0.1762, 0.2721],
            [-0.2120, -0.2616, -0.7177],
        ],
        [0.0, 0.0, 0.0],
    ),
    "sdxl": (
        [
            [0.3651, 0.4232, 0.4341],
            [-0.2533, -0.0042, 0.1068],
            [0.1076, 0.1111, -0.0362],
            [-0.3165, -0.2492, -0.2188],
        ],
        [0.1084, -0.0175, -0.0011],
    ),
}
LATENT_RGB_FACTORS["sd2"] = LATENT_RGB_FACTORS["sd1"]
TAESD_REPOS = {
    "sd1": "madebyollin/taesd",
    "sd2": "madebyollin/taesd",
    "sdxl": "madebyollin/taesdxl",
}


class LatentPreviewer:
    """Turns a batch of latents (B×4×h×w tensor) into an h×w×3 uint8 preview of the first item."""

    def __init__(self, family: str = "sd1", taesd: Any = None) -> None:
        import torch

        factors, bias = LATENT_RGB_FACTORS.get(family, LATENT_RGB_FACTORS["sd1"])
        self._factors = torch.tensor(factors, dtype=torch.float32)
        self._bias = torch.tensor(bias, dtype=torch.float32)
        self._taesd = taesd

    @property
    def kind(self) -> str:
        return "taesd" if self._taesd is not None else "linear"

    def __call__(self, latents: Any) -> np.ndarray:
        import torch

        with torch.no_grad():
            if self._taesd is not None:
                dtype = next(self._taesd.parameters()).dtype
                image = self._taesd.decode(latents[:1].to(dtype)).sample[0]  # 3×H×W in [-1, 1]
                rgb = image.permute(1, 2, 0).float()
            else:
                x = latents[0].float().cpu()  # 4×h×w
                rgb = torch.einsum("chw,cr->hwr", x, self._factors) + self._bias
            rgb = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return rgb.cpu().numpy()


def find_taesd(family: str) -> Path | None:
    """A local TAESD folder for the family, or None (never downloads)."""
    override = os.environ.get("IMG2IMG_STUDIO_TAESD")
    if override:
        path = Path(override)
        return path if (path / "config.json").is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        config = try_to_load_from_cache(TAESD_REPOS.get(family, TAESD_REPOS["sd1"]), "config.json")
    except Exception:
        return None
    return Path(config).parent if isinstance(config, str) else None


def make_previewer(family: str, device: str, dtype: Any) -> LatentPreviewer:
    """The best previewer available offline: TAESD when its weights are local, else linear."""
    folder = find_taesd(family)
    if folder is not None:
        try:
            from diffusers import AutoencoderTiny

            taesd = AutoencoderTiny.from_pretrained(
                folder, dtype=dtype, local_files_only=True, use_safetensors=True
            )
            return LatentPreviewer(family, taesd.to(device).eval())
        except (OSError, ValueError, RuntimeError):
            pass
    return LatentPreviewer(family)
