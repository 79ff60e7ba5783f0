"""Cheap step previews: the predicted clean latent projected to RGB.

The default is a linear latent→RGB projection (a channels×3 matrix per family, ComfyUI's
published factors; well under 1% of a step's cost). When TAESD weights are present locally
(``IMG2IMG_STUDIO_TAESD`` pointing at an ``AutoencoderTiny`` folder, or the family's TAESD repo
in the HF cache: ``madebyollin/taesd``, ``taesdxl``, ``taesd3``, ``taef1``) that tiny decoder is
used. Previewers take plain (B, C, h, w) latents: FLUX's packed latents are unpacked first
(``core.sampling.latent_layout``).
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
LATENT_RGB_FACTORS["sd3"] = (
    [
        [-0.0922, -0.0175, 0.0749],
        [0.0311, 0.0633, 0.0954],
        [0.1994, 0.0927, 0.0458],
        [0.0856, 0.0339, 0.0902],
        [0.0587, 0.0272, -0.0496],
        [-0.0006, 0.1104, 0.0309],
        [0.0978, 0.0306, 0.0427],
        [-0.0042, 0.1038, 0.1358],
        [-0.0194, 0.0020, 0.0669],
        [-0.0488, 0.0130, -0.0268],
        [0.0922, 0.0988, 0.0951],
        [-0.0278, 0.0524, -0.0542],
        [0.0332, 0.0456, 0.0895],
        [-0.0069, -0.0030, -0.0810],
        [-0.0596, -0.0465, -0.0293],
        [-0.1448, -0.1463, -0.1189],
    ],
    [0.2394, 0.2135, 0.1925],
)
LATENT_RGB_FACTORS["flux"] = (
    [
        [-0.0346, 0.0244, 0.0681],
        [0.0034, 0.0210, 0.0687],
        [0.0275, -0.0668, -0.0433],
        [-0.0174, 0.0160, 0.0617],
        [0.0859, 0.0721, 0.0329],
        [0.0004, 0.0383, 0.0115],
        [0.0405, 0.0861, 0.0915],
        [-0.0236, -0.0185, -0.0259],
        [-0.0245, 0.0250, 0.1180],
        [0.1008, 0.0755, -0.0421],
        [-0.0515, 0.0201, 0.0011],
        [0.0428, -0.0012, -0.0036],
        [0.0817, 0.0765, 0.0749],
        [-0.1264, -0.0522, -0.1103],
        [-0.0280, -0.0881, -0.0499],
        [-0.1262, -0.0982, -0.0778],
    ],
    [-0.0329, -0.0718, -0.0851],
)
# Qwen-Image's VAE is Wan 2.1's (ComfyUI's Wan21 factors, on the normalised latents).
LATENT_RGB_FACTORS["qwen-image"] = (
    [
        [-0.1299, -0.1692, 0.2932],
        [0.0671, 0.0406, 0.0442],
        [0.3568, 0.2548, 0.1747],
        [0.0372, 0.2344, 0.1420],
        [0.0313, 0.0189, -0.0328],
        [0.0296, -0.0956, -0.0665],
        [-0.3477, -0.4059, -0.2925],
        [0.0166, 0.1902, 0.1975],
        [-0.0412, 0.0267, -0.1364],
        [-0.1293, 0.0740, 0.1636],
        [0.0680, 0.3019, 0.1128],
        [0.0032, 0.0581, 0.0639],
        [-0.1251, 0.0927, 0.1699],
        [0.0060, -0.0633, 0.0005],
        [0.3477, 0.2275, 0.2950],
        [0.1984, 0.0913, 0.1861],
    ],
    [-0.1835, -0.0868, -0.3360],
)
# FLUX.2's 32-channel latent space (ComfyUI's published preview factors).
LATENT_RGB_FACTORS["flux2-klein"] = (
    [
        [0.0058, 0.0113, 0.0073], [0.0495, 0.0443, 0.0836], [-0.0099, 0.0096, 0.0644],
        [0.2144, 0.3009, 0.3652], [0.0166, -0.0039, -0.0054], [0.0157, 0.0103, -0.0160],
        [-0.0398, 0.0902, -0.0235], [-0.0052, 0.0095, 0.0109], [-0.3527, -0.2712, -0.1666],
        [-0.0301, -0.0356, -0.0180], [-0.0107, 0.0078, 0.0013], [0.0746, 0.0090, -0.0941],
        [0.0156, 0.0169, 0.0070], [-0.0034, -0.0040, -0.0114], [0.0032, 0.0181, 0.0080],
        [-0.0939, -0.0008, 0.0186], [0.0018, 0.0043, 0.0104], [0.0284, 0.0056, -0.0127],
        [-0.0024, -0.0022, -0.0030], [0.1207, -0.0026, 0.0065], [0.0128, 0.0101, 0.0142],
        [0.0137, -0.0072, -0.0007], [0.0095, 0.0092, -0.0059], [0.0000, -0.0077, -0.0049],
        [-0.0465, -0.0204, -0.0312], [0.0095, 0.0012, -0.0066], [0.0290, -0.0034, 0.0025],
        [0.0220, 0.0169, -0.0048], [-0.0332, -0.0457, -0.0468], [-0.0085, 0.0389, 0.0609],
        [-0.0076, 0.0003, -0.0043], [-0.0111, -0.0460, -0.0614],
    ],
    [-0.0329, -0.0718, -0.0851],
)  # fmt: skip
# Families that share another's latent space: SD 2.x uses SD 1.x's VAE, FLUX variants FLUX's;
# Z-Image and Chroma decode with FLUX.1's VAE.
LATENT_SPACE = {
    "sd2": "sd1",
    "flux-fill": "flux",
    "flux-kontext": "flux",
    "zimage": "flux",
    "chroma": "flux",
    "qwen-image-edit": "qwen-image",
    "qwen-image-edit-plus": "qwen-image",
}
TAESD_REPOS = {
    "sd1": "madebyollin/taesd",
    "sdxl": "madebyollin/taesdxl",
    "sd3": "madebyollin/taesd3",
    "flux": "madebyollin/taef1",
}


def latent_space(family: str) -> str:
    """The family whose latent space ``family`` shares (its own key when it has its own)."""
    return LATENT_SPACE.get(family, family)


def latent_channels(family: str) -> int:
    """How many latent channels the family's previews expect (4, or 16 for SD 3.5 and FLUX)."""
    return len(LATENT_RGB_FACTORS.get(latent_space(family), LATENT_RGB_FACTORS["sd1"])[0])


class LatentPreviewer:
    """Turns a batch of latents (B×C×h×w tensor) into an h×w×3 uint8 preview of the first item."""

    def __init__(self, family: str = "sd1", taesd: Any = None) -> None:
        import torch

        factors, bias = LATENT_RGB_FACTORS.get(latent_space(family), LATENT_RGB_FACTORS["sd1"])
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
            else:  # projected where the latents are: only the small uint8 picture is copied
                x = latents[0].float()  # C×h×w
                if self._factors.device != x.device:
                    self._factors, self._bias = self._factors.to(x.device), self._bias.to(x.device)
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

        repo = TAESD_REPOS.get(latent_space(family), TAESD_REPOS["sd1"])
        config = try_to_load_from_cache(repo, "config.json")
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
            if taesd.config.latent_channels == latent_channels(family):  # not another family's
                return LatentPreviewer(family, taesd.to(device).eval())
        except (OSError, ValueError, RuntimeError):
            pass
    return LatentPreviewer(family)
