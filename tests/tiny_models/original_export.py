"""Transformer files in the layout their makers share them, from a tiny diffusers folder: the
inverse of diffusers' single-file converters (``diffusers.loaders.single_file_utils``'s
``convert_*_to_diffusers``), for the single-file tests of the 2026 families. Converting a file
back with diffusers' converter gives the folder's exact weights (a test checks each).

- Z-Image (``z_image_turbo_bf16.safetensors`` and its fine-tunes) fuses each attention's q, k
  and v into ``attention.qkv``, names the output ``attention.out`` and the norms
  ``q_norm``/``k_norm``, and has one patch embedder and final layer (``x_embedder``,
  ``final_layer``).
- FLUX.2 Klein (BFL's ``flux-2-klein-4b.safetensors``) keeps FLUX's names: ``img_in``/``txt_in``,
  ``time_in``, ``double_blocks.N.img_attn.qkv`` (fused), ``single_blocks.N.linear1``/``linear2``,
  RMS norms as ``.scale``, the modulations as ``*.lin`` and the final norm's (shift, scale) in
  ``final_layer.adaLN_modulation.1``.
- Chroma (``Chroma1-HD.safetensors``) has FLUX.1's block layout with biases, the single blocks'
  q, k, v and MLP input fused in ``linear1``, and the modulation approximator as
  ``distilled_guidance_layer`` (``in_layer``/``out_layer``, norms as ``.scale``).
- Qwen-Image and -Edit are published in diffusers' layout (its converter is the identity);
  ComfyUI's repackaged files add ``model.diffusion_model.`` and, for Edit-2511, an empty
  ``__index_timestep_zero__`` marker tensor.

ComfyUI's copies of them all put their keys under ``model.diffusion_model.`` (``prefix``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

COMFY_PREFIX = "model.diffusion_model."
QWEN_2511_MARKER = "__index_timestep_zero__"


def _swap_halves(tensor: Any) -> Any:
    """(scale, shift) ↔ (shift, scale): diffusers' final norm stores them the other way."""
    import torch

    first, second = tensor.chunk(2, dim=0)
    return torch.cat([second, first], dim=0)


def _fuse(state: dict, names: list[str]) -> Any:
    import torch

    return torch.cat([state[name] for name in names], dim=0)


def _qkv_names(key: str, query: str) -> list[str]:
    """The q, k and v keys of the projection ``key`` names by its ``query`` (to_q, add_q_proj)."""
    return [key.replace(query, query.replace("q", n, 1)) for n in "qkv"]


def _renamed(key: str, renames: tuple[tuple[str, str], ...]) -> str:
    for old, original in renames:
        key = key.replace(old, original)
    return key


# --- Z-Image ---------------------------------------------------------------------------------

_ZIMAGE_RENAMES = (
    ("all_final_layer.2-1.", "final_layer."),
    ("all_x_embedder.2-1.", "x_embedder."),
    (".attention.to_out.0.", ".attention.out."),
    (".attention.norm_k.", ".attention.k_norm."),
    (".attention.norm_q.", ".attention.q_norm."),
)


def zimage_to_original(state: dict) -> dict:
    """A diffusers ``ZImageTransformer2DModel`` state dict in Z-Image's own layout."""
    out: dict = {}
    for key, tensor in state.items():
        if ".attention.to_q." in key:
            names = [key.replace(".to_q.", f".to_{n}.") for n in "qkv"]
            out[key.replace(".attention.to_q.", ".attention.qkv.")] = _fuse(state, names)
        elif ".attention.to_k." not in key and ".attention.to_v." not in key:
            out[_renamed(key, _ZIMAGE_RENAMES)] = tensor
    return out


# --- FLUX.2 (BFL's layout) -------------------------------------------------------------------

_FLUX2_TOP = (
    ("x_embedder.", "img_in."),
    ("context_embedder.", "txt_in."),
    ("time_guidance_embed.timestep_embedder.linear_1.", "time_in.in_layer."),
    ("time_guidance_embed.timestep_embedder.linear_2.", "time_in.out_layer."),
    ("time_guidance_embed.guidance_embedder.linear_1.", "guidance_in.in_layer."),
    ("time_guidance_embed.guidance_embedder.linear_2.", "guidance_in.out_layer."),
    ("_modulation_img.linear.", "_modulation_img.lin."),
    ("_modulation_txt.linear.", "_modulation_txt.lin."),
    ("single_stream_modulation.linear.", "single_stream_modulation.lin."),
    ("proj_out.", "final_layer.linear."),
)
_FLUX2_DOUBLE = {
    "attn.norm_q.weight": "img_attn.norm.query_norm.scale",
    "attn.norm_k.weight": "img_attn.norm.key_norm.scale",
    "attn.norm_added_q.weight": "txt_attn.norm.query_norm.scale",
    "attn.norm_added_k.weight": "txt_attn.norm.key_norm.scale",
    "attn.to_out.0.weight": "img_attn.proj.weight",
    "attn.to_add_out.weight": "txt_attn.proj.weight",
    "ff.linear_in.weight": "img_mlp.0.weight",
    "ff.linear_out.weight": "img_mlp.2.weight",
    "ff_context.linear_in.weight": "txt_mlp.0.weight",
    "ff_context.linear_out.weight": "txt_mlp.2.weight",
}
_FLUX2_SINGLE = {
    "attn.to_qkv_mlp_proj.weight": "linear1.weight",
    "attn.to_out.weight": "linear2.weight",
    "attn.norm_q.weight": "norm.query_norm.scale",
    "attn.norm_k.weight": "norm.key_norm.scale",
}


def flux2_to_original(state: dict) -> dict:
    """A diffusers ``Flux2Transformer2DModel`` state dict in BFL's FLUX.2 layout."""
    out: dict = {}
    for key, tensor in state.items():
        if key == "norm_out.linear.weight":
            out["final_layer.adaLN_modulation.1.weight"] = _swap_halves(tensor)
        elif m := re.match(r"transformer_blocks\.(\d+)\.(.*)", key):
            block, rest = f"double_blocks.{m[1]}.", m[2]
            if q := re.match(r"attn\.(to_q|add_q_proj)\.weight", rest):
                side = "img" if q[1] == "to_q" else "txt"
                out[f"{block}{side}_attn.qkv.weight"] = _fuse(state, _qkv_names(key, q[1]))
            elif rest in _FLUX2_DOUBLE:
                out[block + _FLUX2_DOUBLE[rest]] = tensor
            elif not re.match(r"attn\.(to|add)_[kv](_proj)?\.weight", rest):
                raise KeyError(f"unmapped FLUX.2 key: {key}")
        elif m := re.match(r"single_transformer_blocks\.(\d+)\.(.*)", key):
            out[f"single_blocks.{m[1]}.{_FLUX2_SINGLE[m[2]]}"] = tensor
        else:
            out[_renamed(key, _FLUX2_TOP)] = tensor
    return out


# --- Chroma (FLUX.1's layout, with the modulation approximator) --------------------------------

_CHROMA_TOP = (
    ("x_embedder.", "img_in."),
    ("context_embedder.", "txt_in."),
    (".linear_1.", ".in_layer."),
    (".linear_2.", ".out_layer."),
    ("proj_out.", "final_layer.linear."),
)
_CHROMA_DOUBLE = {
    "attn.norm_q.weight": "img_attn.norm.query_norm.scale",
    "attn.norm_k.weight": "img_attn.norm.key_norm.scale",
    "attn.norm_added_q.weight": "txt_attn.norm.query_norm.scale",
    "attn.norm_added_k.weight": "txt_attn.norm.key_norm.scale",
    "attn.to_out.0.": "img_attn.proj.",
    "attn.to_add_out.": "txt_attn.proj.",
    "ff.net.0.proj.": "img_mlp.0.",
    "ff.net.2.": "img_mlp.2.",
    "ff_context.net.0.proj.": "txt_mlp.0.",
    "ff_context.net.2.": "txt_mlp.2.",
}
_CHROMA_SINGLE = {
    "attn.norm_q.weight": "norm.query_norm.scale",
    "attn.norm_k.weight": "norm.key_norm.scale",
    "proj_out.": "linear2.",
}


def _chroma_block(rest: str, table: dict[str, str]) -> str | None:
    for name, original in table.items():
        if rest.startswith(name):
            return original + rest[len(name) :]
    return None


def chroma_to_original(state: dict) -> dict:
    """A diffusers ``ChromaTransformer2DModel`` state dict in Chroma's own (FLUX.1) layout."""
    out: dict = {}
    for key, tensor in state.items():
        if m := re.match(r"distilled_guidance_layer\.norms\.(\d+)\.weight", key):
            out[f"distilled_guidance_layer.norms.{m[1]}.scale"] = tensor
        elif m := re.match(r"transformer_blocks\.(\d+)\.(.*)", key):
            block, rest = f"double_blocks.{m[1]}.", m[2]
            if q := re.match(r"attn\.(to_q|add_q_proj)\.(weight|bias)", rest):
                side = "img" if q[1] == "to_q" else "txt"
                out[f"{block}{side}_attn.qkv.{q[2]}"] = _fuse(state, _qkv_names(key, q[1]))
            elif (original := _chroma_block(rest, _CHROMA_DOUBLE)) is not None:
                out[block + original] = tensor
            elif not re.match(r"attn\.(to_[kv]|add_[kv]_proj)\.", rest):
                raise KeyError(f"unmapped Chroma key: {key}")
        elif m := re.match(r"single_transformer_blocks\.(\d+)\.(.*)", key):
            block, rest = f"single_blocks.{m[1]}.", m[2]
            if q := re.match(r"attn\.to_q\.(weight|bias)", rest):
                base = f"single_transformer_blocks.{m[1]}."
                names = [f"{base}attn.to_{n}.{q[1]}" for n in "qkv"] + [f"{base}proj_mlp.{q[1]}"]
                out[f"{block}linear1.{q[1]}"] = _fuse(state, names)
            elif (original := _chroma_block(rest, _CHROMA_SINGLE)) is not None:
                out[block + original] = tensor
            elif not re.match(r"(attn\.to_[kv]|proj_mlp)\.", rest):
                raise KeyError(f"unmapped Chroma key: {key}")
        else:
            out[_renamed(key, _CHROMA_TOP)] = tensor
    return out


# --- Qwen-Image ------------------------------------------------------------------------------


def qwen_image_to_original(state: dict) -> dict:
    """Qwen-Image's layout is diffusers' own (diffusers maps it with the identity)."""
    return dict(state)


TO_ORIGINAL: dict[str, Callable[[dict], dict]] = {
    "zimage": zimage_to_original,
    "flux2-klein": flux2_to_original,
    "chroma": chroma_to_original,
    "qwen-image": qwen_image_to_original,
}


def export_original(
    model_dir: str | Path,
    out_file: str | Path,
    family: str,
    prefix: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a diffusers folder's transformer as one file in ``family``'s original layout, its
    keys under ``prefix`` (ComfyUI's: :data:`COMFY_PREFIX`), with ``extra`` tensors added as
    they are (e.g. :data:`QWEN_2511_MARKER`)."""
    from safetensors.torch import load_file, save_file

    weights = Path(model_dir) / "transformer" / "diffusion_pytorch_model.safetensors"
    state = TO_ORIGINAL[family](load_file(weights))
    out = {prefix + key: tensor.contiguous() for key, tensor in state.items()}
    out.update({prefix + key: tensor for key, tensor in (extra or {}).items()})
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    save_file(out, out_file)
    return Path(out_file)
