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

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.models.families import FewStep
from core.models.loaded import LoadedModel
from core.requests import PassRequest, effective_steps

MAX_STEPS = 1000  # PassRequest's own limit
LCM_SCHEDULER_KINDS = ("lcm", "dmd2")
FEW_STEP_KINDS: dict[str, FewStep] = {
    few.kind: few
    for few in (
        FewStep("turbo", min_steps=1, max_steps=4, cfg=0.0),
        FewStep("lcm", min_steps=2, max_steps=8, cfg=1.0, trailing=False),
        FewStep("lightning", min_steps=2, max_steps=8, cfg=0.0),
        FewStep("hyper", min_steps=2, max_steps=8, cfg=0.0),
        FewStep("dmd2", min_steps=2, max_steps=4, cfg=0.0, trailing=False),
        FewStep("schnell", min_steps=1, max_steps=4, cfg=0.0, trailing=False),
    )
}
LABELS = {
    "turbo": "Turbo",
    "lcm": "LCM",
    "lightning": "Lightning",
    "hyper": "Hyper-SD",
    "dmd2": "DMD2",
    "schnell": "FLUX.1 schnell",
}
# Names as model sites and the hub spell them: "sdxl-turbo", "lcm-lora-sdv1-5",
# "sdxl_lightning_4step_lora", "Hyper-SDXL-8steps-lora", "dmd2_sdxl_4step_unet", "FLUX.1-schnell".
NAME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("schnell", re.compile(r"schnell")),
    ("turbo", re.compile(r"turbo")),
    ("lcm", re.compile(r"(?<![a-z])lcm(?![a-z])")),
    ("lightning", re.compile(r"lightning")),
    ("hyper", re.compile(r"hyper[-_ ]?sd")),
    ("dmd2", re.compile(r"(?<![a-z])dmd2?(?![a-z])")),
)
# What a model card (README.md) says about the model, when its name does not.
CARD_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("schnell", re.compile(r"flux\.1[ -]?\[?schnell")),
    ("turbo", re.compile(r"sdxl-turbo|sd-turbo|z-image-turbo|adversarial diffusion distillation")),
    ("lcm", re.compile(r"latent consistency model")),
    ("lightning", re.compile(r"sdxl-lightning")),
    ("hyper", re.compile(r"hyper-sd")),
    ("dmd2", re.compile(r"distribution matching distillation|dmd2")),
)
NOMINAL_STEPS = re.compile(r"(\d+)[-_ ]?steps?")
MAX_CARD_BYTES = 65536


def few_step_for(model: LoadedModel, lora_names: Iterable[str] = ()) -> FewStep | None:
    """How the loaded ``model`` (with LoRAs named ``lora_names``) must be run, or None for an
    ordinary model."""
    if model.few_step is not None:
        return model.few_step
    own = few_step_for_reference(model.spec.reference) or _from_name(model.name)
    if own is None and type(model.base_pipe.scheduler).__name__ == "LCMScheduler":
        own = FEW_STEP_KINDS["lcm"]
    return own or _from_loras(lora_names)


def few_step_for_reference(reference: str, lora_names: Iterable[str] = ()) -> FewStep | None:
    """The same, before loading: from the reference's name and, for a folder, its scheduler
    config, ``model_index.json`` and model card."""
    name = _reference_name(reference)
    own = _from_name(name)
    folder = Path(reference).expanduser()
    if own is None and folder.is_dir():
        own = _from_folder(folder)
    return own or _from_loras(lora_names)


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


def _reference_name(reference: str) -> str:
    """The name that says what a model is: the file or folder name, the repo name of a hub id,
    or of a hub-cache snapshot (``models--org--name/snapshots/<rev>``)."""
    parts = Path(reference.strip()).parts
    for part in parts:
        if part.startswith("models--"):
            return part
    return parts[-1] if parts else ""


def _from_name(name: str) -> FewStep | None:
    text = name.lower()
    for kind, pattern in NAME_PATTERNS:
        if pattern.search(text):
            return _with_nominal_steps(FEW_STEP_KINDS[kind], text)
    return None


def _with_nominal_steps(few: FewStep, name: str) -> FewStep:
    """A "1step" / "2steps" variant in the name lowers the minimum to that many steps."""
    match = NOMINAL_STEPS.search(name)
    if match is None or not 0 < int(match.group(1)) < few.min_steps:
        return few
    nominal = int(match.group(1))
    return FewStep(few.kind, nominal, few.max_steps, few.cfg, few.trailing)


def _from_folder(folder: Path) -> FewStep | None:
    scheduler = _read_json(folder / "scheduler" / "scheduler_config.json")
    index = _read_json(folder / "model_index.json")
    if scheduler.get("_class_name") == "LCMScheduler" or "LatentConsistency" in str(
        index.get("_class_name", "")
    ):
        return FEW_STEP_KINDS["lcm"]
    card = _read_card(folder / "README.md")
    for kind, pattern in CARD_PATTERNS:
        if pattern.search(card):
            return FEW_STEP_KINDS[kind]
    return None


def _from_loras(names: Iterable[str]) -> FewStep | None:
    for name in names:
        found = _from_name(Path(name).name)
        if found is not None and found.kind != "schnell":
            return found
    return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_card(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(MAX_CARD_BYTES).lower()
    except OSError:
        return ""
