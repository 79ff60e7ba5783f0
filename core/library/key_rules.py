"""The rules that tell model files apart by their tensor names and shapes.

Each rule reads a :class:`Keys` view of a header. Layouts covered: the original (LDM / BFL /
Stability) layouts that model sites share, ComfyUI's, and diffusers' where a component is shared
as one file. Family keys are those of ``core.models.families.FAMILIES`` (plain strings here:
``core.library`` sits below ``core.models``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

UNET = "model.diffusion_model."
CROSS_DIM_FAMILY = {768: "sd1", 1024: "sd2", 2048: "sdxl"}
LORA_MARKERS = (
    "lora_unet_", "lora_te", "lora_transformer_", ".lora_down.", ".lora_up.", ".lora_A.",
    ".lora_B.", "lora_up", "lora_down", ".hada_w", ".lokr_w", "lora_A.weight",
)  # fmt: skip
CONTROL_UNION_MARKERS = ("task_embedding", "control_add_embedding", "controlnet_mode_embedder")


@dataclass(frozen=True)
class Keys:
    """A header's tensors: names (sorted), shapes and dtypes."""

    entries: dict[str, dict[str, Any]]

    @property
    def names(self) -> list[str]:
        return list(self.entries)

    def has(self, key: str) -> bool:
        return key in self.entries

    def any_prefix(self, *prefixes: str) -> bool:
        return any(k.startswith(prefixes) for k in self.entries)

    def any_contains(self, *parts: str) -> bool:
        return any(part in k for k in self.entries for part in parts)

    def shape(self, key: str) -> list[int]:
        entry = self.entries.get(key) or {}
        shape = entry.get("shape") or []
        return [int(n) for n in shape]

    def first(self, predicate: Any) -> str | None:
        return next((k for k in self.entries if predicate(k)), None)


# --- precision, pruning, EMA --------------------------------------------------------------------


SCALED_WEIGHTS = "scaled weights"  # a note: quantised with per-layer scales (see below)
_SCALE_SUFFIXES = (".scale_weight", ".weight_scale", ".weight_scale_2", ".comfy_quant")


def precision_notes(keys: Keys) -> list[str]:
    """ "fp16" / "bf16" / "fp8" when most tensors are stored so, and :data:`SCALED_WEIGHTS`
    when the weights are stored with per-layer scales beside them (ComfyUI's "scaled fp8"
    with its ``scaled_fp8`` marker, its ``comfy_quant`` fp8/NVFP4 files, BFL's fp8 releases),
    which diffusers' single-file loader does not apply."""
    scaled = any(k.endswith(_SCALE_SUFFIXES) or k.endswith("scaled_fp8") for k in keys.names)
    return _dtype_notes(keys) + ([SCALED_WEIGHTS] if scaled else [])


def _dtype_notes(keys: Keys) -> list[str]:
    counts: dict[str, int] = {}
    for entry in keys.entries.values():
        dtype = str(entry.get("dtype", ""))
        counts[dtype] = counts.get(dtype, 0) + 1
    if not counts:
        return []
    main = max(counts, key=lambda d: counts[d])
    if main == "F16":
        return ["fp16"]
    if main == "BF16":
        return ["bf16"]
    if main.startswith("F8"):
        return ["fp8"]
    return []


def ema_notes(keys: Keys) -> list[str]:
    """ "EMA-only" (only ``model_ema.*`` weights), "EMA" (both), else "pruned" (no EMA copy)."""
    has_ema = keys.any_prefix("model_ema.")
    has_unet = keys.any_prefix(UNET)
    if has_ema and not has_unet:
        return ["EMA-only"]
    if has_ema:
        return ["EMA"]
    return ["pruned"]


# --- UNet checkpoints (SD 1.x, 2.x, XL) --------------------------------------------------------


def is_ldm_unet(keys: Keys) -> bool:
    return keys.has(UNET + "input_blocks.0.0.weight") or keys.has(
        "model_ema.diffusion_modelinput_blocks00weight"
    )


def ldm_unet_family(keys: Keys) -> tuple[str, bool]:
    """(family, is_inpaint) of an LDM-layout UNet (``model.diffusion_model.*`` or EMA-only)."""
    ema_only = not keys.has(UNET + "input_blocks.0.0.weight")
    conv_in = (
        "model_ema.diffusion_modelinput_blocks00weight"
        if ema_only
        else UNET + "input_blocks.0.0.weight"
    )
    in_channels = (keys.shape(conv_in) + [0, 0])[1]
    if keys.any_prefix(
        "conditioner.embedders.1.", UNET + "label_emb.", "model_ema.diffusion_modellabel_emb"
    ):
        return "sdxl", in_channels == 9
    cross = _unet_key_ending(keys, "attn2to_kweight")
    proj_in = _unet_key_ending(keys, "1proj_inweight")
    cross_dim = keys.shape(cross)[-1] if cross else 0
    linear_proj = proj_in is not None and len(keys.shape(proj_in)) == 2
    open_clip = keys.any_prefix("cond_stage_model.model.")
    sd2 = cross_dim == 1024 or open_clip or (linear_proj and cross_dim != 768)
    return ("sd2" if sd2 else "sd1"), in_channels == 9


def _unet_key_ending(keys: Keys, flat_suffix: str) -> str | None:
    """A UNet key (regular or EMA, whose names have no dots) ending in ``flat_suffix``."""
    return keys.first(
        lambda k: k.startswith((UNET, "model_ema.")) and k.replace(".", "").endswith(flat_suffix)
    )


def diffusers_unet_family(keys: Keys) -> tuple[str, bool] | None:
    """(family, is_inpaint) of a diffusers-layout UNet file, or None when it is not one."""
    if not (keys.has("conv_in.weight") and keys.any_prefix("down_blocks.", "up_blocks.")):
        return None
    in_channels = (keys.shape("conv_in.weight") + [0, 0])[1]
    if keys.any_prefix("add_embedding."):
        return "sdxl", in_channels == 9
    cross = keys.first(lambda k: k.endswith("attn2.to_k.weight"))
    proj_in = keys.first(lambda k: k.endswith(".proj_in.weight") and "attentions" in k)
    cross_dim = keys.shape(cross)[-1] if cross else 0
    linear_proj = proj_in is not None and len(keys.shape(proj_in)) == 2
    sd2 = cross_dim == 1024 or (linear_proj and cross_dim != 768)
    return ("sd2" if sd2 else "sd1"), in_channels == 9


# --- transformer models (SD 3.5, FLUX) ----------------------------------------------------------

_FLUX_PREFIXES = ("", UNET, "model.", "diffusion_model.")


def flux_prefix(keys: Keys) -> str | None:
    """The prefix before ``double_blocks.`` of a BFL-layout FLUX transformer, or None."""
    for prefix in _FLUX_PREFIXES:
        if keys.has(prefix + "img_in.weight") and keys.any_prefix(prefix + "double_blocks."):
            return prefix
    return None


def flux_family(keys: Keys, prefix: str) -> tuple[str, list[str]]:
    """flux-fill when the image input takes 384 channels (64 image + 320 mask/masked image)."""
    in_features = keys.shape(prefix + "img_in.weight")[-1:] or [64]
    notes = ["dev" if keys.any_prefix(prefix + "guidance_in.") else "schnell"]
    return ("flux-fill" if in_features[0] == 384 else "flux"), notes


def diffusers_transformer_family(keys: Keys) -> tuple[str, list[str]] | None:
    """A diffusers-layout FLUX or SD3 transformer file (``transformer_blocks.*``), or None."""
    if not keys.any_prefix("transformer_blocks."):
        return None
    if keys.has("x_embedder.weight") and keys.any_prefix("single_transformer_blocks."):
        in_features = keys.shape("x_embedder.weight")[-1:] or [64]
        notes = ["dev" if keys.any_prefix("time_text_embed.guidance_embedder.") else "schnell"]
        return ("flux-fill" if in_features[0] == 384 else "flux"), notes
    if keys.has("pos_embed.proj.weight") and keys.has("context_embedder.weight"):
        return "sd3", [sd3_size(keys, "transformer_blocks.")]
    return None


# --- the 2026 transformers (FLUX.2, Chroma, Z-Image, Qwen-Image), original or diffusers layout --

_NEW_PREFIXES = ("", UNET, "diffusion_model.", "model.")
FLUX2_DEV = "FLUX.2 [dev]"  # a note: FLUX.2 [dev]'s transformer, which the app does not run
CHROMA_RADIANCE = "Radiance"  # a note: Chroma1-Radiance (pixel space), which diffusers lacks
QWEN_2511_MARKER = "__index_timestep_zero__"  # ComfyUI's empty tensor in Qwen-Image-Edit-2511
_KLEIN_TEXT_WIDTHS = {7680: "4B", 12288: "9B"}  # 3 × the Qwen3 encoder's width


def new_transformer_family(keys: Keys) -> tuple[str, list[str]] | None:
    """(family, notes) of a FLUX.2 Klein, Chroma, Z-Image or Qwen-Image transformer file, in
    the layout its makers share it (BFL's, Z-Image's, Qwen's; under ComfyUI's prefix too) or in
    diffusers' (the keys diffusers' own single-file loader looks for); None when it is none.
    Check it before the FLUX.1 rules: FLUX.2 and Chroma keep FLUX.1's block names. FLUX.2
    [dev] is family "" with the :data:`FLUX2_DEV` note; Qwen-Image-Edit has Qwen-Image's keys
    (``core.library.detect`` tells it by name)."""
    for prefix in _NEW_PREFIXES:
        if keys.any_prefix(prefix + "single_stream_modulation.lin"):
            return _flux2_family(keys, prefix)
        if keys.has(prefix + "distilled_guidance_layer.in_proj.bias"):
            return "chroma", [CHROMA_RADIANCE] if keys.any_prefix(prefix + "nerf_blocks.") else []
        if keys.has(prefix + "layers.0.adaLN_modulation.0.weight") and keys.any_prefix(
            prefix + "cap_embedder."
        ):
            return "zimage", []
        if keys.has(prefix + "txt_norm.weight") and keys.any_prefix(prefix + "transformer_blocks."):
            return "qwen-image", ["2511"] if keys.has(prefix + QWEN_2511_MARKER) else []
    return None


def _flux2_family(keys: Keys, prefix: str) -> tuple[str, list[str]]:
    """FLUX.2 Klein 4B/9B (by its text input's width), or [dev] (it embeds guidance)."""
    if keys.any_prefix(prefix + "guidance_in.", prefix + "time_guidance_embed.guidance_embedder."):
        return "", [FLUX2_DEV]
    text_in = prefix + (
        "txt_in.weight" if keys.has(prefix + "txt_in.weight") else "context_embedder.weight"
    )
    width = (keys.shape(text_in)[-1:] or [0])[0]
    size = _KLEIN_TEXT_WIDTHS.get(width)
    return "flux2-klein", [size] if size else []


def sd3_prefix(keys: Keys) -> str | None:
    for prefix in (UNET, ""):
        if keys.any_prefix(prefix + "joint_blocks."):
            return prefix
    return None


def sd3_size(keys: Keys, blocks: str) -> str:
    """ "large" (38 blocks), "medium" (MMDiT-X: a second attention in the image blocks)."""
    if keys.any_prefix(blocks + "37."):
        return "large"
    return "medium" if keys.any_contains(".attn2.") else "sd3"


# --- other kinds ----------------------------------------------------------------------------------


def is_lora(keys: Keys) -> bool:
    return keys.any_contains(*LORA_MARKERS)


def lora_family(keys: Keys) -> str:
    """The family a LoRA was trained for, from its module names and cross-attention widths.

    FLUX.2's fused single-block projection names it; in the original (BFL) layout FLUX.2 and
    FLUX.1 share their names, so those read as "flux" and the loader's shape check decides."""
    if keys.any_contains("to_qkv_mlp_proj"):
        return "flux2-klein"
    if keys.any_contains("double_blocks", "single_blocks", "single_transformer_blocks"):
        return "flux"
    if keys.any_contains("noise_refiner", "context_refiner", ".attention.to_q", "_attention_to_q"):
        return "zimage"
    if keys.any_contains("img_mlp", "txt_mlp", "img_mod", "txt_mod"):
        return "qwen-image"
    if keys.any_contains("joint_blocks", "context_block"):
        return "sd3"
    if keys.any_contains("lora_te2_", "text_encoder_2.", "lora_te1_"):
        return "sdxl"
    for key in keys.names:
        shape = keys.shape(key)  # kohya's ".alpha" entries are scalars
        if "attn2" in key and "to_k" in key and ("down" in key or "lora_A" in key) and shape:
            family = CROSS_DIM_FAMILY.get(shape[-1])
            if family:
                return family
    if keys.any_contains("transformer.transformer_blocks.", "lora_transformer_"):
        return "sd3" if keys.any_contains("context_embedder") else ""
    return ""


def is_controlnet(keys: Keys) -> bool:
    return keys.any_prefix(
        "control_model.", "controlnet_", "controlnet.", "control_all_x_embedder."
    ) or keys.any_contains(
        "controlnet_cond_embedding", "controlnet_blocks", "controlnet_x_embedder"
    )


def controlnet_family(keys: Keys) -> str:
    if keys.any_prefix("control_all_x_embedder."):  # ZImageControlNetModel
        return "zimage"
    if keys.any_prefix("txt_norm."):  # QwenImageControlNetModel (FLUX ones have none)
        return "qwen-image"
    if keys.any_prefix("double_blocks.", "single_transformer_blocks.", "controlnet_x_embedder"):
        return "flux"
    if keys.any_prefix("single_blocks.") or keys.any_contains("controlnet_single_blocks"):
        return "flux"
    if keys.any_prefix("transformer_blocks.", "pos_embed_input.", "joint_blocks."):
        return "sd3"
    if keys.any_prefix("add_embedding.", "control_model.label_emb."):
        return "sdxl"
    for key in keys.names:
        if key.endswith("attn2.to_k.weight"):
            family = CROSS_DIM_FAMILY.get(keys.shape(key)[-1])
            if family:
                return family
    return ""


def is_ip_adapter(keys: Keys) -> bool:
    return keys.any_prefix("image_proj.", "ip_adapter.") or keys.any_contains("ip_adapter")


def ip_adapter_family(keys: Keys) -> str:
    if keys.any_contains("double_blocks", "double_stream"):
        return "flux"
    key = keys.first(lambda k: k.endswith("to_k_ip.weight"))
    return CROSS_DIM_FAMILY.get(keys.shape(key)[-1], "") if key else ""


def is_vae(keys: Keys) -> bool:
    for prefix in ("", "first_stage_model.", "vae."):
        if keys.any_prefix(prefix + "encoder.") and keys.any_prefix(prefix + "decoder."):
            return not keys.any_prefix(UNET, "down_blocks.", "double_blocks.", "joint_blocks.")
    return False


def vae_notes(keys: Keys) -> list[str]:
    key = keys.first(lambda k: k.endswith("decoder.conv_in.weight"))
    channels = (keys.shape(key) + [0, 0])[1] if key else 0
    return [f"{channels}-channel latents"] if channels else []


def text_encoder_name(keys: Keys) -> str | None:
    """ "t5xxl", "clip_g" or "clip_l" for a text encoder file, else None."""
    if keys.any_contains("encoder.block.0.layer.0.SelfAttention.q.weight"):
        return "t5xxl"
    width_key = keys.first(lambda k: k.endswith("token_embedding.weight"))
    if width_key is None:
        return None
    if keys.any_prefix("down_blocks.", UNET, "double_blocks.", "joint_blocks."):
        return None
    width = keys.shape(width_key)[-1]
    return "clip_g" if width == 1280 else "clip_l"
