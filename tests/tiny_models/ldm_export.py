"""Export a diffusers SD 1.x, 2.x or XL folder as one ``.safetensors`` in the original LDM layout.

This is the layout of checkpoints shared on model sites (``model.diffusion_model.*``,
``first_stage_model.*``; the text encoders as ``cond_stage_model.transformer.*`` for SD 1.x,
OpenCLIP's ``cond_stage_model.model.*`` for SD 2.x, ``conditioner.embedders.0/1.*`` for SDXL).
The mapping is derived from the UNet/VAE configs, so it works for the tiny test models and for
full-size models alike.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_RESNET = [
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
]
_UNET_TOP = {
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}


def _rename_resnet(rest: str) -> str:
    for diffusers_name, ldm_name in _RESNET:
        if rest.startswith(diffusers_name + "."):
            return ldm_name + rest[len(diffusers_name) :]
    return rest


def unet_key_to_ldm(key: str, config: dict) -> str:
    """Map one diffusers UNet key to its LDM name."""
    per_level = config["layers_per_block"] + 1
    up_types = config["up_block_types"]
    for diffusers_name, ldm_name in _UNET_TOP.items():
        if key.startswith(diffusers_name + "."):
            return ldm_name + key[len(diffusers_name) :]
    if m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        level, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        idx = 1 + level * per_level + j
        return (
            f"input_blocks.{idx}.0.{_rename_resnet(rest)}"
            if kind == "resnets"
            else (f"input_blocks.{idx}.1.{rest}")
        )
    if m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
        idx = 1 + int(m[1]) * per_level + per_level - 1
        return f"input_blocks.{idx}.0.op.{m[2]}"
    if m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        level, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        idx = level * per_level + j
        return (
            f"output_blocks.{idx}.0.{_rename_resnet(rest)}"
            if kind == "resnets"
            else (f"output_blocks.{idx}.1.{rest}")
        )
    if m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.(.*)", key):
        level = int(m[1])
        sub = 2 if up_types[level].startswith("CrossAttn") else 1
        return f"output_blocks.{level * per_level + per_level - 1}.{sub}.{m[2]}"
    if m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key):
        return f"middle_block.{2 * int(m[1])}.{_rename_resnet(m[2])}"
    if m := re.match(r"mid_block\.attentions\.0\.(.*)", key):
        return f"middle_block.1.{m[1]}"
    raise KeyError(f"unmapped UNet key: {key}")


_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def vae_key_to_ldm(key: str, config: dict) -> str:
    """Map one diffusers AutoencoderKL key to its LDM name."""
    n_levels = len(config["block_out_channels"])
    key = key.replace("conv_shortcut", "nin_shortcut").replace("conv_norm_out", "norm_out")
    if m := re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}.{m[3]}"
    if m := re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.*)", key):
        return f"encoder.down.{m[1]}.downsample.{m[2]}"
    if m := re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
        return f"decoder.up.{n_levels - 1 - int(m[1])}.block.{m[2]}.{m[3]}"
    if m := re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.*)", key):
        return f"decoder.up.{n_levels - 1 - int(m[1])}.upsample.{m[2]}"
    if m := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3]}"
    if m := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)", key):
        rest = m[2]
        for diffusers_name, ldm_name in _VAE_ATTN.items():
            if rest.startswith(diffusers_name + "."):
                rest = ldm_name + rest[len(diffusers_name) :]
                break
        return f"{m[1]}.mid.attn_1.{rest}"
    return key


_OPEN_CLIP_LAYER = [
    ("layer_norm1", "ln_1"),
    ("layer_norm2", "ln_2"),
    ("mlp.fc1", "mlp.c_fc"),
    ("mlp.fc2", "mlp.c_proj"),
    ("self_attn.out_proj", "attn.out_proj"),
]
_OPEN_CLIP_TOP = {
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
}


def text_to_open_clip(text: dict) -> dict:
    """A transformers CLIP text encoder's weights in OpenCLIP's layout (SD 2.x, SDXL's second)."""
    import torch

    text = _hf_text(text)
    out: dict = {}
    for key, tensor in text.items():
        if key in _OPEN_CLIP_TOP:
            out[_OPEN_CLIP_TOP[key]] = tensor
        elif key == "text_projection.weight":
            out["text_projection"] = tensor.T.contiguous()
        elif m := re.match(r"text_model\.encoder\.layers\.(\d+)\.(.*)", key):
            layer, rest = m[1], m[2]
            if m2 := re.match(r"self_attn\.q_proj\.(weight|bias)", rest):
                parts = [text[f"text_model.encoder.layers.{layer}.self_attn.{p}_proj.{m2[1]}"]
                         for p in "qkv"]  # fmt: skip
                out[f"transformer.resblocks.{layer}.attn.in_proj_{m2[1]}"] = torch.cat(parts)
                continue
            if ".k_proj." in rest or ".v_proj." in rest:
                continue
            for hf_name, clip_name in _OPEN_CLIP_LAYER:
                rest = rest.replace(hf_name, clip_name)
            out[f"transformer.resblocks.{layer}.{rest}"] = tensor
    return out


def _hf_text(text: dict) -> dict:
    return {(k if k.startswith(("text_model.", "text_projection")) else "text_model." + k): v
            for k, v in text.items()}  # fmt: skip


def export_single_file(model_dir: str | Path, out_file: str | Path, **extra: Any) -> Path:
    """Write the UNet, VAE and text encoder(s) of a diffusers SD 1.x/2.x/XL folder as one LDM
    ``.safetensors``; ``extra`` tensors are added as they are (e.g. a ``v_pred`` marker)."""
    from safetensors.torch import load_file, save_file

    model_dir, out_file = Path(model_dir), Path(out_file)

    def load(sub: str, name: str) -> tuple[dict, dict]:
        config_path = model_dir / sub / "config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        return load_file(model_dir / sub / name), config

    state: dict = {}
    unet, unet_config = load("unet", "diffusion_pytorch_model.safetensors")
    for key, tensor in unet.items():
        state["model.diffusion_model." + unet_key_to_ldm(key, unet_config)] = tensor
    vae, vae_config = load("vae", "diffusion_pytorch_model.safetensors")
    for key, tensor in vae.items():
        ldm_key = vae_key_to_ldm(key, vae_config)
        if ".mid.attn_1." in ldm_key and ldm_key.endswith("weight") and tensor.ndim == 2:
            tensor = tensor[:, :, None, None]  # linear → 1×1 conv, as LDM stores it
        state["first_stage_model." + ldm_key] = tensor
    text, _ = load("text_encoder", "model.safetensors")
    if (model_dir / "text_encoder_2").is_dir():  # SDXL: CLIP-L as is, OpenCLIP-G converted
        text_2, _ = load("text_encoder_2", "model.safetensors")
        for key, tensor in _hf_text(text).items():
            state["conditioner.embedders.0.transformer." + key] = tensor
        for key, tensor in text_to_open_clip(text_2).items():
            state["conditioner.embedders.1.model." + key] = tensor
    elif unet_config.get("use_linear_projection"):  # SD 2.x: OpenCLIP-H
        for key, tensor in text_to_open_clip(text).items():
            state["cond_stage_model.model." + key] = tensor
    else:
        for key, tensor in _hf_text(text).items():
            state["cond_stage_model.transformer." + key] = tensor
    state.update(extra)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, out_file)
    return out_file


def _swap_halves(tensor: Any) -> Any:
    """(shift, scale) ↔ (scale, shift): SD3's and FLUX's final norms store them the other way."""
    import torch

    first, second = tensor.chunk(2, dim=0)
    return torch.cat([second, first], dim=0)


_SD3_TOP = {
    "pos_embed.pos_embed": "pos_embed",
    "pos_embed.proj.": "x_embedder.proj.",
    "time_text_embed.timestep_embedder.linear_1.": "t_embedder.mlp.0.",
    "time_text_embed.timestep_embedder.linear_2.": "t_embedder.mlp.2.",
    "time_text_embed.text_embedder.linear_1.": "y_embedder.mlp.0.",
    "time_text_embed.text_embedder.linear_2.": "y_embedder.mlp.2.",
    "context_embedder.": "context_embedder.",
    "proj_out.": "final_layer.linear.",
}
_SD3_BLOCK = {
    "attn.to_out.0.": "x_block.attn.proj.",
    "attn.to_add_out.": "context_block.attn.proj.",
    "attn.norm_q.": "x_block.attn.ln_q.",
    "attn.norm_k.": "x_block.attn.ln_k.",
    "attn.norm_added_q.": "context_block.attn.ln_q.",
    "attn.norm_added_k.": "context_block.attn.ln_k.",
    "attn2.to_out.0.": "x_block.attn2.proj.",
    "attn2.norm_q.": "x_block.attn2.ln_q.",
    "attn2.norm_k.": "x_block.attn2.ln_k.",
    "norm1.linear.": "x_block.adaLN_modulation.1.",
    "norm1_context.linear.": "context_block.adaLN_modulation.1.",
    "ff.net.0.proj.": "x_block.mlp.fc1.",
    "ff.net.2.": "x_block.mlp.fc2.",
    "ff_context.net.0.proj.": "context_block.mlp.fc1.",
    "ff_context.net.2.": "context_block.mlp.fc2.",
}
_SD3_QKV = {  # fused qkv in the original layout ← three projections in diffusers
    "attn.to_": "x_block.attn.qkv.",
    "attn.add_": "context_block.attn.qkv.",
    "attn2.to_": "x_block.attn2.qkv.",
}


def sd3_transformer_to_original(state: dict, num_layers: int) -> dict:
    """A diffusers ``SD3Transformer2DModel`` state dict in Stability's MMDiT layout
    (``joint_blocks.*``), the layout of SD 3.5 checkpoints."""
    import torch

    out: dict = {}
    for key, tensor in state.items():
        if key.startswith("norm_out.linear."):
            out["final_layer.adaLN_modulation.1." + key.rsplit(".", 1)[1]] = _swap_halves(tensor)
            continue
        if m := re.match(r"transformer_blocks\.(\d+)\.(.*)", key):
            block, rest = int(m[1]), m[2]
            for fused_from, fused_to in _SD3_QKV.items():
                proj = re.match(re.escape(fused_from) + r"(q|k|v)(_proj)?\.(weight|bias)$", rest)
                if proj and proj[1] == "q":
                    suffix, kind = proj[2] or "", proj[3]
                    parts = [state[f"transformer_blocks.{block}.{fused_from}{p}{suffix}.{kind}"]
                             for p in "qkv"]  # fmt: skip
                    out[f"joint_blocks.{block}.{fused_to}{kind}"] = torch.cat(parts)
                if proj:
                    break
            else:
                for name, original in _SD3_BLOCK.items():
                    if rest.startswith(name):
                        last = block == num_layers - 1 and name == "norm1_context.linear."
                        value = _swap_halves(tensor) if last else tensor
                        out[f"joint_blocks.{block}.{original}{rest[len(name) :]}"] = value
                        break
                else:
                    raise KeyError(f"unmapped SD3 transformer key: {key}")
            continue
        for name, original in _SD3_TOP.items():
            if key.startswith(name):
                out[original + key[len(name) :]] = tensor
                break
        else:
            raise KeyError(f"unmapped SD3 transformer key: {key}")
    return out


def export_sd3_single_file(
    model_dir: str | Path, out_file: str | Path, with_t5: bool = False
) -> Path:
    """Write a diffusers SD 3.5 folder as one checkpoint in the layout Stability ships
    (``model.diffusion_model.joint_blocks.*``, ``first_stage_model.*``,
    ``text_encoders.clip_l/clip_g[/t5xxl].transformer.*``)."""
    from safetensors.torch import load_file, save_file

    model_dir, out_file = Path(model_dir), Path(out_file)
    config = json.loads((model_dir / "transformer" / "config.json").read_text(encoding="utf-8"))
    transformer = load_file(model_dir / "transformer" / "diffusion_pytorch_model.safetensors")
    state = {
        "model.diffusion_model." + k: v
        for k, v in sd3_transformer_to_original(transformer, config["num_layers"]).items()
    }
    vae_config = json.loads((model_dir / "vae" / "config.json").read_text(encoding="utf-8"))
    for key, tensor in load_file(model_dir / "vae" / "diffusion_pytorch_model.safetensors").items():
        ldm_key = vae_key_to_ldm(key, vae_config)
        if ".mid.attn_1." in ldm_key and ldm_key.endswith("weight") and tensor.ndim == 2:
            tensor = tensor[:, :, None, None]
        state["first_stage_model." + ldm_key] = tensor
    encoders = {"clip_l": "text_encoder", "clip_g": "text_encoder_2"}
    if with_t5:
        encoders["t5xxl"] = "text_encoder_3"
    for name, folder in encoders.items():
        text = load_file(model_dir / folder / "model.safetensors")
        text = text if name == "t5xxl" else _hf_text(text)
        for key, tensor in text.items():
            state[f"text_encoders.{name}.transformer.{key}"] = tensor
    out_file.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, out_file)
    return out_file


def export_transformer_file(model_dir: str | Path, out_file: str | Path, prefix: str = "") -> Path:
    """Write a diffusers folder's transformer alone as one file (diffusers layout, as FLUX
    fine-tunes and quantised transformers are often shared), its keys under ``prefix``."""
    from safetensors.torch import load_file, save_file

    weights = Path(model_dir) / "transformer" / "diffusion_pytorch_model.safetensors"
    state = {prefix + k: v.contiguous() for k, v in load_file(weights).items()}
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, out_file)
    return Path(out_file)
