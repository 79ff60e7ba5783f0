"""Samplers under the names A1111 users know, mapped to diffusers schedulers.

The names apply to the SD 1.x/2.x/XL families (noise-prediction UNets). Flow-matching models
(SD 3.5, FLUX.1) always run their own scheduler, built from their config whatever name is asked
(dynamic shifting and its ``mu`` are the pipeline's business); :func:`ran_label` names what ran.
Every scheduler built here keeps the model's ``prediction_type`` (v-prediction SD 2.x and SDXL),
``timestep_spacing`` and ``rescale_betas_zero_snr``: ``from_config`` carries them over.
"""

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


FLOW_MATCHING_LABEL = "Euler (flow matching)"


def is_flow_matching(base_config: dict) -> bool:
    """Whether a scheduler config is a flow-matching one (SD 3.5, FLUX.1)."""
    return str(base_config.get("_class_name", "")).startswith("FlowMatch")


def make_scheduler(name: str, base_config: dict) -> Any:
    """Build the named scheduler from a pipeline's scheduler config (flow-matching configs:
    the model's own scheduler class, whatever ``name`` is)."""
    import diffusers

    if is_flow_matching(base_config):
        cls = getattr(diffusers, str(base_config["_class_name"]))
        return cls.from_config(base_config)
    class_name, extra = SCHEDULERS[name]
    cls = getattr(diffusers, class_name)
    return cls.from_config(base_config, **extra)


def ran_label(name: str, scheduler: Any) -> str:
    """What actually ran when ``name`` was asked: ``name`` itself, or the flow-matching label."""
    if is_flow_matching(dict(scheduler.config)):
        heun = "Heun" in type(scheduler).__name__
        return "Heun (flow matching)" if heun else FLOW_MATCHING_LABEL
    return name


def scheduler_note(name: str, scheduler: Any) -> dict[str, str]:
    """For the pass record: what ran, when it is not the sampler ``name`` that was asked."""
    ran = ran_label(name, scheduler)
    if ran == name:
        return {}
    return {
        "scheduler_ran": ran,
        "scheduler_note": f"flow-matching models run their own scheduler ({ran}); "
        f"'{name}' does not apply",
    }
