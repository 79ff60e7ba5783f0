"""Build tiny random-weight LoRA files for the tiny transformer models (Z-Image, Chroma,
Qwen-Image and its edit models, FLUX.2 Klein), offline.

Every attention projection of the transformer gets a random low-rank pair, written in the peft
layout diffusers saves (``transformer.<module>.lora_A.weight`` / ``lora_B.weight``), the layout
each family's diffusers LoRA loader reads. The projections are those the families name alike
(``to_q``, ``to_k``, ``to_v``, ``to_out.0``, the text stream's ``add_*_proj``) and FLUX.2's fused
single-block projection (``to_qkv_mlp_proj``) and Qwen-Image's feed-forward outputs
(``img_mlp`` / ``txt_mlp``), so each family's LoRA carries the names that tell its family.

Usage: ``python -m tests.tiny_models.tiny_lora_transformer MODEL_DIR OUT.safetensors``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tests.tiny_models.tiny_lora import RANK, _linear_shapes

TRANSFORMER_TARGETS = (
    "to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj",
    "to_qkv_mlp_proj", "img_mlp.net.2", "txt_mlp.net.2",
)  # fmt: skip


def build_tiny_transformer_lora(
    model_dir: str | Path, out: str | Path, seed: int = 0, scale: float = 0.5
) -> Path:
    """Write a random LoRA for the transformer of the tiny model in ``model_dir`` to ``out``
    and return its path (``scale``: the up matrices' standard deviation)."""
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, Any] = {}
    shapes = _linear_shapes(Path(model_dir), "transformer", TRANSFORMER_TARGETS)
    for name, (out_features, in_features) in shapes.items():
        down = torch.randn(RANK, in_features, generator=generator) / in_features**0.5
        tensors[f"transformer.{name}.lora_A.weight"] = down
        tensors[f"transformer.{name}.lora_B.weight"] = (
            torch.randn(out_features, RANK, generator=generator) * scale
        )
    if not tensors:
        raise ValueError(f"{model_dir} has no transformer attention projections")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_lora_transformer", description=__doc__
    )
    parser.add_argument("model_dir", help="a tiny transformer model folder")
    parser.add_argument("out", help="the .safetensors file to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = build_tiny_transformer_lora(args.model_dir, args.out, args.seed)
    print(f"tiny LoRA: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
