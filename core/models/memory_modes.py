"""Memory modes: how a loaded pipeline is placed on the device (offload, tiling, fp8 storage).

- ``none``: every component on the device (fastest).
- ``offload``: model CPU offload — one component (text encoder, UNet/transformer, VAE) on the
  accelerator at a time; needs a CUDA GPU.
- ``sequential``: sequential CPU offload — layer by layer; slowest, smallest; needs a CUDA GPU.
- ``tiling``: VAE tiling and slicing: decoding big pictures takes a fraction of the memory.

``auto`` (:func:`choose_memory_mode`) picks from the free VRAM (and RAM) and the model's size; on
a CPU it is always ``none``. When auto has to offload a big transformer (SD 3.5, FLUX) on CUDA, its
weights are also kept in fp8 between layers (diffusers' layerwise casting); the mode in use then
reads e.g. ``offload+fp8``. SDXL's VAE never decodes in fp16 (it overflows to black pictures): the
fp16-fix VAE is swapped in when it is in the HF cache, else the VAE is upcast to fp32 to decode.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from core.requests import MEMORY_MODES

__all__ = [
    "FP16_FIX_VAE",
    "MEMORY_MODES",
    "apply_memory_mode",
    "choose_memory_mode",
    "wants_fp8_storage",
]

GB = 1_000_000_000
FP16_FIX_VAE = "madebyollin/sdxl-vae-fp16-fix"
# Half-precision weights of a whole pipeline, and of its biggest component (what model offload
# keeps on the device), in bytes; the working headroom a pass needs on top (activations, VAE).
FAMILY_WEIGHTS: dict[str, tuple[int, int, int]] = {
    "sd1": (2 * GB, int(1.7 * GB), int(1.5 * GB)),
    "sd2": (int(2.6 * GB), int(1.7 * GB), 2 * GB),
    "sdxl": (7 * GB, int(5.2 * GB), 3 * GB),
    "sd3": (16 * GB, 5 * GB, 4 * GB),
    "flux": (34 * GB, 24 * GB, 5 * GB),
    "flux-fill": (34 * GB, 24 * GB, 5 * GB),
    "flux-kontext": (34 * GB, 24 * GB, 5 * GB),
    "zimage": (int(20.5 * GB), int(12.3 * GB), 4 * GB),
    "chroma": (int(27.5 * GB), int(17.8 * GB), 5 * GB),
    "qwen-image": (int(57.7 * GB), int(40.9 * GB), 6 * GB),
    "qwen-image-edit": (int(57.7 * GB), int(40.9 * GB), 6 * GB),
    "qwen-image-edit-plus": (int(57.7 * GB), int(40.9 * GB), 6 * GB),
    "flux2-klein": (int(16 * GB), int(8 * GB), 4 * GB),  # 4B transformer + Qwen3-4B, bf16
}
BIG_TRANSFORMERS = {"sd3", "flux", "flux-fill", "flux-kontext"}
OFFLOAD_MODES = {"offload", "sequential"}


def _sizes(family: str, weights_bytes: int | None) -> tuple[int, int, int]:
    whole, biggest, headroom = FAMILY_WEIGHTS.get(family, FAMILY_WEIGHTS["sdxl"])
    if weights_bytes:  # the loaded pipeline's real size; the biggest part keeps its share
        biggest = int(weights_bytes * biggest / whole)
        whole = weights_bytes
    return whole, biggest, headroom


def choose_memory_mode(
    device: str,
    family: str,
    free_vram: int | None,
    free_ram: int | None,
    weights_bytes: int | None = None,
) -> str:
    """What ``auto`` picks: ``none`` when the model and a pass's headroom fit the free VRAM,
    ``tiling`` when the weights fit with half the headroom, ``offload`` when the biggest
    component fits with half the headroom, else ``sequential``. CPU: always ``none``; MPS
    (unified memory): ``tiling`` when RAM is short. Unknown free memory (None): ``none``.
    ``weights_bytes`` overrides the family's typical size with the loaded pipeline's."""
    whole, biggest, headroom = _sizes(family, weights_bytes)
    if device == "cpu":
        return "none"
    if device == "mps":
        return "tiling" if free_ram is not None and free_ram < whole + headroom else "none"
    if free_vram is None:
        return "none"
    if free_vram >= whole + headroom:
        return "none"
    if free_vram >= whole + headroom // 2:
        return "tiling"
    if free_vram >= biggest + headroom // 2:
        return "offload"
    return "sequential"


def wants_fp8_storage(device: str, family: str, mode: str) -> bool:
    """Keep a big transformer's weights in fp8 (layerwise casting) when VRAM is short on CUDA."""
    return device == "cuda" and family in BIG_TRANSFORMERS and mode in OFFLOAD_MODES


def apply_memory_mode(
    pipe: Any,
    requested: str,
    device: str,
    family: str = "",
    on_note: Callable[[str], None] | None = None,
) -> str:
    """Apply ``requested`` (one of MEMORY_MODES) to ``pipe`` and return the mode in use.

    The pipeline may come on the CPU: offload modes place it themselves, the others move it to
    ``device``. Offload asked for on a CPU is not possible: ``on_note`` is told in one line and
    the mode in use is ``none``. ``family`` (a FAMILIES key) guides ``auto`` and the SDXL VAE guard.
    """
    note = on_note or (lambda text: None)
    if requested not in MEMORY_MODES:
        raise ValueError(f"unknown memory mode {requested!r}")
    mode = requested
    if requested == "auto":
        free_vram, free_ram = _free_memory(device)
        on_device = _pipe_bytes(pipe) if device == "cuda" and _pipe_device(pipe) == "cuda" else 0
        free_vram = None if free_vram is None else free_vram + on_device
        mode = choose_memory_mode(device, family, free_vram, free_ram, _pipe_bytes(pipe) or None)
    if mode in OFFLOAD_MODES and device not in ("cuda", "xpu"):
        note(f"memory mode {mode} needs a CUDA GPU; the model stays on {device} as it is")
        mode = "none"
    if family == "sdxl":
        _keep_sdxl_vae_from_black(pipe, note)  # before offload: its hooks see the final VAE
    fp8 = requested == "auto" and wants_fp8_storage(device, family, mode)
    fp8 = fp8 and _enable_fp8_storage(pipe)  # auto only: a chosen mode keeps full weights
    if mode == "offload":
        pipe.enable_model_cpu_offload(device=device)
    elif mode == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        if mode == "tiling":
            _enable_vae_tiling(pipe)
        if _pipe_device(pipe) != device and hasattr(pipe, "to"):
            pipe.to(device)  # a loader may leave the pipeline on the CPU for this to place
    return f"{mode}+fp8" if fp8 else mode


def _free_memory(device: str) -> tuple[int | None, int | None]:
    """(free VRAM, free RAM) in bytes; None where unknown."""
    free_ram = _free_ram()
    if device != "cuda":
        return None, free_ram
    import torch

    try:
        free, _total = torch.cuda.mem_get_info()
    except RuntimeError:
        return None, free_ram
    return int(free), free_ram


def _free_ram() -> int | None:
    try:
        import psutil  # optional: present with accelerate on most installs

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _modules(pipe: Any) -> list[Any]:
    import torch

    parts = pipe.components.values() if hasattr(pipe, "components") else []
    return [m for m in parts if isinstance(m, torch.nn.Module)]


def _pipe_bytes(pipe: Any) -> int:
    return sum(p.numel() * p.element_size() for m in _modules(pipe) for p in m.parameters())


def _pipe_device(pipe: Any) -> str:
    for module in _modules(pipe):
        for param in module.parameters():
            return str(param.device.type)
    return "cpu"


def _enable_vae_tiling(pipe: Any) -> None:
    vae = getattr(pipe, "vae", None)
    if vae is None:
        return
    if hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if hasattr(vae, "enable_slicing"):
        vae.enable_slicing()


def _enable_fp8_storage(pipe: Any) -> bool:
    """Layerwise fp8 storage on the pipeline's transformer; False where it cannot be done."""
    import torch

    transformer = getattr(pipe, "transformer", None)
    if transformer is None or not hasattr(transformer, "enable_layerwise_casting"):
        return False
    try:  # computed in the dtype it was loaded in: the rest of the pipeline feeds it that
        transformer.enable_layerwise_casting(
            storage_dtype=torch.float8_e4m3fn, compute_dtype=transformer.dtype
        )
    except (RuntimeError, ValueError, TypeError):
        return False
    return True


def _keep_sdxl_vae_from_black(pipe: Any, note: Callable[[str], None]) -> None:
    """An SDXL VAE in fp16 overflows (black pictures): swap in the fp16-fix VAE when it is in
    the HF cache, else make sure the pipeline upcasts the VAE to fp32 to decode."""
    import torch

    vae = getattr(pipe, "vae", None)
    if vae is None or vae.dtype != torch.float16:
        return
    from core.library.catalog import cached_path

    fixed = cached_path(FP16_FIX_VAE)
    if fixed is not None:
        from diffusers import AutoencoderKL

        try:
            fix = AutoencoderKL.from_pretrained(
                fixed, dtype=torch.float16, local_files_only=True, use_safetensors=True
            )
        except (OSError, ValueError, RuntimeError):
            fix = None
        if fix is not None:
            fix.register_to_config(force_upcast=False)
            pipe.vae = fix.to(vae.device)
            note("SDXL: using the fp16-fix VAE from the HF cache")
            return
    vae.register_to_config(force_upcast=True)
