"""What ``--memory auto`` chooses, and why: a pure function of the free memory and the model's
measured size (bytes of its parameters: the whole pipeline and its biggest component).

From the fastest to the lightest on a CUDA GPU:

- ``none``: everything on the GPU (the model and a pass's working memory fit);
- ``tiling``: the same, with the VAE decoding in tiles (the weights fit, the decode is tight);
- ``offload``: model CPU offload — the biggest component must fit alone;
- ``offload+fp8``: the same with a big transformer's weights stored in fp8 (half the bytes);
- ``group`` (``+fp8``): diffusers' group offloading — one block at a time on the GPU, the next
  one copied in on a CUDA stream while the current one computes: a few GB whatever the model;
- ``sequential`` (``+fp8``): layer by layer, the least memory and the slowest, when even a
  block group and the working memory do not fit.

A CPU always runs ``none`` (the model lives in system memory); on Apple's unified memory the
VAE tiles when RAM is short.
"""

from __future__ import annotations

from dataclasses import dataclass

GB = 1_000_000_000
# Working memory a pass needs besides the weights (activations, the VAE decode) at the model's
# native size, by the size of its biggest component: SD 1.5 (1.7 GB UNet) 1.5 GB, SDXL (5 GB)
# 3 GB, FLUX/Qwen (24–41 GB) 5 GB.
HEADROOMS = ((3 * GB, int(1.5 * GB)), (10 * GB, 3 * GB))
HEADROOM_BIG = 5 * GB
BIG_COMPONENT = 8 * GB  # a denoiser this big is a "big transformer" (SD 3.5 Large, FLUX, Qwen…)
# A group-offloaded model keeps about this much on the GPU: the block computing, the one being
# copied in (a FLUX/Qwen block in bf16 is ~0.6 GB), plus CUDA streams' pinned staging.
GROUP_RESIDENT = int(1.5 * GB)
# Bytes per weight of the denoiser under each --quantize mode, relative to bf16's 2.
QUANTIZED_SHARE = {"none": 1.0, "int8": 0.5, "fp8": 0.5, "nf4": 0.28}


@dataclass(frozen=True)
class MemoryChoice:
    """The mode chosen (a MEMORY_MODES name), whether a big transformer's weights are also kept
    in fp8 between layers, and the one-line reason."""

    mode: str
    fp8_storage: bool
    reason: str

    @property
    def label(self) -> str:
        """The mode in use as the record names it: ``group+fp8``, ``none``…"""
        return f"{self.mode}+fp8" if self.fp8_storage else self.mode


def _gb(value: float) -> str:
    return f"{value / GB:.1f} GB"


def headroom_for(biggest_bytes: int) -> int:
    """The working memory a pass needs on top of the weights, from the biggest component."""
    return next((room for below, room in HEADROOMS if biggest_bytes < below), HEADROOM_BIG)


def choose_memory_mode(
    free_vram: int | None,
    free_ram: int | None,
    model_bytes: int,
    device: str,
    quantize: str = "none",
    biggest_bytes: int | None = None,
    measured_quantized: bool = False,
) -> MemoryChoice:
    """The lightest-first search described in the module doc. ``model_bytes``: all components'
    parameters in the run precision (bf16/fp16); ``biggest_bytes``: the biggest component's
    (default: 70 % of the model, the typical denoiser share); ``quantize``: what the denoiser's
    weights will be quantized to (its bytes shrink accordingly, unless ``measured_quantized``
    says the sizes were measured on the quantized weights already)."""
    biggest = biggest_bytes if biggest_bytes is not None else int(model_bytes * 0.7)
    share = 1.0 if measured_quantized else QUANTIZED_SHARE.get(quantize, 1.0)
    quantized = int(biggest * share)
    whole = model_bytes - biggest + quantized
    biggest = quantized
    headroom = headroom_for(biggest_bytes if biggest_bytes is not None else biggest)
    size = f"model {_gb(whole)} (largest part {_gb(biggest)})"
    if device == "cpu":
        return MemoryChoice("none", False, f"CPU: the {size} runs in system memory")
    if device == "mps":
        if free_ram is not None and free_ram < whole + headroom:
            return MemoryChoice("tiling", False, f"{size} + decode exceed {_gb(free_ram)} free")
        return MemoryChoice("none", False, f"{size} fits the unified memory")
    if free_vram is None:
        return MemoryChoice("none", False, "free GPU memory unknown: everything on the GPU")
    free = f"{_gb(free_vram)} free"
    if free_vram >= whole + headroom:
        return MemoryChoice("none", False, f"{size} + working memory fit {free}")
    if free_vram >= whole + headroom // 2:
        return MemoryChoice("tiling", False, f"{size} fits {free}; the VAE decodes in tiles")
    if free_vram >= biggest + headroom // 2:
        return MemoryChoice("offload", False, f"{size} exceeds {free}; its largest part fits")
    # A big transformer not quantized otherwise keeps its weights in fp8 while offloaded.
    fp8 = quantize == "none" and biggest >= BIG_COMPONENT
    if fp8 and free_vram >= biggest // 2 + headroom // 2:
        return MemoryChoice("offload", True, f"{size} exceeds {free}; its largest part fits in fp8")
    if free_vram >= GROUP_RESIDENT + headroom // 2:
        why = f"{size} exceeds {free}: one block group at a time, prefetched on a CUDA stream"
        return MemoryChoice("group", fp8, why)
    return MemoryChoice("sequential", fp8, f"{size} and only {free}: layer by layer")


# After running out of memory in a mode, the retry's mode (auto at load: straight to group).
_LIGHTER = {"auto": "group", "none": "tiling", "tiling": "offload", "offload": "group"}
_LIGHTER["group"] = "sequential"


def next_lighter_mode(mode: str) -> str | None:
    """The next lighter memory mode after ``mode`` (None after ``sequential``)."""
    return _LIGHTER.get(mode.split("+")[0])
