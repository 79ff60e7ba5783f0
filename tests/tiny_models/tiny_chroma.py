"""Build a tiny random-weight Chroma model offline.

Chroma is FLUX.1 schnell re-trained without CLIP and without distilled guidance (real CFG with
a negative prompt), with its own transformer class. The components follow diffusers' own Chroma
tests (``get_dummy_components``): a ``ChromaTransformer2DModel`` with one double and one single
block and a one-layer modulation approximator, the tiny T5 encoder and offline tokenizer of
``tests.tiny_models.tiny_sd3``, FLUX.1's 16-channel VAE shape with its shift and scaling (scale
factor 8; latents are packed 2×2 as FLUX's) and the flow-matching Euler scheduler.

Usage: ``python -m tests.tiny_models.tiny_chroma OUT_DIR``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tests.tiny_models.tiny_sd3 import T5_WIDTH, build_tiny_t5, build_tiny_vae16, write_t5_tokenizer


def build_chroma_components(seed: int = 0) -> dict[str, Any]:
    """Seeded tiny Chroma components (transformer, VAE, T5 encoder, scheduler)."""
    import torch
    from diffusers import ChromaTransformer2DModel, FlowMatchEulerDiscreteScheduler

    torch.manual_seed(seed)
    transformer = ChromaTransformer2DModel(
        patch_size=1,
        in_channels=64,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=T5_WIDTH,
        axes_dims_rope=[4, 4, 8],
        approximator_hidden_dim=32,
        approximator_layers=1,
        approximator_num_channels=16,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    return {
        "transformer": transformer,
        "vae": build_tiny_vae16(0.1159, 0.3611, seed + 1),
        "text_encoder": build_tiny_t5(seed + 2),
        "scheduler": scheduler,
    }


def build_tiny_chroma(out: str | Path, seed: int = 0) -> Path:
    """Write a tiny Chroma diffusers folder (safetensors) and return its path."""
    from diffusers import ChromaPipeline
    from transformers import T5Tokenizer

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    write_t5_tokenizer(folder / "tokenizer")
    pipe: Any = ChromaPipeline(
        **build_chroma_components(seed),
        tokenizer=T5Tokenizer.from_pretrained(folder / "tokenizer"),
        image_encoder=None,
        feature_extractor=None,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_chroma", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the diffusers model into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"tiny Chroma model: {build_tiny_chroma(args.out_dir, seed=args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
