"""One place where a pass's LoRAs, control layers and references meet the pipeline call.

``prepare_call(run, pipe, kwargs)`` returns the pipeline to call, the prompt to give it (with the
A1111 ``<lora:name:weight>`` tags taken out) and the extra keyword arguments; what was used is
added to ``run.record_extra`` (the pass record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.conditioning.control import control_call
from core.conditioning.ip_adapter import reference_kwargs
from core.conditioning.lora import apply_loras


@dataclass
class PreparedCall:
    pipe: Any
    prompt: str
    kwargs: dict[str, Any]


def prepare_call(run: Any, pipe: Any, kwargs: dict[str, Any]) -> PreparedCall:
    """The call for ``run`` (a PassRun) on ``pipe`` with the path's own ``kwargs``."""
    prompt = apply_loras(run, pipe)
    pipe, extra = control_call(run, pipe, kwargs)
    extra.update(reference_kwargs(run, pipe))
    return PreparedCall(pipe, prompt, {**kwargs, **extra})
