"""The request bodies of AUTOMATIC1111's web API, as pydantic models (A1111 builds its own from
the same fields: ``modules/api/models.py``), and its error shapes.

Fields keep A1111's names and defaults; fields this worker does not use are accepted and echoed
back in ``parameters`` (the handlers add a note where one changes nothing). A body that does not
fit is :class:`A1111Invalid`, answered 422 with FastAPI's ``detail`` list.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_PICTURES = 8  # batch_size × n_iter per request
ModelT = TypeVar("ModelT", bound=BaseModel)


class A1111Invalid(Exception):
    """A request A1111 would answer 422: ``detail`` is FastAPI's list of ``{loc, msg, type}``."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__(detail[0]["msg"] if detail else "invalid request")
        self.detail = detail


def invalid(msg: str, *loc: str | int, kind: str = "value_error") -> A1111Invalid:
    """One FastAPI-style validation error at ``body.<loc…>``."""
    return A1111Invalid([{"loc": ["body", *loc], "msg": msg, "type": kind}])


class _Generation(BaseModel):
    """The fields txt2img and img2img share (A1111's StableDiffusionProcessing)."""

    model_config = ConfigDict(extra="allow")

    prompt: str = ""
    negative_prompt: str = ""
    styles: list[str] | None = None
    seed: int = -1
    subseed: int = -1
    subseed_strength: float = 0.0
    seed_resize_from_h: int = -1
    seed_resize_from_w: int = -1
    sampler_name: str | None = None
    sampler_index: str | None = None  # A1111's older name for sampler_name
    scheduler: str | None = None
    batch_size: int = Field(1, ge=1, le=MAX_PICTURES)
    n_iter: int = Field(1, ge=1, le=MAX_PICTURES)
    steps: int = 50
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512
    restore_faces: bool | None = None
    tiling: bool | None = None
    denoising_strength: float | None = None
    override_settings: dict[str, Any] | None = None
    override_settings_restore_afterwards: bool = True
    script_name: str | None = None
    script_args: list[Any] = Field(default_factory=list)
    send_images: bool = True
    save_images: bool = False
    alwayson_scripts: dict[str, Any] = Field(default_factory=dict)


class Txt2ImgRequest(_Generation):
    """``POST /sdapi/v1/txt2img`` (A1111's StableDiffusionTxt2ImgProcessingAPI)."""

    enable_hr: bool = False


class Img2ImgRequest(_Generation):
    """``POST /sdapi/v1/img2img`` (A1111's StableDiffusionImg2ImgProcessingAPI)."""

    init_images: list[str] = Field(min_length=1)
    resize_mode: int = Field(0, ge=0, le=3)
    denoising_strength: float | None = 0.75
    mask: str | None = None
    mask_blur: int = 4
    inpainting_fill: int = Field(0, ge=0, le=3)
    inpaint_full_res: bool = True
    inpaint_full_res_padding: int = Field(0, ge=0)
    inpainting_mask_invert: int = Field(0, ge=0, le=1)
    initial_noise_multiplier: float | None = None
    include_init_images: bool = False


class ControlNetUnit(BaseModel):
    """One ``alwayson_scripts.controlnet.args`` unit (sd-webui-controlnet's API fields)."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = True
    module: str = "none"
    model: str = "None"
    weight: float = 1.0
    image: str | dict[str, Any] | None = None
    input_image: str | None = None  # the extension's older name for image
    threshold_a: float = -1
    threshold_b: float = -1
    guidance_start: float = 0.0
    guidance_end: float = 1.0


class PngInfoRequest(BaseModel):
    """``POST /sdapi/v1/png-info``."""

    image: str


def parse_body(model: type[ModelT], body: bytes) -> ModelT:
    """``body`` (JSON) as ``model``; A1111Invalid with FastAPI's detail list otherwise."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise invalid(f"JSON decode error: {exc}", kind="json_invalid") from None
    return validated(model, data)


def validated(model: type[ModelT], data: Any, *loc: str | int) -> ModelT:
    """``data`` as ``model``; A1111Invalid (its locations under ``body.<loc…>``) otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        detail = [
            {"loc": ["body", *loc, *error["loc"]], "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise A1111Invalid(detail) from None


def error_body(kind: str, message: str) -> dict[str, str]:
    """A1111's answer to a failed call (its api_middleware's shape)."""
    return {"error": kind, "detail": message, "body": "", "errors": message}
