"""Transformer files in the layout their makers share them, from a tiny diffusers folder: the
inverse of diffusers' single-file converters, for the single-file tests of the 2026 families.

Z-Image (``z_image_turbo_bf16.safetensors`` and its fine-tunes) fuses each attention's q, k and v
into ``attention.qkv``, names the output ``attention.out`` and the norms ``q_norm``/``k_norm``,
and has one patch embedder and final layer (``x_embedder``, ``final_layer``), ComfyUI's copies
under ``model.diffusion_model.``.
"""

from __future__ import annotations

from pathlib import Path

_ZIMAGE_RENAMES = (
    ("all_final_layer.2-1.", "final_layer."),
    ("all_x_embedder.2-1.", "x_embedder."),
    (".attention.to_out.0.", ".attention.out."),
    (".attention.norm_k.", ".attention.k_norm."),
    (".attention.norm_q.", ".attention.q_norm."),
)


def export_zimage_original(model_dir: str | Path, out_file: str | Path, prefix: str = "") -> Path:
    """Write a diffusers Z-Image folder's transformer as an original-layout file."""
    import torch
    from safetensors.torch import load_file, save_file

    weights = Path(model_dir) / "transformer" / "diffusion_pytorch_model.safetensors"
    state = load_file(weights)
    out: dict[str, torch.Tensor] = {}
    for key in list(state):
        if ".attention.to_q." in key:
            base = key.replace(".attention.to_q.", ".attention.qkv.")
            parts = [state[key.replace(".to_q.", f".to_{n}.")] for n in "qkv"]
            out[base] = torch.cat(parts, dim=0)
        elif ".attention.to_k." in key or ".attention.to_v." in key:
            continue
        else:
            new = key
            for old, original in _ZIMAGE_RENAMES:
                new = new.replace(old, original)
            out[new] = state[key]
    out = {prefix + k: v.contiguous() for k, v in out.items()}
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    save_file(out, out_file)
    return Path(out_file)
