"""LoRAs: resolved from the request and the prompt's ``<lora:name:weight>`` tags, applied as
adapters on the loaded model's shared modules (no reload of the base model).

Each LoRA file is loaded once per loaded model (``pipe.load_lora_weights``, adapter per file) and
stays loaded; a pass activates its own with ``set_adapters`` and a pass without LoRAs (or with
every weight 0) disables them all, so it equals a pass on a model that never had any. Loading an
adapter activates it at weight 1, so a freshly loaded one counts as active until disabled. A
file changed on disk (size or modification time) is loaded again. The img2img and inpaint
pipelines share the UNet and text encoders (``from_pipe``), so adapters set through either
apply to both.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.conditioning.context import PassContext
from core.conditioning.lora_files import (
    LoraFile,
    check_lora_suits,
    requested_loras,
    resolve_lora,
    split_lora_tags,
)
from core.errors import ModelError
from core.hashing import cached_file_hash
from core.models.families import FAMILIES, family

LORA_HASH = 12  # hex digits of a LoRA's sha256, as A1111's "Lora hashes" writes them
_ADAPTER_SERIAL = itertools.count(1)


@dataclass
class _Adapters:
    """The LoRA adapters loaded on one model: file → (adapter name, file stamp)."""

    loaded: dict[Path, tuple[str, tuple[int, int]]] = field(default_factory=dict)
    active: bool = False  # whether any adapter may act (set by loading one, too)


_MODELS: dict[str, _Adapters] = {}  # loaded model identity → its adapters


def apply_loras(context: PassContext, pipe: Any) -> str:
    """Set the pass's LoRAs on ``pipe``; return the prompt without its LoRA tags.

    Raises ModelError (one line) before denoising for a missing, pickled or unsuitable LoRA.
    """
    request, model = context.request, context.model
    prompt, _ = split_lora_tags(str(request.prompt))
    loras = _merge([resolve_lora(spec) for spec in requested_loras(request.prompt, request.loras)])
    adapters = _adapters_for(model.identity)
    if not loras:
        _deactivate(pipe, adapters)
        return prompt
    check_lora_support(model.family, pipe)
    unet = getattr(pipe, "unet", None)
    cross_width = int(unet.config.cross_attention_dim) if unet is not None else None
    for lora in loras:
        check_lora_suits(lora, model.family, cross_width)
    names = [_load(pipe, adapters, lora) for lora in loras]
    active = [(name, lora.weight) for name, lora in zip(names, loras, strict=True) if lora.weight]
    if active:
        pipe.enable_lora()
        pipe.set_adapters([name for name, _ in active], [weight for _, weight in active])
        adapters.active = True
    else:  # every weight is 0: the same as no LoRA
        _deactivate(pipe, adapters)
    context.record_extra["loras"] = [lora_record(lora) for lora in loras]
    return prompt


def check_lora_support(family_key: str, pipe: Any) -> None:
    """Raise ModelError (one line, before any LoRA file loads) when the family, or the diffusers
    pipeline it runs, has no LoRA loader; the message names the families that have one."""
    info = family(family_key)
    if info.lora and callable(getattr(pipe, "load_lora_weights", None)):
        return
    having = ", ".join(dict.fromkeys(f.label for f in FAMILIES.values() if f.lora))
    reason = "" if not info.lora else f" (diffusers' {type(pipe).__name__} has no LoRA loader)"
    raise ModelError(f"{info.label} models cannot use LoRAs{reason}; LoRAs work on {having}")


def lora_record(lora: LoraFile) -> dict[str, Any]:
    """What the pass record keeps of one LoRA (``hash``: the first 12 hex of its sha256)."""
    return {
        "name": lora.name,
        "path": str(lora.path),
        "weight": lora.weight,
        "hash": cached_file_hash(lora.path)[:LORA_HASH],
    }


def _merge(loras: list[LoraFile]) -> list[LoraFile]:
    """One entry per file; a file named twice (request and tag) gets the weights' sum."""
    merged: dict[Path, LoraFile] = {}
    for lora in loras:
        known = merged.get(lora.path)
        merged[lora.path] = (
            lora if known is None else LoraFile(known.name, known.path, known.weight + lora.weight)
        )
    return list(merged.values())


def _adapters_for(identity: str) -> _Adapters:
    """The adapter state of the loaded model (a newly loaded model starts with none)."""
    return _MODELS.setdefault(identity, _Adapters())


def _deactivate(pipe: Any, adapters: _Adapters) -> None:
    if adapters.loaded and adapters.active:
        pipe.disable_lora()
        adapters.active = False


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _load(pipe: Any, adapters: _Adapters, lora: LoraFile) -> str:
    """The adapter name of ``lora`` on the model, loading it first if needed."""
    stamp = _stamp(lora.path)
    known = adapters.loaded.get(lora.path)
    if known is not None and known[1] == stamp:
        return known[0]
    if known is not None:  # the file changed since it was loaded
        with _quiet_loading():
            pipe.delete_adapters([known[0]])
        del adapters.loaded[lora.path]
    name = f"lora_{next(_ADAPTER_SERIAL)}"
    try:
        with _quiet_loading():
            pipe.load_lora_weights(str(lora.path), adapter_name=name)
    except (RuntimeError, ValueError, KeyError, OSError) as exc:
        _forget(pipe, name)
        raise _loading_error(lora, exc) from None
    if not any(name in names for names in pipe.get_list_adapters().values()):
        raise ModelError(f"{lora.path.name} has no layers this model has: it is not a LoRA for it")
    adapters.loaded[lora.path] = (name, stamp)
    adapters.active = True  # diffusers activates (at weight 1) the adapter it has just loaded
    return name


def _forget(pipe: Any, name: str) -> None:
    """Remove what a failed load left behind (diffusers removes most of it itself)."""
    with contextlib.suppress(Exception):
        if any(name in names for names in pipe.get_list_adapters().values()):
            pipe.delete_adapters([name])


def _loading_error(lora: LoraFile, exc: Exception) -> ModelError:
    text = str(exc)
    if "size mismatch" in text or "shape" in text:
        return ModelError(f"{lora.path.name} does not fit this model's layers (another family?)")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return ModelError(f"cannot load LoRA {lora.path.name}: {first}")


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide the warnings loading an adapter prints: transformers' load report (it lists the
    adapter's own keys as missing although they load) and peft's "multiple adapters" notice."""
    loggers = [logging.getLogger(n) for n in ("transformers.integrations.peft", "diffusers")]
    levels = [log.level for log in loggers]
    try:
        for log in loggers:
            log.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)
