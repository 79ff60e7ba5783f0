"""Build a tiny random-weight SD 3.5 model offline, and the tiny T5 parts FLUX shares.

The components follow diffusers' own SD3 tests (``get_dummy_components``): an
``SD3Transformer2DModel`` with one joint block, two CLIP text encoders with projections, a T5
encoder, a 16-channel VAE with SD3's shift and scaling factors (scale factor 8), and the
flow-matching Euler scheduler. The T5 tokenizer is built offline from a small Unigram
vocabulary. Outputs are noise: tests use the model for structure and invariants.

Usage: ``python -m tests.tiny_models.tiny_sd3 OUT_DIR``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tests.tiny_models.tiny_model import tiny_text_config, write_tokenizer

T5_WIDTH = 32
_WORDS = ("a", "the", "red", "blue", "cat", "house", "photo", "of", "sea", "make", "it")


def write_t5_tokenizer(folder: Path) -> None:
    """Write a tiny T5 tokenizer (Unigram over letters and a few words), no network."""
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(c, -3.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789,."]
    vocab += [(f"▁{w}", -1.0) for w in _WORDS]
    T5Tokenizer(vocab=vocab, extra_ids=0).save_pretrained(folder)


def build_tiny_t5(seed: int) -> Any:
    """A tiny random-weight T5 encoder (width 32) for the tiny tokenizer's vocabulary."""
    import torch
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=64,
        d_model=T5_WIDTH,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        is_encoder_decoder=False,
        use_cache=False,
    )
    return T5EncoderModel(config)


def build_tiny_vae16(shift_factor: float, scaling_factor: float, seed: int) -> Any:
    """A tiny 16-latent-channel VAE (scale factor 8) with a family's shift and scaling."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=1,
        latent_channels=16,
        norm_num_groups=8,
        sample_size=64,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=shift_factor,
        scaling_factor=scaling_factor,
    )


def build_sd3_components(seed: int = 0, num_layers: int = 1) -> dict[str, Any]:
    """Seeded tiny SD3 components (transformer, VAE, three text encoders, scheduler).
    ``num_layers=2`` gives a ControlNet a block to act on (the last block takes none)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(
        sample_size=8,
        patch_size=2,
        in_channels=16,
        out_channels=16,
        num_layers=num_layers,
        attention_head_dim=8,
        num_attention_heads=4,
        joint_attention_dim=T5_WIDTH,
        caption_projection_dim=32,
        pooled_projection_dim=64,  # two CLIP projections of 32
        pos_embed_max_size=32,
    )
    text_config = tiny_text_config(num_hidden_layers=2, hidden_act="gelu")
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModelWithProjection(text_config)
    torch.manual_seed(seed + 2)
    text_encoder_2 = CLIPTextModelWithProjection(text_config)
    return {
        "transformer": transformer,
        "vae": build_tiny_vae16(0.0609, 1.5305, seed + 3),
        "text_encoder": text_encoder,
        "text_encoder_2": text_encoder_2,
        "text_encoder_3": build_tiny_t5(seed + 4),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
    }


def build_tiny_sd3(out: str | Path, seed: int = 0, num_layers: int = 1) -> Path:
    """Write a tiny SD 3.5 diffusers folder (safetensors) and return its path."""
    from diffusers import StableDiffusion3Pipeline
    from transformers import CLIPTokenizer, T5Tokenizer

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer(folder / "tokenizer")
    write_tokenizer(folder / "tokenizer_2")
    write_t5_tokenizer(folder / "tokenizer_3")
    pipe: Any = StableDiffusion3Pipeline(
        **build_sd3_components(seed, num_layers),
        tokenizer=CLIPTokenizer.from_pretrained(folder / "tokenizer"),
        tokenizer_2=CLIPTokenizer.from_pretrained(folder / "tokenizer_2"),
        tokenizer_3=T5Tokenizer.from_pretrained(folder / "tokenizer_3"),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_sd3", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the diffusers model into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"tiny SD 3.5 model: {build_tiny_sd3(args.out_dir, seed=args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
