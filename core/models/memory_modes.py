"""Memory modes: how a loaded pipeline is placed on the device (offload, tiling, fp8 storage).

- ``none``: every component on the device (fastest).
- ``offload``: model CPU offload — one component (text encoder, UNet/transformer, VAE) on the
  accelerator at a time; needs a CUDA GPU.
- ``sequential``: sequential CPU offload — layer by layer; slowest, smallest; needs a CUDA GPU.
- ``tiling``: VAE tiling and slicing: decoding big pictures takes a fraction of the memory.

- ``group``: diffusers' group offloading — one block group on the accelerator at a time, the next
  prefetched on a CUDA stream; needs a CUDA GPU.

``auto`` (``core.models.memory_choice``) picks from the free VRAM (and RAM) and the model's
measured size; on a CPU it is always ``none``. When auto has to offload a big transformer (SD 3.5,
FLUX, Qwen) that is not quantized, its weights are also kept in fp8 between layers (diffusers'
layerwise casting); the mode in use then reads e.g. ``group+fp8``. SDXL's VAE never decodes in
fp16 (it overflows to black pictures): the fp16-fix VAE is swapped in when it is in the HF cache,
else the VAE is upcast to fp32 to decode.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from core.models.memory_choice import MemoryChoice, choose_memory_mode
from core.requests import MEMORY_MODES

__all__ = [
    "FP16_FIX_VAE",
    "MEMORY_MODES",
    "apply_memory_choice",
    "apply_memory_mode",
]

FP16_FIX_VAE = "madebyollin/sdxl-vae-fp16-fix"
OFFLOAD_MODES = {"offload", "group", "sequential"}


def apply_memory_mode(
    pipe: Any,
    requested: str,
    device: str,
    family: str = "",
    on_note: Callable[[str], None] | None = None,
    quantize: str = "none",
) -> str:
    """Apply ``requested`` (one of MEMORY_MODES) to ``pipe`` and return the mode in use (see
    :func:`apply_memory_choice`)."""
    return apply_memory_choice(pipe, requested, device, family, on_note, quantize).label


def apply_memory_choice(
    pipe: Any,
    requested: str,
    device: str,
    family: str = "",
    on_note: Callable[[str], None] | None = None,
    quantize: str = "none",
) -> MemoryChoice:
    """Apply ``requested`` (one of MEMORY_MODES) to ``pipe`` and return what is in use and why.

    The pipeline may come on the CPU: offload modes place it themselves, the others move it to
    ``device``. ``auto`` measures the pipeline (its parameters' bytes) and asks
    :func:`~core.models.memory_choice.choose_memory_mode`; ``on_note`` hears the choice and its
    reason in one line. Offload asked for on a CPU is not possible: ``on_note`` is told in one
    line and the mode in use is ``none``. ``family`` (a FAMILIES key) guides the SDXL VAE guard.
    """
    note = on_note or (lambda text: None)
    if requested not in MEMORY_MODES:
        raise ValueError(f"unknown memory mode {requested!r}")
    choice = MemoryChoice(requested, False, "")
    if requested == "auto":
        free_vram, free_ram = _free_memory(device)
        on_device = _pipe_bytes(pipe) if device == "cuda" and _pipe_device(pipe) == "cuda" else 0
        free_vram = None if free_vram is None else free_vram + on_device
        whole, biggest = _pipe_bytes(pipe), _biggest_bytes(pipe)
        choice = choose_memory_mode(
            free_vram, free_ram, whole, device, quantize, biggest, measured_quantized=True
        )
        note(f"memory auto: {choice.label} ({choice.reason})")
    mode = choice.mode
    if mode in OFFLOAD_MODES and device not in ("cuda", "xpu"):
        note(f"memory mode {mode} needs a CUDA GPU; the model stays on {device} as it is")
        return MemoryChoice("none", False, f"{mode} needs a CUDA GPU")
    if family == "sdxl":
        _keep_sdxl_vae_from_black(pipe, note)  # before offload: its hooks see the final VAE
    fp8 = choice.fp8_storage and _enable_fp8_storage(pipe)  # auto only: a chosen mode keeps
    if mode == "offload":  # full weights
        pipe.enable_model_cpu_offload(device=device)
    elif mode == "group":
        _enable_group_offload(pipe, device)
    elif mode == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        if mode == "tiling":
            _enable_vae_tiling(pipe)
        if _pipe_device(pipe) != device and hasattr(pipe, "to"):
            pipe.to(device)  # a loader may leave the pipeline on the CPU for this to place
    return MemoryChoice(mode, fp8, choice.reason)


def _enable_group_offload(pipe: Any, device: str) -> None:
    """diffusers' group offloading: one block of each component on the GPU at a time, the next
    prefetched on a CUDA stream (``use_stream``) while the current one computes."""
    import torch

    pipe.enable_group_offload(
        onload_device=torch.device(device),
        offload_device=torch.device("cpu"),
        offload_type="block_level",
        num_blocks_per_group=1,
        use_stream=True,
    )


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


def tensor_bytes(tensor: Any) -> int:
    """The bytes a tensor really stores: a quantized tensor (torchao) holds its int8/fp8 data
    and scales inside (``__tensor_flatten__``), not what its dtype says."""
    flatten = getattr(tensor, "__tensor_flatten__", None)
    if flatten is not None:
        names, _ = flatten()
        return sum(tensor_bytes(getattr(tensor, name)) for name in names)
    return int(tensor.numel() * tensor.element_size())


def module_bytes(module: Any) -> int:
    """The bytes of a module's parameters and buffers as stored (quantized ones included)."""
    return sum(tensor_bytes(t) for t in (*module.parameters(), *module.buffers()))


def _pipe_bytes(pipe: Any) -> int:
    return sum(module_bytes(m) for m in _modules(pipe))


def _biggest_bytes(pipe: Any) -> int:
    return max((module_bytes(m) for m in _modules(pipe)), default=0)


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
