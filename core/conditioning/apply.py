"""One place where a pass's LoRAs, control layers and references meet the pipeline call.

``prepare_call(context, pipe, kwargs)`` returns the pipeline to call, the prompt to give it (with
the A1111 ``<lora:name:weight>`` tags taken out) and the extra keyword arguments; what was used
goes into the :class:`~core.conditioning.context.PassContext`: ``record_extra`` (the pass
record) and ``control_images``. ``started_at_strength`` says the pipeline is a ControlNet one
without a strength (Qwen-Image's, Z-Image's, SD 3.5's) that the engine starts where the img2img
pass would (``core.engine.strength_start``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.conditioning.context import PassContext
from core.conditioning.control import control_call, starts_at_strength
from core.conditioning.ip_adapter import reference_kwargs
from core.conditioning.lora import apply_loras


@dataclass
class PreparedCall:
    pipe: Any
    prompt: str
    kwargs: dict[str, Any]
    started_at_strength: bool = False


def prepare_call(context: PassContext, pipe: Any, kwargs: dict[str, Any]) -> PreparedCall:
    """The call for the pass ``context`` on ``pipe`` with the path's own ``kwargs``."""
    prompt = apply_loras(context, pipe)
    pipe, extra = control_call(context, pipe, kwargs)
    extra.update(reference_kwargs(context, pipe))
    return PreparedCall(pipe, prompt, {**kwargs, **extra}, starts_at_strength(pipe))
