"""The parameters of one generation pass, validated before any model loads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image

from core.conditioning.regions import Region, validate_regions
from core.conditioning.specs import ControlLayer, LoraSpec, Reference, validate_conditioning
from core.errors import InvalidRequest
from core.work_size import parse_work_size

# The samplers a request may name (A1111's names); core.sampling.schedulers maps each to diffusers.
SCHEDULER_NAMES: tuple[str, ...] = (
    "Euler",
    "Euler a",
    "DPM++ 2M",
    "DPM++ 2M Karras",
    "DPM++ 2M SDE",
    "DPM++ 2M SDE Karras",
    "DDIM",
    "UniPC",
)
DEFAULT_SCHEDULER = "DPM++ 2M"

# How a model is placed in memory (core.models.memory_modes applies them; auto chooses).
MEMORY_MODES: tuple[str, ...] = ("auto", "none", "offload", "group", "sequential", "tiling")
# Quantized weights (core.models.quantize) and step caching (core.models.step_cache).
QUANTIZE_MODES: tuple[str, ...] = ("none", "int8", "fp8", "nf4")
SPEED_MODES: tuple[str, ...] = ("off", "fast", "fastest")

InpaintArea = Literal["whole", "masked"]
MAX_SEED = 2**32 - 1
MAX_EDIT_REFERENCES = 4  # any family's; each edit family takes up to its own max_references


def effective_steps(steps: int, strength: float) -> int:
    """The denoising steps an img2img pass really runs: ``min(int(steps × strength), steps)``."""
    return min(int(steps * strength), steps)


@dataclass(frozen=True)
class PassRequest:
    """Everything one img2img / inpaint pass needs besides the model.

    ``mask``: white = change (any mode/size; normalised by the engine). ``strength_map``: per-pixel
    strength, 255 = 1.0 (differential diffusion). ``seed`` None means "pick one and record it".
    """

    image: Image.Image
    prompt: str = ""
    negative_prompt: str = ""
    strength: float = 0.5
    steps: int = 30
    cfg: float = 7.0
    seed: int | None = None
    scheduler: str = DEFAULT_SCHEDULER
    width: int | None = None
    height: int | None = None
    mask: Image.Image | None = None
    mask_blur: int = 4
    inpaint_area: InpaintArea = "whole"
    padding: int = 32
    strength_map: Image.Image | None = None
    color_match: bool | None = None  # None = auto: on for passes with a mask (see colour_matched)
    soft_inpaint: bool = False  # the blurred mask × strength as a per-pixel map (soft edges)
    work_size: str = "auto"  # "auto" | "input" | "WxH": the size the model works at (work_size.py)
    regions: tuple[Region, ...] = ()  # regional prompts (core.conditioning), at most 8
    loras: tuple[LoraSpec, ...] = ()  # besides the <lora:name:weight> tags in the prompt
    controls: tuple[ControlLayer, ...] = ()  # ControlNet control layers
    references: tuple[Reference, ...] = ()  # IP-Adapter reference pictures
    edit_references: tuple[Image.Image, ...] = ()  # edit models: extra pictures (Edit-Plus)
    extra: dict = field(default_factory=dict)

    @property
    def effective_steps(self) -> int:
        return effective_steps(self.steps, self.strength)

    @property
    def is_inpaint(self) -> bool:
        return self.mask is not None

    @property
    def colour_matched(self) -> bool:
        """Whether the pass matches colours: ``color_match`` when set; when None ("auto"), on
        for a pass with a mask (the repainted area matched to the picture around it) and off for
        a whole-picture pass (which keeps the model's colours: a change of light or season is
        often the point; multi-pass refinement has its own guard)."""
        return self.mask is not None if self.color_match is None else self.color_match

    def output_size(self) -> tuple[int, int]:
        """(width, height) of the result: ``width``/``height`` when given, else the input's size.

        The model works at ``work_size`` (a multiple of 8 chosen for it); the result comes back at
        this size, so unmasked pixels can stay byte-identical to the input.
        """
        return (self.width or self.image.width, self.height or self.image.height)

    def replace(self, **changes: Any) -> PassRequest:
        return dataclasses.replace(self, **changes)

    def validate(self) -> PassRequest:
        """Raise :class:`InvalidRequest` with a one-line reason if a value is out of range."""
        if not 0.0 <= self.strength <= 1.0:
            raise InvalidRequest(f"strength must be between 0 and 1, got {self.strength}")
        if self.steps < 1:
            raise InvalidRequest(f"steps must be at least 1, got {self.steps}")
        if self.steps > 1000:
            raise InvalidRequest(f"steps must be at most 1000, got {self.steps}")
        if not 0.0 <= self.cfg <= 50.0:
            raise InvalidRequest(f"CFG scale must be between 0 and 50, got {self.cfg}")
        if self.scheduler not in SCHEDULER_NAMES:
            names = ", ".join(SCHEDULER_NAMES)
            raise InvalidRequest(f"unknown scheduler '{self.scheduler}' (choose one of: {names})")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise InvalidRequest(f"seed must be between 0 and {MAX_SEED}, got {self.seed}")
        for name, value in (("width", self.width), ("height", self.height)):
            if value is not None and not 64 <= value <= 8192:
                raise InvalidRequest(f"{name} must be between 64 and 8192 pixels, got {value}")
        if self.color_match is not None and not isinstance(self.color_match, bool):
            raise InvalidRequest(f"color match must be true, false or auto, got {self.color_match}")
        if self.mask_blur < 0 or self.mask_blur > 256:
            raise InvalidRequest(f"mask blur must be between 0 and 256 px, got {self.mask_blur}")
        if self.padding < 0:
            raise InvalidRequest(f"padding must be 0 or more px, got {self.padding}")
        parse_work_size(self.work_size)
        validate_regions(self.regions)
        validate_conditioning(self.loras, self.controls, self.references)
        if len(self.edit_references) > MAX_EDIT_REFERENCES:
            raise InvalidRequest(
                f"at most {MAX_EDIT_REFERENCES} edit references, got {len(self.edit_references)}"
            )
        if not all(isinstance(ref, Image.Image) for ref in self.edit_references):
            raise InvalidRequest("an edit reference is not a picture")
        if self.inpaint_area not in ("whole", "masked"):
            raise InvalidRequest(
                f"inpaint area must be 'whole' or 'masked', got {self.inpaint_area}"
            )
        return self
