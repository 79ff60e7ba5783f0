"""Few-step (distilled) models: recognising them and running them the way they were trained.

SD-Turbo / SDXL-Turbo, LCM, SDXL-Lightning, Hyper-SD, DMD2 and FLUX.1 schnell are recognised from
the model's folder, file or repo name, its scheduler config (``LCMScheduler``), its
``model_index.json`` and its model card, or from a few-step LoRA in the request (LCM-LoRA,
Lightning, Hyper-SD, DMD2 by file name). Such a model runs with guidance off where it needs it,
with trailing timestep spacing (LCM and DMD2 with ``LCMScheduler``), and with at least
``min_steps`` denoising steps: at low strength the step count is raised (the user is told), so
that ``int(steps × strength)`` never leaves it with fewer — or none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.library.few_step_names import (
    FEW_STEP_KINDS,
    LABELS,
    FewStep,
    few_step_for_reference,
    few_step_from_loras,
    few_step_from_name,
)
from core.models.loaded import LoadedModel
from core.requests import PassRequest, effective_steps

__all__ = [
    "FEW_STEP_KINDS",
    "LABELS",
    "FewStep",
    "few_step_for",
    "few_step_for_reference",
    "few_step_scheduler",
    "fit_to_few_step",
    "raised_steps",
]

MAX_STEPS = 1000  # PassRequest's own limit
LCM_SCHEDULER_KINDS = ("lcm", "dmd2")


def few_step_for(model: LoadedModel, lora_names: Iterable[str] = ()) -> FewStep | None:
    """How the loaded ``model`` (with LoRAs named ``lora_names``) must be run, or None for an
    ordinary model."""
    if model.few_step is not None:
        return model.few_step
    own = few_step_for_reference(model.spec.reference) or few_step_from_name(model.name)
    if own is None and type(model.base_pipe.scheduler).__name__ == "LCMScheduler":
        own = FEW_STEP_KINDS["lcm"]
    return own or few_step_from_loras(lora_names)


def fit_to_few_step(
    request: PassRequest, few: FewStep | None, peak_strength: float
) -> tuple[PassRequest, str]:
    """``request`` as ``few`` must run it (more steps at low strength, its guidance) and a note
    for the user saying what changed ("" when nothing did). ``peak_strength``: the strength, or
    the strength map's highest value; 0 changes nothing (the pass has nothing to do)."""
    if few is None:
        return request, ""
    steps, cfg = request.steps, request.cfg
    changes: list[str] = []
    if peak_strength > 0 and effective_steps(steps, peak_strength) < few.min_steps:
        steps = raised_steps(steps, peak_strength, few.min_steps)
        ran = effective_steps(steps, peak_strength)
        changes.append(
            f"strength {peak_strength:.2f} × {request.steps} steps would run "
            f"{effective_steps(request.steps, peak_strength)}; {steps} steps run {ran}"
        )
    if cfg != few.cfg and cfg > 1.0:
        cfg = few.cfg
        changes.append(f"CFG {request.cfg:g} → {cfg:g} (guidance off)")
    record: dict[str, Any] = {
        "kind": few.kind,
        "min_steps": few.min_steps,
        "timestep_spacing": "trailing" if few.trailing else "model's own",
    }
    if few.kind in LCM_SCHEDULER_KINDS:
        record["scheduler"] = "LCMScheduler"
    if steps != request.steps:
        record["steps_asked"] = request.steps
    if cfg != request.cfg:
        record["cfg_asked"] = request.cfg
    note = f"{LABELS[few.kind]} model: " + "; ".join(changes) if changes else ""
    extra = {**request.extra, "few_step": record}
    if note:
        extra["note"] = note
    return request.replace(steps=steps, cfg=cfg, extra=extra), note


def raised_steps(steps: int, strength: float, min_steps: int) -> int:
    """The fewest steps (≥ ``steps``, at most MAX_STEPS) for which ``strength`` runs at least
    ``min_steps`` of them."""
    for total in range(steps, MAX_STEPS + 1):
        if effective_steps(total, strength) >= min_steps:
            return total
    return MAX_STEPS


def few_step_scheduler(scheduler: Any, few: FewStep | None) -> Any:
    """The scheduler ``few`` runs with: ``LCMScheduler`` for LCM and DMD2, else ``scheduler``
    with trailing timestep spacing where it has the setting."""
    if few is None:
        return scheduler
    config = dict(scheduler.config)
    if few.kind in LCM_SCHEDULER_KINDS:
        from diffusers import LCMScheduler

        return LCMScheduler.from_config(config)
    if few.trailing and "timestep_spacing" in config:
        return type(scheduler).from_config({**config, "timestep_spacing": "trailing"})
    return scheduler
