"""Few-step (distilled) models told from their names and files, without loading them.

SD-Turbo / SDXL-Turbo, LCM, SDXL-Lightning, Hyper-SD, DMD2 and FLUX.1 schnell are recognised from
the model's folder, file or repo name, its scheduler config (``LCMScheduler``), its
``model_index.json`` and its model card, or from a few-step LoRA's file name. No torch: the
engine (``core.models.few_step``, which also knows a loaded model) and the window (its steps and
CFG follow the chosen model) share this one rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FewStep:
    """A few-step (distilled) model: how it must be run.

    ``min_steps``: at least this many denoising steps must actually run (the step count is raised
    at low strength, and the user is told); ``cfg`` the guidance it needs (0 or 1: off);
    ``trailing``: trailing timestep spacing.
    """

    kind: str  # "turbo", "lcm", "lightning", "hyper", "dmd2", "schnell"
    min_steps: int
    max_steps: int
    cfg: float
    trailing: bool = True


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


def few_step_for_reference(reference: str, lora_names: Iterable[str] = ()) -> FewStep | None:
    """How the model ``reference`` (with LoRAs named ``lora_names``) must be run, told before
    loading: from the reference's name and, for a folder, its scheduler config,
    ``model_index.json`` and model card; None for an ordinary model."""
    name = _reference_name(reference)
    own = few_step_from_name(name)
    folder = Path(reference).expanduser()
    if own is None and folder.is_dir():
        own = _from_folder(folder)
    return own or few_step_from_loras(lora_names)


def few_step_from_name(name: str) -> FewStep | None:
    """The few-step kind a model's name says ("sdxl_lightning_4step" → Lightning), or None."""
    text = name.lower()
    for kind, pattern in NAME_PATTERNS:
        if pattern.search(text):
            return _with_nominal_steps(FEW_STEP_KINDS[kind], text)
    return None


def _reference_name(reference: str) -> str:
    """The name that says what a model is: the file or folder name, the repo name of a hub id,
    or of a hub-cache snapshot (``models--org--name/snapshots/<rev>``)."""
    parts = Path(reference.strip()).parts
    for part in parts:
        if part.startswith("models--"):
            return part
    return parts[-1] if parts else ""


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


def few_step_from_loras(names: Iterable[str]) -> FewStep | None:
    """The few-step kind a LoRA file name says (LCM-LoRA, Lightning, Hyper-SD, DMD2), or None."""
    for name in names:
        found = few_step_from_name(Path(name).name)
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
