"""The generation panel's state: plain Python, observable, no Qt."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from PIL import Image

from core.conditioning.regions import Region
from core.errors import InvalidRequest
from core.model_spec import ModelSpec
from core.observable import Observable
from core.requests import (
    DEFAULT_SCHEDULER,
    MAX_SEED,
    MEMORY_MODES,
    QUANTIZE_MODES,
    SCHEDULER_NAMES,
    SPEED_MODES,
    PassRequest,
    effective_steps,
)
from core.work_size import parse_work_size
from gui.params.conditioning_state import ConditioningState
from gui.params.sampling_defaults import SamplingDefaults, SamplingMemory

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")

# Fields that map straight onto PassRequest fields (besides the LoRAs, control layers and
# references of ``conditioning``, and colour match, whose "on" is the request's auto).
REQUEST_FIELDS = (
    "prompt",
    "negative_prompt",
    "strength",
    "steps",
    "cfg",
    "seed",
    "scheduler",
    "mask_blur",
    "inpaint_area",
    "padding",
    "soft_inpaint",
    "work_size",
)


def random_seed() -> int:
    return random.randint(0, MAX_SEED)


@dataclass(eq=False)
class GenerationParams(Observable):
    """Everything the generation panel edits; widgets bind to these fields."""

    prompt: str = ""
    negative_prompt: str = ""
    strength: float = 0.5
    steps: int = 30
    cfg: float = 7.0
    scheduler: str = DEFAULT_SCHEDULER
    seed: int = 0
    seed_locked: bool = False
    mask_blur: int = 4
    inpaint_area: str = "whole"
    padding: int = 32
    soft_inpaint: bool = False  # the blurred mask as per-pixel strength
    color_match: bool = True  # masked passes matched to the picture around them
    work_size: str = "auto"  # "auto", "input" or "WxH" (core.work_size)
    model: str = ""
    model_config: str = ""
    device: str = "auto"  # one of DEVICES
    dtype: str = "auto"  # one of PRECISIONS
    memory: str = "auto"  # one of core.models.memory_modes.MEMORY_MODES
    quantize: str = "none"  # one of core.models.quantize.QUANTIZE_MODES
    speed: str = "off"  # one of core.models.step_cache.SPEED_MODES
    oom_retry: bool = False  # out of GPU memory: run the pass once more in a lighter mode
    compile: bool = False  # regional compilation of the repeated blocks (CUDA only)
    fix_faces: bool = False  # Generate fixes the faces after each pass (not a PassRequest field)
    # The chosen model's family key ("" unknown), as the model picker finds it from the model
    # (gui.params.edit_models.model_family); derived, so restore() never sets it.
    model_family: str = ""
    # Why the CFG field does not apply to the chosen model ("" when it does): a distilled or
    # few-step model runs without CFG (gui.params.sampling_defaults); derived like model_family.
    cfg_unused: str = ""

    def __post_init__(self) -> None:
        # The Control panel's LoRAs, control layers and references (not a field: it holds
        # pictures, and saved sessions keep it apart from the JSON parameters).
        self.conditioning = ConditioningState()
        self.sampling_memory = SamplingMemory()  # steps and CFG last used with each kind of model

    def follow_model_defaults(self, defaults: SamplingDefaults | None) -> None:
        """The chosen model has ``defaults`` (None: unknown): when its kind differs from the last
        model's, the steps and CFG move to the values last used with that kind, else its
        defaults (gui.params.sampling_defaults.SamplingMemory)."""
        steps, cfg = self.sampling_memory.follow(defaults, self.steps, self.cfg)
        self.update(steps=steps, cfg=cfg, cfg_unused=defaults.cfg_unused if defaults else "")

    @property
    def effective_steps(self) -> int:
        return effective_steps(self.steps, self.strength)

    def model_spec(self) -> ModelSpec:
        """The model the next pass runs on: reference, config folder and how to run it."""
        return ModelSpec(
            self.model,
            config=self.model_config or None,
            device=self.device,
            dtype=self.dtype,
            memory=self.memory,
            quantize=self.quantize,
            speed=self.speed,
            oom_retry=self.oom_retry,
            compile=self.compile,
        )

    def pass_request(
        self,
        image: Image.Image,
        seed: int | None = None,
        mask: Image.Image | None = None,
        strength_map: Image.Image | None = None,
        regions: tuple[Region, ...] = (),
    ) -> PassRequest:
        """The next pass's request from these fields, the Control panel's LoRAs, control layers
        and references, and the given picture and layers (not validated yet). ``seed`` None
        takes ``seed_for_next_pass()``. Raises InvalidRequest for a reference without a
        picture (before any seed is drawn)."""
        conditioning = self.conditioning.request_fields()
        return PassRequest(
            image=image,
            mask=mask,
            strength_map=strength_map,
            regions=regions,
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            strength=self.strength,
            steps=self.steps,
            cfg=self.cfg,
            seed=self.seed_for_next_pass() if seed is None else seed,
            scheduler=self.scheduler,
            mask_blur=self.mask_blur,
            inpaint_area=self.inpaint_area,  # type: ignore[arg-type]  # restore() checks it
            padding=self.padding,
            soft_inpaint=self.soft_inpaint,
            work_size=self.work_size,
            color_match=self.request_color_match,
            loras=conditioning["loras"],
            controls=conditioning["controls"],
            references=conditioning["references"],
            edit_references=conditioning["edit_references"],
        )

    @property
    def request_color_match(self) -> bool | None:
        """On is the engine's "auto": masked passes are matched, whole-picture passes keep the
        model's colours (PassRequest.colour_matched)."""
        return None if self.color_match else False

    def saved_values(self) -> dict[str, Any]:
        """The fields kept in the settings between sessions, as plain values: the request's
        fields (no pictures, no LoRAs, control layers or references), colour match, how the
        model runs and the seed lock. The model reference and config are kept apart."""
        values: dict[str, Any] = {name: getattr(self, name) for name in REQUEST_FIELDS}
        spec = self.model_spec()
        values.update(
            device=spec.device,
            dtype=spec.dtype,
            memory=spec.memory,
            quantize=spec.quantize,
            speed=spec.speed,
            oom_retry=spec.oom_retry,
            compile=spec.compile,
            color_match=self.request_color_match,
            seed_locked=self.seed_locked,
        )
        return values

    def problem(self) -> str | None:
        """Why the next pass cannot start as set (a one-line reason), or None."""
        try:
            parse_work_size(self.work_size)
        except InvalidRequest as exc:
            return str(exc)
        return None

    def new_seed(self) -> int:
        """Draw a fresh random seed (bound widgets show it)."""
        self.seed = random_seed()
        return self.seed

    def seed_for_next_pass(self) -> int:
        """The seed to use: the current one when locked, else a fresh one."""
        return self.seed if self.seed_locked else self.new_seed()

    def restore(self, params: dict[str, Any]) -> None:
        """Set fields from a saved or parsed parameter dict, skipping unusable values; lists of
        ``loras``, ``controls`` or ``references`` (a pass record's) replace the Control panel's."""
        values = dict(params)
        self.conditioning.restore(values)
        if values.get("inpaint_area") is None:  # a whole-picture pass's "off" is no setting
            values.pop("color_match", None)
        if "sampler" in values and "scheduler" not in values:
            values["scheduler"] = values.pop("sampler")
        if "model_config" not in values and "config" in values:
            values["model_config"] = values["config"]
        casts = {  # the model first: the steps and CFG it brings give way to the saved ones
            "model": str,
            "model_config": str,
            "prompt": str,
            "negative_prompt": str,
            "strength": float,
            "steps": int,
            "cfg": float,
            "seed": int,
            "seed_locked": bool,
            "mask_blur": int,
            "padding": int,
            "soft_inpaint": bool,
            "color_match": bool,
            "scheduler": str,
            "inpaint_area": str,
            "work_size": str,
            "device": str,
            "dtype": str,
            "memory": str,
            "quantize": str,
            "speed": str,
            "oom_retry": bool,
            "compile": bool,
            "fix_faces": bool,
        }
        clean: dict[str, Any] = {}
        for name, cast in casts.items():
            if values.get(name) is None:
                continue
            try:
                clean[name] = cast(values[name])
            except (TypeError, ValueError):
                continue
        if clean.get("scheduler") not in SCHEDULER_NAMES:
            clean.pop("scheduler", None)
        if clean.get("inpaint_area") not in ("whole", "masked"):
            clean.pop("inpaint_area", None)
        if clean.get("device") not in DEVICES:
            clean.pop("device", None)
        if clean.get("dtype") not in PRECISIONS:
            clean.pop("dtype", None)
        if clean.get("memory") not in MEMORY_MODES:
            clean.pop("memory", None)
        if clean.get("quantize") not in QUANTIZE_MODES:
            clean.pop("quantize", None)
        if clean.get("speed") not in SPEED_MODES:
            clean.pop("speed", None)
        if "work_size" in clean:
            try:
                parse_work_size(clean["work_size"])
            except InvalidRequest:
                clean.pop("work_size")
        if "strength" in clean:
            clean["strength"] = min(1.0, max(0.0, round(clean["strength"], 2)))
        if "seed" in clean and not 0 <= clean["seed"] <= MAX_SEED:
            clean.pop("seed")
        self.update(**clean)
