"""Model families: what the engine, the previews and the GUI need to know about each one.

A family is detected from a folder's ``model_index.json`` or a single file's keys
(``core.models.files``) and recorded in every pass's metadata. Few-step models (Turbo, LCM,
Lightning, Hyper, DMD2) are a property of a loaded model
(:class:`core.library.few_step_names.FewStep`), not a family.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError
from core.library.index_family import family_from_index


@dataclass(frozen=True)
class Family:
    """One model family. ``*_pipeline`` are diffusers class names (None: the family has none)."""

    key: str  # recorded in metadata: "sd1", "sd2", "sdxl", "sd3", "flux", "flux-fill", …
    label: str  # shown in the GUI
    native_size: int  # the side (px) it was trained at (the working-resolution rule)
    latent_channels: int
    flow_matching: bool  # flow-matching schedulers: A1111 sampler names do not apply
    default_steps: int
    default_cfg: float
    img2img_pipeline: str | None
    inpaint_pipeline: str | None
    regions: bool = False  # regional prompts (UNet cross-attention processor)
    lora: bool = False
    controlnet: bool = False
    ip_adapter: bool = False
    embedded_guidance: bool = False  # FLUX: guidance_scale is distilled guidance, no negative
    packed_latents: bool = False  # FLUX: latents reach step callbacks packed 2×2, (B, seq, 4·C)
    true_cfg: bool = False  # Qwen-Image: CFG is the call's true_cfg_scale, with a negative prompt
    edit: bool = False  # an instruction-edit model: the prompt says what to change in the picture
    no_fp16: bool = False  # fp16 overflows or is unsupported: "auto" runs bf16 on CUDA instead
    max_references: int = 0  # edit models: extra pictures the instruction may refer to

    def runs_without_strength(self, masked: bool) -> bool:
        """Whether a pass (``masked`` or not) is an instruction edit that has no strength and runs
        every step: any pass of an edit model, except a masked one where the family has its own
        inpaint pipeline (Qwen-Image-Edit, FLUX.2 Klein: strength applies there). A masked pass
        of an edit model without one (Qwen-Image-Edit-Plus) is the crop, edit, align and
        paste-back of ``core.engine.edit``."""
        return self.edit and not (masked and self.inpaint_pipeline is not None)


FAMILIES: dict[str, Family] = {
    f.key: f
    for f in (
        Family(
            "sd1", "SD 1.x", 512, 4, False, 30, 7.0,
            "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline",
            regions=True, lora=True, controlnet=True, ip_adapter=True,
        ),
        Family(
            "sd2", "SD 2.x", 768, 4, False, 30, 7.0,
            "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline",
            regions=True, lora=True,
        ),
        Family(
            "sdxl", "SDXL", 1024, 4, False, 30, 6.0,
            "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline",
            regions=True, lora=True, controlnet=True, ip_adapter=True,
        ),
        Family(
            "sd3", "SD 3.5", 1024, 16, True, 28, 4.5,
            "StableDiffusion3Img2ImgPipeline", "StableDiffusion3InpaintPipeline",
            lora=True, controlnet=True,
        ),
        Family(
            "flux", "FLUX.1", 1024, 16, True, 28, 3.5,
            "FluxImg2ImgPipeline", "FluxInpaintPipeline",
            lora=True, controlnet=True, embedded_guidance=True, packed_latents=True,
        ),
        Family(
            "flux-fill", "FLUX.1 Fill", 1024, 16, True, 28, 30.0,
            None, "FluxFillPipeline",
            lora=True, embedded_guidance=True, packed_latents=True,
        ),
        Family(
            "flux-kontext", "FLUX.1 Kontext", 1024, 16, True, 28, 2.5,
            "FluxKontextPipeline", "FluxKontextInpaintPipeline",
            lora=True, embedded_guidance=True, packed_latents=True,
        ),
        Family(
            "zimage", "Z-Image", 1024, 16, True, 28, 4.0,
            "ZImageImg2ImgPipeline", "ZImageInpaintPipeline",
            lora=True, controlnet=True,
            no_fp16=True,  # complex64 RoPE: diffusers' own tests skip fp16
        ),
        Family(
            "chroma", "Chroma", 1024, 16, True, 40, 4.0,
            "ChromaImg2ImgPipeline", "ChromaInpaintPipeline",
            lora=True, packed_latents=True,
        ),
        Family(
            "qwen-image", "Qwen-Image", 1328, 16, True, 50, 4.0,
            "QwenImageImg2ImgPipeline", "QwenImageInpaintPipeline",
            lora=True, controlnet=True, packed_latents=True, true_cfg=True,
            no_fp16=True,  # trained in bf16; fp16 overflows
        ),
        # With a mask, its own inpaint pipeline repaints under it with a strength (built from the
        # loaded weights; a folder saved as QwenImageEditInpaintPipeline loads as this family).
        Family(
            "qwen-image-edit", "Qwen-Image-Edit", 1024, 16, True, 50, 4.0,
            "QwenImageEditPipeline", "QwenImageEditInpaintPipeline",
            lora=True, packed_latents=True, true_cfg=True, edit=True, no_fp16=True,
        ),
        # 2509/2511: the edited picture and up to two more ("image 2", "image 3" in the prompt).
        # diffusers has no inpaint pipeline for it: with a mask, the engine edits the crop
        # around it, aligns the result and pastes the masked area back (core.engine.edit).
        Family(
            "qwen-image-edit-plus", "Qwen-Image-Edit-Plus", 1024, 16, True, 40, 4.0,
            "QwenImageEditPlusPipeline", None,
            lora=True, packed_latents=True, true_cfg=True, edit=True, no_fp16=True,
            max_references=2,
        ),
        # Generation from references = the edit; distilled (4B/9B): few steps, no CFG. With a
        # mask, its own inpaint pipeline repaints under it (with a strength, the references too).
        Family(
            "flux2-klein", "FLUX.2 Klein", 1024, 32, True, 4, 1.0,
            "Flux2KleinPipeline", "Flux2KleinInpaintPipeline",
            lora=True, packed_latents=True, edit=True, no_fp16=True, max_references=4,
        ),
    )
}  # fmt: skip


def family(key: str) -> Family:
    """The family for ``key``; raises ModelError for an unknown one."""
    try:
        return FAMILIES[key]
    except KeyError:
        known = ", ".join(FAMILIES)
        raise ModelError(f"unknown model family '{key}' (known: {known})") from None


def is_edit_reference(reference: str, masked: bool = False) -> bool:
    """Whether ``reference`` names an instruction-edit model whose pass (``masked`` or not) runs
    without a strength (:meth:`Family.runs_without_strength`), told before it loads: a folder
    from its ``model_index.json``, a hub id from its name ("…Qwen-Image-Edit",
    "…Qwen-Image-Edit-2509" (Edit-Plus), "…FLUX.2-klein-4B", "…FLUX.2-klein-base-9B")."""
    found = _edit_family_named(reference)
    return found is not None and found.runs_without_strength(masked)


def _edit_family_named(reference: str) -> Family | None:
    folder = Path(reference).expanduser()
    index_file = folder / "model_index.json"
    if index_file.is_file():
        try:
            index = json.loads(index_file.read_text(encoding="utf-8"))
            found = FAMILIES[family_from_index(index, {})[0]]
        except (OSError, ValueError, ModelError, AttributeError):
            return None
        return found if found.edit else None
    name = reference.strip().lower()
    if re.search(r"qwen-image-edit(-plus|-\d{4})$", name):  # 2509, 2511: Edit-Plus
        return FAMILIES["qwen-image-edit-plus"]
    if re.search(r"qwen-image-edit$", name):
        return FAMILIES["qwen-image-edit"]
    if re.search(r"flux\.2-klein-(base-)?(4|9)b$", name):
        return FAMILIES["flux2-klein"]
    return None
