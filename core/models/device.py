"""Device and precision: ``auto`` picks CUDA (fp16) > MPS > CPU (fp32)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import ModelError
from core.models.quantize import is_quantized

if TYPE_CHECKING:
    from core.models.families import Family


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


def dtype_for_family(info: Family, requested: str, dtype: Any) -> Any:
    """``dtype``, or bf16 where "auto" chose fp16 for a family that cannot run in fp16."""
    import torch

    if requested == "auto" and dtype == torch.float16 and info.no_fp16:
        return torch.bfloat16
    return dtype


# -- CPU: bf16 where the CPU runs it fast, threads that leave the GUI a core ------------------

FAST_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
SPLIT_MIN_PARAMS = 100_000_000  # below this a step is overhead-bound: bf16 gains nothing
_SPLIT_MARK = "_studio_cpu_bf16"


def fast_cpu_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bf16 in hardware (AMX or AVX-512-BF16: /proc/cpuinfo flags)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as file:
                cpuinfo = file.read()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
            break
    return any(flag in flags for flag in FAST_BF16_FLAGS)


def split_cpu_precision(pipe: Any, requested: str, device: str) -> bool:
    """``auto`` on a CPU with fast bf16: the UNet/transformer computes in bf16, the VAE and text
    encoders stay fp32 (latents stay fp32 between steps). Only for real-size denoisers
    (≥ 100 M parameters). Returns whether the pipeline now runs split; idempotent, and it
    re-casts a denoiser marked earlier (``from_pipe`` casts every shared module)."""
    import torch

    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    if denoiser is None:
        return False
    if is_quantized(denoiser):  # int8/GGUF weights compute in their own dtype already
        return False
    if not getattr(denoiser, _SPLIT_MARK, False):
        if requested != "auto" or device != "cpu" or not fast_cpu_bf16():
            return False
        if sum(p.numel() for p in denoiser.parameters()) < SPLIT_MIN_PARAMS:
            return False
        denoiser.register_forward_pre_hook(_inputs_to_denoiser_dtype, with_kwargs=True)
        setattr(denoiser, _SPLIT_MARK, True)
    denoiser.to(torch.bfloat16)
    return True


_CAST_KWARGS = ("sample", "hidden_states", "encoder_hidden_states", "pooled_projections")


def _inputs_to_denoiser_dtype(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Forward pre-hook: fp32 latents and embeddings in, the denoiser's dtype inside (timesteps
    and SDXL's size ids stay as they are: bf16 would round them)."""
    dtype = module.dtype
    args = tuple(_cast(a, dtype) if i == 0 else a for i, a in enumerate(args))
    kwargs = {k: _cast(v, dtype) if k in _CAST_KWARGS else v for k, v in kwargs.items()}
    added = kwargs.get("added_cond_kwargs")
    if isinstance(added, dict) and "text_embeds" in added:
        kwargs["added_cond_kwargs"] = {**added, "text_embeds": _cast(added["text_embeds"], dtype)}
    if len(args) > 2:  # UNet(sample, timestep, encoder_hidden_states, ...)
        args = (*args[:2], _cast(args[2], dtype), *args[3:])
    return args, kwargs


def _cast(value: Any, dtype: Any) -> Any:
    is_float = hasattr(value, "is_floating_point") and value.is_floating_point()
    return value.to(dtype) if is_float else value


def gui_cpu_threads(cores: int | None = None) -> int:
    """Torch's CPU threads while the window is open: one core is left to the GUI thread
    (2 cores → 1); ``IMG2IMG_STUDIO_THREADS`` overrides."""
    import os

    override = os.environ.get("IMG2IMG_STUDIO_THREADS", "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    cores = cores or os.cpu_count() or 1
    return max(1, cores - 1)


def apply_gui_cpu_threads() -> int:
    """Set torch's CPU threads to ``gui_cpu_threads()`` (the window's worker calls it once)."""
    import torch

    threads = gui_cpu_threads()
    torch.set_num_threads(threads)
    return threads


def tune_pipeline(pipe: Any, requested: str, device: str) -> list[str]:
    """The fast path for the device, applied once after loading; returns what was done.

    CPU: ``split_cpu_precision``. CUDA: channels_last for the UNet and VAE (convolutions run
    NHWC kernels; SDPA attention is torch 2's default already), and with
    ``IMG2IMG_STUDIO_COMPILE=1`` the denoiser is compiled in place (``reduce-overhead``: CUDA
    graphs for repeated same-size passes; the first pass of each size pays the compile).
    """
    import os

    import torch

    done = []
    if split_cpu_precision(pipe, requested, device):
        done.append("bf16 denoiser, fp32 VAE")
    if device != "cuda":
        return done
    for name in ("unet", "vae"):
        module = getattr(pipe, name, None)
        if module is None or hasattr(module, "_hf_hook"):  # offloaded: left as is
            continue
        if any(p.dim() == 5 for p in module.parameters()):  # Qwen-Image's video VAE: 3-D convs
            continue  # (channels_last is for 4-D tensors only: .to() would raise)
        module.to(memory_format=torch.channels_last)
        done.append(f"{name} channels_last")
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    if os.environ.get("IMG2IMG_STUDIO_COMPILE") == "1" and denoiser is not None:
        denoiser.compile(mode="reduce-overhead", fullgraph=False)
        done.append("torch.compile")
    return done
