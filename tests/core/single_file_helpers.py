"""Helpers for the single-file tests: synthetic headers, tiny models whose text encoders differ
in width (as the real ones do), and a fake HF cache."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

REVISION = "0123456789abcdef0123456789abcdef01234567"
DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "U8": 1, "I64": 8}


def write_header_file(
    path: Path, tensors: dict[str, tuple[str, list[int]]], metadata: dict | None = None
) -> Path:
    """A valid .safetensors file with ``tensors`` ({name: (dtype, shape)}) all zero; the data
    part is sparse, so real shapes cost no disk."""
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        count = 1
        for n in shape:
            count *= n
        size = count * DTYPE_BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)
    return path


def _wider_clip(width: int, seed: int) -> Any:
    """A tiny CLIP text encoder with projection, ``width`` wide (the first one is 32): diffusers
    tells a file's two CLIP encoders apart by width, as for the real CLIP-L (768) and -G (1280)."""
    import torch
    from transformers import CLIPTextModelWithProjection

    from tests.tiny_models.tiny_model import tiny_text_config

    config = tiny_text_config(num_hidden_layers=2, hidden_act="gelu")
    config.hidden_size = width
    torch.manual_seed(seed)
    return CLIPTextModelWithProjection(config)


def build_sdxl_for_single_file(out: Path) -> Path:
    """A tiny SDXL img2img folder whose second text encoder is 48 wide (the first: 32)."""
    import torch
    from diffusers import StableDiffusionXLImg2ImgPipeline, UNet2DConditionModel
    from transformers import CLIPTokenizer

    from tests.tiny_models.tiny_model import write_tokenizer
    from tests.tiny_models.tiny_sdxl import build_sdxl_components

    components = build_sdxl_components(seed=3)
    components["text_encoder_2"] = _wider_clip(48, seed=7)
    unet_config = dict(components["unet"].config)
    unet_config.update(cross_attention_dim=32 + 48)
    torch.manual_seed(4)
    components["unet"] = UNet2DConditionModel.from_config(unet_config)
    out.mkdir(parents=True, exist_ok=True)
    write_tokenizer(out / "tokenizer")
    write_tokenizer(out / "tokenizer_2")
    pipe: Any = StableDiffusionXLImg2ImgPipeline(
        **components,
        tokenizer=CLIPTokenizer.from_pretrained(out / "tokenizer"),
        tokenizer_2=CLIPTokenizer.from_pretrained(out / "tokenizer_2"),
        requires_aesthetics_score=False,
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    return out


def build_sd3_for_single_file(out: Path) -> Path:
    """The tiny SD 3.5 folder with a 48-wide CLIP-G (same projection width)."""
    from tests.tiny_models.tiny_sd3 import build_tiny_sd3

    folder = build_tiny_sd3(out)
    shutil.rmtree(folder / "text_encoder_2")
    _wider_clip(48, seed=9).save_pretrained(folder / "text_encoder_2", safe_serialization=True)
    return folder


def fake_hub_cache(cache: Path, repo: str, source: Path) -> Path:
    """Lay ``source`` out in ``cache`` as the HF hub would have downloaded ``repo``."""
    root = cache / ("models--" + repo.replace("/", "--"))
    snapshot = root / "snapshots" / REVISION
    shutil.copytree(source, snapshot)
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(REVISION)
    return snapshot


def state_dicts_equal(a: Any, b: Any, skip: tuple[str, ...] = ()) -> list[str]:
    """Names of the tensors that differ between two modules (empty: identical)."""
    import torch

    left, right = a.state_dict(), b.state_dict()
    assert left.keys() == right.keys()
    return [k for k in left if k not in skip and not torch.equal(left[k], right[k])]


def chroma_converter_at_width(width: int) -> Any:
    """diffusers' own Chroma converter with its hard-coded inner width (3072, the real
    model's) set to ``width``: the same code, for a tiny model's original-layout file."""
    import inspect

    from diffusers.loaders import single_file_utils

    name = "convert_chroma_transformer_checkpoint_to_diffusers"
    source = inspect.getsource(getattr(single_file_utils, name))
    assert source.count("inner_dim = 3072") == 1, "diffusers' Chroma converter changed"
    namespace = dict(vars(single_file_utils))
    exec(source.replace("inner_dim = 3072", f"inner_dim = {width}"), namespace)  # noqa: S102
    return namespace[name]
