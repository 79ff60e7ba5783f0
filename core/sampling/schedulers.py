"""Samplers under the names A1111 users know, mapped to diffusers schedulers."""

from __future__ import annotations

from typing import Any

from core.requests import SCHEDULER_NAMES

# name → (diffusers class name, extra config)
SCHEDULERS: dict[str, tuple[str, dict]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "DPM++ 2M SDE Karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
    ),
    "DDIM": ("DDIMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
}
assert tuple(SCHEDULERS) == SCHEDULER_NAMES, "every sampler a request may name has a mapping"


def make_scheduler(name: str, base_config: dict) -> Any:
    """Build the named scheduler from a pipeline's scheduler config."""
    import diffusers

    class_name, extra = SCHEDULERS[name]
    cls = getattr(diffusers, class_name)
    return cls.from_config(base_config, **extra)
