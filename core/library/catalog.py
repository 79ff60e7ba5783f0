"""The curated catalog of hub models the model manager offers, and which are in the HF cache.

Sizes are what the app downloads (only the pipeline's components, fp16 files where the repo has
them), rounded. Whether a model is cached is read from the HF cache on disk, never the network.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.library.hub_cache import cached_path, cached_size

__all__ = ["CATALOG", "DEFAULT_MODEL_ID", "CatalogEntry", "cached_path", "cached_size", "entry"]

GB = 1_000_000_000


@dataclass(frozen=True)
class CatalogEntry:
    """One model the manager offers."""

    id: str  # hub repo id, e.g. "stabilityai/sd-turbo"
    name: str  # "SD-Turbo"
    family: str  # a core.models.families key
    size_bytes: int  # download size of the files the app fetches (fp16 where used)
    licence: str
    good_for: str  # one line
    gated: bool = False
    inpaint: bool = False  # an inpainting model


_OPENRAIL = "CreativeML OpenRAIL-M"
_OPENRAIL_XL = "CreativeML OpenRAIL++-M"
_STABILITY = "Stability AI Community License"
_FLUX_DEV = "FLUX.1 [dev] Non-Commercial License"
_FLUX2_NON_COMMERCIAL = "FLUX Non-Commercial License v2.1"

CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "stabilityai/sd-turbo", "SD-Turbo", "sd2", int(2.6 * GB), _STABILITY,
        "fastest: 1–4 steps at 512 px, img2img and inpaint on a laptop",
    ),
    CatalogEntry(
        "stable-diffusion-v1-5/stable-diffusion-v1-5", "Stable Diffusion 1.5", "sd1",
        int(2.1 * GB), _OPENRAIL, "the classic 512 px model; most LoRAs and ControlNets fit it",
    ),
    CatalogEntry(
        "stable-diffusion-v1-5/stable-diffusion-inpainting", "SD 1.5 Inpainting", "sd1",
        int(2.1 * GB), _OPENRAIL, "inpainting at 512 px: fills masked areas seamlessly",
        inpaint=True,
    ),
    CatalogEntry(
        "stabilityai/sdxl-turbo", "SDXL-Turbo", "sdxl", int(6.9 * GB), _STABILITY,
        "fast SDXL quality: 1–4 steps at 512 px",
    ),
    CatalogEntry(
        "stabilityai/stable-diffusion-xl-base-1.0", "SDXL base 1.0", "sdxl", int(6.9 * GB),
        _OPENRAIL_XL, "detailed 1024 px pictures; the base of Pony and Illustrious",
    ),
    CatalogEntry(
        "diffusers/stable-diffusion-xl-1.0-inpainting-0.1", "SDXL Inpainting", "sdxl",
        int(6.9 * GB), _OPENRAIL_XL, "inpainting at 1024 px", inpaint=True,
    ),
    CatalogEntry(
        "stabilityai/stable-diffusion-3.5-medium", "SD 3.5 Medium", "sd3", int(16.3 * GB),
        _STABILITY, "good prompt following and text at 1024 px (needs a big GPU)", gated=True,
    ),
    CatalogEntry(
        "black-forest-labs/FLUX.1-schnell", "FLUX.1 schnell", "flux", int(33.7 * GB),
        "Apache-2.0", "FLUX quality in 1–4 steps (needs a big GPU or offload)",
    ),
    CatalogEntry(
        "black-forest-labs/FLUX.1-dev", "FLUX.1 dev", "flux", int(33.7 * GB), _FLUX_DEV,
        "best FLUX quality, 20–30 steps (needs a big GPU or offload)", gated=True,
    ),
    CatalogEntry(
        "black-forest-labs/FLUX.1-Fill-dev", "FLUX.1 Fill", "flux-fill", int(33.7 * GB),
        _FLUX_DEV, "FLUX inpainting and outpainting", gated=True, inpaint=True,
    ),
    # Sizes from the parameter counts in bf16 (6.15B transformer + Qwen3-4B; 8.9B + T5-XXL;
    # 20B + Qwen2.5-VL-7B).
    CatalogEntry(
        "Tongyi-MAI/Z-Image-Turbo", "Z-Image Turbo", "zimage", int(20.5 * GB), "Apache-2.0",
        "fast photoreal 1024 px in about 8 steps, no CFG; text in pictures (needs a big GPU)",
    ),
    CatalogEntry(
        "lodestones/Chroma1-HD", "Chroma1-HD", "chroma", int(27.5 * GB), "Apache-2.0",
        "the open FLUX: 1024 px with real CFG and negative prompts, 30–40 steps",
    ),
    CatalogEntry(
        "Qwen/Qwen-Image", "Qwen-Image", "qwen-image", int(57.7 * GB), "Apache-2.0",
        "the best text in pictures, 1328 px (needs a very big GPU or offload)",
    ),
    CatalogEntry(
        "Qwen/Qwen-Image-Edit", "Qwen-Image-Edit", "qwen-image-edit", int(57.7 * GB),
        "Apache-2.0", "edits from an instruction; with a mask only the masked area changes",
    ),
    # The September 2025 Qwen-Image-Edit (QwenImageEditPlusPipeline): Qwen-Image-Edit's
    # components and size, trained further on several pictures at once.
    CatalogEntry(
        "Qwen/Qwen-Image-Edit-2509", "Qwen-Image-Edit 2509", "qwen-image-edit-plus",
        int(57.7 * GB), "Apache-2.0",
        "edits from an instruction with up to 2 reference pictures (person + product, + scene)",
    ),
    # About 8B parameters in bf16: the 4B transformer (7.75 GB as one file on the hub) and
    # Qwen3-4B.
    CatalogEntry(
        "black-forest-labs/FLUX.2-klein-4B", "FLUX.2 Klein 4B", "flux2-klein", int(16.0 * GB),
        "Apache-2.0", "fast edits in 4 steps, no CFG, with up to 4 reference pictures",
    ),
    # In bf16: the ~9B transformer (18.0 GB) + Qwen3-8B (8.19B parameters, 16.4 GB) + the
    # FLUX.2 VAE (0.2 GB). Gated: its licence must be accepted on the hub before a download.
    CatalogEntry(
        "black-forest-labs/FLUX.2-klein-9B", "FLUX.2 Klein 9B", "flux2-klein", int(34.6 * GB),
        _FLUX2_NON_COMMERCIAL,
        "better edits than 4B, 4 steps, no CFG, up to 4 reference pictures (needs a big GPU)",
        gated=True,
    ),
)  # fmt: skip

# The first-run default: SD-Turbo. A small download (2.6 GB, about SD 1.5's), it runs in 1–4
# steps (seconds on a laptop GPU, bearable on a CPU; SD 1.5 needs 20–30), needs no token, and as
# a regular 4-channel model it serves img2img and inpaint alike (an inpainting model serves
# inpaint only).
DEFAULT_MODEL_ID = "stabilityai/sd-turbo"


def entry(model_id: str) -> CatalogEntry | None:
    """The catalog entry for ``model_id`` (case-insensitive), or None."""
    wanted = model_id.strip().lower()
    return next((e for e in CATALOG if e.id.lower() == wanted), None)
