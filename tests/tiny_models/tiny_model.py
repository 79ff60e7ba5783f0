"""Build tiny random-weight Stable Diffusion 1.x models offline.

The models have the real SD 1.x architecture (4 UNet levels, 2 layers per block, a VAE with scale
factor 8, a CLIP text encoder) at toy widths, so every pipeline runs in milliseconds on a CPU.
They output noise; tests use them for structure and invariants.

Usage: ``python -m tests.tiny_models.tiny_model OUT_DIR [--inpaint] [--single-file FILE]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tests.tiny_models.ldm_export import export_single_file


def _bytes_to_unicode() -> dict[int, str]:
    """The byte→unicode table used by CLIP's byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1))
    bs += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def write_tokenizer(folder: Path) -> None:
    """Write a minimal CLIP BPE tokenizer (byte-level vocab, a few merges)."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars]
    merges = ["t h", "th e</w>", "a n", "o n</w>", "i n", "e r</w>"]
    tokens += [m.replace(" ", "") for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", "utf-8")
    config = {
        "model_max_length": 77,
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "CLIPTokenizer",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")


def build_tiny_vae(layers_per_block: int) -> Any:
    """A tiny random-weight SD VAE: 4 blocks (scale factor 8), 4 latent channels."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=layers_per_block,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
    )


def tiny_text_config(num_hidden_layers: int, **extra: Any) -> Any:
    """A tiny CLIP text-encoder config (hidden size 32, the offline tokenizer's 1000 tokens)."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=2,
        hidden_size=32,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=num_hidden_layers,
        pad_token_id=1,
        vocab_size=1000,
        max_position_embeddings=77,
        projection_dim=32,
        **extra,
    )


def build_components(inpaint: bool = False, seed: int = 0) -> dict:
    """Return seeded tiny SD 1.x components (UNet, VAE, CLIP text encoder, scheduler)."""
    import torch
    from diffusers import DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=9 if inpaint else 4,
        out_channels=4,
        block_out_channels=(32, 32, 64, 64),
        layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=8,
    )
    torch.manual_seed(seed + 1)
    vae = build_tiny_vae(layers_per_block=2)
    torch.manual_seed(seed + 2)
    text_config = tiny_text_config(num_hidden_layers=2)
    text_encoder = CLIPTextModel(text_config)
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "scheduler": scheduler}


def build_tiny_model(out_dir: str | Path, inpaint: bool = False, seed: int = 0) -> Path:
    """Write a tiny diffusers folder (model_index.json + components) and return its path."""
    return save_sd_folder(out_dir, build_components(inpaint=inpaint, seed=seed), inpaint)


def save_sd_folder(out_dir: str | Path, components: dict[str, Any], inpaint: bool) -> Path:
    """Save SD 1.x/2.x ``components`` (UNet, VAE, text encoder, scheduler) with the offline
    tokenizer as a diffusers folder (safetensors); returns its path."""
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_tokenizer(out / "tokenizer")
    pipeline_cls = StableDiffusionInpaintPipeline if inpaint else StableDiffusionPipeline
    pipe: Any = pipeline_cls(
        **components,
        tokenizer=CLIPTokenizer.from_pretrained(out / "tokenizer"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_model", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the diffusers model into")
    parser.add_argument("--inpaint", action="store_true", help="9-channel inpainting UNet")
    parser.add_argument("--single-file", metavar="FILE", help="also export an LDM .safetensors")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    folder = build_tiny_model(args.out_dir, inpaint=args.inpaint, seed=args.seed)
    print(f"tiny model: {folder}")
    if args.single_file:
        export_single_file(folder, args.single_file)
        print(f"single file: {args.single_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
