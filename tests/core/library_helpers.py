"""Fake AUTOMATIC1111 and ComfyUI model folders: tiny synthetic ``.safetensors`` files whose key
names and shapes are those of real checkpoints, LoRAs, ControlNets, VAEs, FLUX transformers and
text encoders (a few KB each), plus a pickle and a corrupt file."""

from __future__ import annotations

from pathlib import Path

UNET = "model.diffusion_model."
ATTN2_K = "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"

# file kind → {key: shape}
SHAPES: dict[str, dict[str, tuple[int, ...]]] = {
    "sd1_checkpoint": {
        UNET + "input_blocks.0.0.weight": (8, 4, 3, 3),
        UNET + ATTN2_K: (8, 768),
        "first_stage_model.encoder.conv_in.weight": (8, 3, 3, 3),
        "cond_stage_model.transformer.text_model.final_layer_norm.weight": (8,),
    },
    "sdxl_checkpoint": {
        UNET + "input_blocks.0.0.weight": (8, 4, 3, 3),
        UNET + "label_emb.0.0.weight": (8, 16),
        "conditioner.embedders.1.model.ln_final.weight": (8,),
        "first_stage_model.encoder.conv_in.weight": (8, 3, 3, 3),
    },
    "sd1_lora": {
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": (
            4,
            768,
        ),
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": (
            8,
            4,
        ),
    },
    "sd1_controlnet": {
        "control_model.input_blocks.0.0.weight": (8, 4, 3, 3),
        "control_model." + ATTN2_K: (8, 768),
    },
    "vae": {
        "encoder.conv_in.weight": (8, 3, 3, 3),
        "decoder.conv_in.weight": (8, 4, 3, 3),
    },
    "flux_unet": {
        "img_in.weight": (8, 64),
        "double_blocks.0.img_attn.qkv.weight": (24, 8),
        "single_blocks.0.linear1.weight": (8, 8),
    },
    "clip_l": {
        "text_model.embeddings.token_embedding.weight": (10, 768),
        "text_model.final_layer_norm.weight": (768,),
    },
}


def write_model(path: Path, kind: str) -> Path:
    """A tiny .safetensors file with the keys of ``kind`` (a SHAPES key)."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: torch.zeros(shape, dtype=torch.float16) for k, shape in SHAPES[kind].items()}
    save_file(tensors, str(path))
    return path


def write_pickle(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04" + b"\0" * 60)  # a zipped torch.save file
    return path


def write_corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x10\0\0\0\0\0\0\0{not json at all}")
    return path


def a1111_tree(root: Path) -> Path:
    """An AUTOMATIC1111/Forge install: models/Stable-diffusion, Lora, ControlNet, VAE."""
    models = root / "models"
    write_model(models / "Stable-diffusion" / "dreamy_v1.safetensors", "sd1_checkpoint")
    write_model(models / "Stable-diffusion" / "XL" / "ponyish.safetensors", "sdxl_checkpoint")
    write_model(models / "Lora" / "InkStyle.safetensors", "sd1_lora")
    write_model(models / "ControlNet" / "control_canny.safetensors", "sd1_controlnet")
    write_model(models / "VAE" / "vae-ft-mse.safetensors", "vae")
    write_pickle(models / "Stable-diffusion" / "old.ckpt")
    write_corrupt(models / "Lora" / "broken.safetensors")
    write_pickle(models / "ESRGAN" / "4x.pth")  # not a folder the scan looks in
    return root


def comfyui_tree(root: Path) -> Path:
    """A ComfyUI install: models/checkpoints, loras, controlnet, vae, unet, clip."""
    models = root / "ComfyUI" / "models"
    write_model(models / "checkpoints" / "sdxl_base.safetensors", "sdxl_checkpoint")
    write_model(models / "loras" / "detail.safetensors", "sd1_lora")
    write_model(models / "controlnet" / "canny.safetensors", "sd1_controlnet")
    write_model(models / "vae" / "ae.safetensors", "vae")
    write_model(models / "unet" / "flux1-schnell.safetensors", "flux_unet")
    write_model(models / "clip" / "clip_l.safetensors", "clip_l")
    return root / "ComfyUI"
