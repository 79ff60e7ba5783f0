"""Device and precision: ``auto`` picks CUDA (fp16) > MPS > CPU (fp32)."""

from __future__ import annotations

from typing import Any

from core.errors import ModelError


def resolve_device(device: str = "auto") -> str:
    """The device to run on; raises ModelError when the asked-for one is missing."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for, but no CUDA GPU is available")
    if device == "mps" and not (torch.backends.mps.is_available()):
        raise ModelError("--device mps was asked for, but MPS is not available")
    if device not in ("cpu", "cuda", "mps"):
        raise ModelError(f"unknown device '{device}' (choose auto, cpu, cuda or mps)")
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    """The torch dtype for ``dtype`` (auto | fp32 | fp16 | bf16) on ``device``."""
    import torch

    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if dtype == "auto":
        # fp16 on CUDA; fp32 on MPS (fp16 VAEs and some kernels give black or NaN pictures
        # there) and on CPUs (fp16 is slow or unsupported).
        return torch.float16 if device == "cuda" else torch.float32
    if dtype not in table:
        raise ModelError(f"unknown dtype '{dtype}' (choose auto, fp32, fp16 or bf16)")
    return table[dtype]
