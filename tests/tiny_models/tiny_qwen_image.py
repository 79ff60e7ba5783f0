"""Build a tiny random-weight Qwen-Image model offline.

The components follow diffusers' own Qwen-Image tests (``get_dummy_components``): a
``QwenImageTransformer2DModel`` with two layers (patch 2, no guidance embedding), a tiny
Qwen2.5-VL text encoder (its vision tower too, which Qwen-Image-Edit uses), the offline Qwen
tokenizer
(``tests.tiny_models.qwen_tokenizer``; the encoder's special-token ids are set to match), a
Wan-style ``AutoencoderKLQwenImage`` with 16 latent channels and three spatial downsamplings
(scale factor 8, as the real one; latents are packed 2×2 as FLUX's) and the flow-matching Euler
scheduler with dynamic shifting. Outputs are noise: tests use the model for structure and
invariants.

``--edit`` writes a Qwen-Image-Edit folder instead: the same components and a ``processor/``
folder (a Qwen2-VL image processor with a small pixel budget, and the tokenizer), laid out as
the real repo's; ``core.models.qwen_processor`` loads it without torchvision.
``--edit-plus`` writes the same as Qwen-Image-Edit-Plus (2509/2511, reference pictures);
``--edit-inpaint`` the Qwen-Image-Edit components saved by ``QwenImageEditInpaintPipeline``
(its ``model_index.json`` names that class).

Usage: ``python -m tests.tiny_models.tiny_qwen_image OUT_DIR [--edit | --edit-plus |
--edit-inpaint]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tests.tiny_models.qwen_tokenizer import QWEN_VOCAB, build_qwen_tokenizer, write_qwen_tokenizer

TEXT_WIDTH = 16
LATENT_CHANNELS = 16


def build_tiny_qwen25_vl(tokenizer: Any, seed: int) -> Any:
    """A tiny random-weight Qwen2.5-VL model whose special-token ids are ``tokenizer``'s."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = tokenizer.convert_tokens_to_ids
    torch.manual_seed(seed)
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": TEXT_WIDTH,
            "intermediate_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "vocab_size": QWEN_VOCAB,
            "bos_token_id": ids("<|endoftext|>"),
            "eos_token_id": ids("<|im_end|>"),
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "rope_theta": 1000000.0,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": TEXT_WIDTH,
        },
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
    )
    return Qwen2_5_VLForConditionalGeneration(config)


def build_qwen_image_components(tokenizer: Any, seed: int = 0) -> dict[str, Any]:
    """Seeded tiny Qwen-Image components (transformer, VAE, Qwen2.5-VL encoder, scheduler)."""
    import torch
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageTransformer2DModel,
    )

    torch.manual_seed(seed)
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=LATENT_CHANNELS * 4,
        out_channels=LATENT_CHANNELS,
        num_layers=2,
        attention_head_dim=16,
        num_attention_heads=3,
        joint_attention_dim=TEXT_WIDTH,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    torch.manual_seed(seed + 1)
    vae = AutoencoderKLQwenImage(
        base_dim=16,
        z_dim=LATENT_CHANNELS,
        dim_mult=[1, 1, 2, 2],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * LATENT_CHANNELS,
        latents_std=[1.0] * LATENT_CHANNELS,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=1.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=0.9,
        base_image_seq_len=256,
        max_image_seq_len=8192,
        time_shift_type="exponential",
    )
    return {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": build_tiny_qwen25_vl(tokenizer, seed + 2),
        "scheduler": scheduler,
    }


def build_tiny_qwen_image(out: str | Path, seed: int = 0) -> Path:
    """Write a tiny Qwen-Image diffusers folder (safetensors) and return its path."""
    from diffusers import QwenImagePipeline

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_qwen_tokenizer(folder / "tokenizer")
    components = build_qwen_image_components(tokenizer, seed)
    pipe: Any = QwenImagePipeline(**components, tokenizer=tokenizer)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_qwen_image_edit(
    out: str | Path, seed: int = 0, plus: bool = False, inpaint: bool = False
) -> Path:
    """Write a tiny Qwen-Image-Edit diffusers folder (safetensors) and return its path;
    ``plus``: Qwen-Image-Edit-Plus (2509/2511: reference pictures), the same components;
    ``inpaint``: saved by ``QwenImageEditInpaintPipeline`` (the same components and weights)."""
    import diffusers
    from transformers import Qwen2VLImageProcessorPil

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_qwen_tokenizer(folder / "tokenizer")
    components = build_qwen_image_components(tokenizer, seed)
    # The processor is saved by hand: the pipeline cannot save one built without torchvision.
    pipeline: Any = diffusers.QwenImageEditPipeline
    if plus:
        pipeline = diffusers.QwenImageEditPlusPipeline
    elif inpaint:
        pipeline = diffusers.QwenImageEditInpaintPipeline
    pipe: Any = pipeline(**components, tokenizer=tokenizer, processor=None)
    pipe.save_pretrained(folder, safe_serialization=True)
    pixels = 28 * 28  # one merged 2×2 patch of 14 px: 4–16 of them keep the vision tower tiny
    image_processor = Qwen2VLImageProcessorPil(min_pixels=pixels * 4, max_pixels=pixels * 16)
    image_processor.save_pretrained(folder / "processor")
    build_qwen_tokenizer().save_pretrained(folder / "processor")
    index_file = folder / "model_index.json"
    index = json.loads(index_file.read_text(encoding="utf-8"))
    index["processor"] = ["transformers", "Qwen2VLProcessor"]
    index_file.write_text(json.dumps(index, indent=2), encoding="utf-8")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_qwen_image", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the diffusers model into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--edit", action="store_true", help="a Qwen-Image-Edit model")
    parser.add_argument("--edit-plus", action="store_true", help="a Qwen-Image-Edit-Plus model")
    parser.add_argument(
        "--edit-inpaint", action="store_true", help="Qwen-Image-Edit saved as its inpaint pipeline"
    )
    args = parser.parse_args(argv)
    if args.edit_inpaint:
        folder = build_tiny_qwen_image_edit(args.out_dir, seed=args.seed, inpaint=True)
        print(f"tiny Qwen-Image-Edit (inpaint pipeline): {folder}")
    elif args.edit_plus:
        folder = build_tiny_qwen_image_edit(args.out_dir, seed=args.seed, plus=True)
        print(f"tiny Qwen-Image-Edit-Plus: {folder}")
    elif args.edit:
        print(f"tiny Qwen-Image-Edit: {build_tiny_qwen_image_edit(args.out_dir, seed=args.seed)}")
    else:
        print(f"tiny Qwen-Image model: {build_tiny_qwen_image(args.out_dir, seed=args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
