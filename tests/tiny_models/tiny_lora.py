"""Build tiny random-weight LoRA files for the tiny test models, offline.

A LoRA is read off a tiny model folder (``tests.tiny_models.tiny_model`` / ``tiny_sdxl``): every
attention projection of the UNet (``to_q``, ``to_k``, ``to_v``, ``to_out.0``) and, when asked, of
the text encoders (``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``) gets a random low-rank pair.
Two key layouts are written:

- ``"diffusers"``: the peft layout diffusers saves (``unet.<module>.lora_A.weight`` /
  ``lora_B.weight``, ``text_encoder.…``, ``text_encoder_2.…``);
- ``"kohya"``: the sd-scripts layout model sites share (``lora_unet_<module>.lora_down.weight`` /
  ``lora_up.weight`` / ``alpha``, ``lora_te_…``, or ``lora_te1_…`` / ``lora_te2_…`` for SDXL).

Usage:
``python -m tests.tiny_models.tiny_lora MODEL_DIR OUT.safetensors [--text-encoder] [--kohya]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
RANK = 4


def _linear_shapes(folder: Path, component: str, targets: tuple[str, ...]) -> dict[str, tuple]:
    """``{module name: (out_features, in_features)}`` for the target Linear layers of a
    component, read from its weights file's header (no weights are loaded)."""
    from safetensors import safe_open

    (weights,) = sorted((folder / component).glob("*.safetensors"))[:1]
    shapes: dict[str, tuple] = {}
    with safe_open(str(weights), "pt") as fh:
        for key in fh.keys():  # noqa: SIM118 (safe_open is not a mapping)
            module, _, leaf = key.rpartition(".")
            shape = tuple(fh.get_slice(key).get_shape())
            if leaf == "weight" and module.endswith(targets) and len(shape) == 2:
                shapes[module] = shape
    if component in ("unet", "transformer"):
        return shapes
    # LoRA files name text-encoder layers as older transformers did: ``text_model.encoder.…``.
    return {
        name if name.startswith("text_model.") else f"text_model.{name}": shape
        for name, shape in shapes.items()
    }


def build_tiny_lora(
    model_dir: str | Path,
    out: str | Path,
    text_encoder: bool = False,
    layout: str = "diffusers",
    seed: int = 0,
    scale: float = 0.5,
) -> Path:
    """Write a random LoRA for the tiny model in ``model_dir`` to ``out`` and return its path.

    ``text_encoder``: also LoRA layers for the text encoder(s); ``layout``: "diffusers" or
    "kohya"; ``scale`` sets the size of the change (the up matrices' standard deviation).
    """
    import torch
    from safetensors.torch import save_file

    folder = Path(model_dir)
    components = ["unet"]
    if text_encoder:
        components += [c for c in ("text_encoder", "text_encoder_2") if (folder / c).is_dir()]
    sdxl = (folder / "text_encoder_2").is_dir()
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, Any] = {}
    for component in components:
        targets = UNET_TARGETS if component == "unet" else TEXT_TARGETS
        for name, (out_features, in_features) in _linear_shapes(folder, component, targets).items():
            down = torch.randn(RANK, in_features, generator=generator) / in_features**0.5
            up = torch.randn(out_features, RANK, generator=generator) * scale
            if layout == "kohya":
                prefix = _kohya_prefix(component, sdxl) + name.replace(".", "_")
                tensors[f"{prefix}.lora_down.weight"] = down
                tensors[f"{prefix}.lora_up.weight"] = up
                tensors[f"{prefix}.alpha"] = torch.tensor(float(RANK))
            else:
                tensors[f"{component}.{name}.lora_A.weight"] = down
                tensors[f"{component}.{name}.lora_B.weight"] = up
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return path


def _kohya_prefix(component: str, sdxl: bool) -> str:
    if component == "unet":
        return "lora_unet_"
    if not sdxl:
        return "lora_te_"
    return "lora_te2_" if component == "text_encoder_2" else "lora_te1_"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_lora", description=__doc__
    )
    parser.add_argument("model_dir", help="a tiny model folder (tests.tiny_models.tiny_model)")
    parser.add_argument("out", help="the .safetensors file to write")
    parser.add_argument("--text-encoder", action="store_true", help="also text-encoder layers")
    parser.add_argument("--kohya", action="store_true", help="the sd-scripts (kohya) layout")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    layout = "kohya" if args.kohya else "diffusers"
    path = build_tiny_lora(args.model_dir, args.out, args.text_encoder, layout, args.seed)
    print(f"tiny LoRA: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
