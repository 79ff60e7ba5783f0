"""Quantized weights through the libraries made for them: torchao (int8 weight-only, also on a
CPU; fp8 weight-only on CUDA) and bitsandbytes (nf4, CUDA only).

A folder model is quantized while it loads (diffusers' ``PipelineQuantizationConfig``: the
UNet/transformer and the big text encoders — T5, Qwen — each get the library's config); a
single file is quantized right after it loads, before it moves to the device. GGUF files carry
their own quantization (``core.models.gguf``). What a pass ran with is recorded as
``model.quantize``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from core.errors import ModelError
from core.requests import QUANTIZE_MODES

QUANTIZE_HINTS: dict[str, str] = {
    "none": "weights as loaded (fp16/bf16 on a GPU)",
    "int8": "torchao int8 weight-only: about half the bf16 memory; runs on CPUs too",
    "fp8": "torchao fp8 weight-only: half the bf16 memory, fast matmuls on recent NVIDIA GPUs",
    "nf4": "bitsandbytes 4-bit NF4: a quarter of the bf16 memory, a little softer; CUDA only",
}
# Bytes per weight each mode stores (the denoiser and big text encoders; the VAE stays as is).
BYTES_PER_WEIGHT: dict[str, float] = {"none": 2.0, "int8": 1.0, "fp8": 1.0, "nf4": 0.55}
DENOISERS = ("unet", "transformer")
# Text encoders worth quantizing: T5-XXL (FLUX, SD 3.5: text_encoder_2/3) and Qwen (Qwen-Image,
# Klein, Z-Image: text_encoder). CLIP encoders are small and sensitive: they stay as they are.
BIG_TEXT_ENCODERS = ("T5EncoderModel", "Qwen2_5_VLForConditionalGeneration", "Qwen3Model")
_LIBRARY = {"int8": "torchao", "fp8": "torchao", "nf4": "bitsandbytes"}


def check_quantize(mode: str, device: str) -> None:
    """Raise a one-line ModelError when ``mode`` cannot run on ``device`` or its library is
    missing; "none" always passes."""
    if mode not in QUANTIZE_MODES:
        raise ModelError(
            f"unknown quantization {mode!r} (choose one of: {', '.join(QUANTIZE_MODES)})"
        )
    if mode == "none":
        return
    if mode in ("fp8", "nf4") and device != "cuda":
        raise ModelError(f"--quantize {mode} needs a CUDA GPU; on {device} use int8 or none")
    library = _LIBRARY[mode]
    if importlib.util.find_spec(library) is None:
        raise ModelError(
            f"--quantize {mode} needs the {library} package: pip install 'img2img-studio[quant]'"
        )


def _torchao_config(mode: str) -> Any:
    from torchao.quantization import Float8WeightOnlyConfig, Int8WeightOnlyConfig

    return Int8WeightOnlyConfig() if mode == "int8" else Float8WeightOnlyConfig()


def _diffusers_config(mode: str, dtype: Any) -> Any:
    import diffusers

    if mode == "nf4":
        return diffusers.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
    return diffusers.TorchAoConfig(_torchao_config(mode))


def _transformers_config(mode: str, dtype: Any) -> Any:
    import transformers

    if mode == "nf4":
        return transformers.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
    return transformers.TorchAoConfig(_torchao_config(mode))


def pipeline_quantization(mode: str, index: dict, dtype: Any) -> dict[str, Any]:
    """``from_pretrained`` keyword arguments that quantize a folder's denoiser and big text
    encoders while loading (``{}`` for "none"); ``index`` is the folder's model_index.json."""
    if mode == "none":
        return {}
    from diffusers import PipelineQuantizationConfig

    mapping: dict[str, Any] = {}
    for name, entry in index.items():
        class_name = entry[1] if isinstance(entry, list) and len(entry) == 2 else None
        if name in DENOISERS:
            mapping[name] = _diffusers_config(mode, dtype)
        elif class_name in BIG_TEXT_ENCODERS:
            mapping[name] = _transformers_config(mode, dtype)
    return {"quantization_config": PipelineQuantizationConfig(quant_mapping=mapping)}


def quantize_loaded(pipe: Any, mode: str) -> list[str]:
    """Quantize a loaded pipeline's denoiser and big text encoders in place with torchao (the
    single-file path); returns the names of the parts quantized. nf4 only loads quantized:
    bitsandbytes cannot convert a loaded model, so it is refused here."""
    if mode == "none":
        return []
    if mode == "nf4":
        raise ModelError("--quantize nf4 works with diffusers folders and hub models only")
    from torchao.quantization import quantize_

    done = []
    for name, module in getattr(pipe, "components", {}).items():
        big_text = type(module).__name__ in BIG_TEXT_ENCODERS
        if module is not None and (name in DENOISERS or big_text):
            quantize_(module, _torchao_config(mode))
            done.append(name)
    return done


def is_quantized(module: Any) -> bool:
    """Whether any of ``module``'s weights is a quantized tensor (torchao, bitsandbytes, GGUF)."""
    import torch

    for param in module.parameters():
        data = param.data if isinstance(param, torch.nn.Parameter) else param
        if type(data) is not torch.Tensor and type(data) is not torch.nn.Parameter:
            return True
        if param.dtype in (torch.int8, torch.uint8, torch.float8_e4m3fn):
            return True
    return False


def pipeline_from(pipeline_class: Any, base: Any, dtype: Any) -> Any:
    """``pipeline_class`` on ``base``'s loaded modules (no reload). ``from_pipe`` casts every
    module to ``dtype``, which quantized weights refuse: a quantized pipeline's modules are
    handed to the class as they are."""
    denoiser = getattr(base, "unet", None) or getattr(base, "transformer", None)
    if denoiser is None or not is_quantized(denoiser):
        return pipeline_class.from_pipe(base, dtype=dtype)
    expected, optional = pipeline_class._get_signature_keys(pipeline_class)
    parts = {name: module for name, module in base.components.items() if name in expected}
    extras = {name: base.config[name] for name in optional if name in base.config}
    extras = {name: value for name, value in extras.items() if not isinstance(value, (list, tuple))}
    for name in expected:
        parts.setdefault(name, None)
    return pipeline_class(**parts, **{k: v for k, v in extras.items() if k not in parts})
