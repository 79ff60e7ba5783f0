"""The engine: one img2img / inpaint / differential pass over a cached pipeline.

``Engine.run_pass(request, spec, on_event, cancel)`` validates the request before any model loads,
reports ``PassStarted`` / ``StepPreview`` events, and returns a :class:`PassResult` or raises
:class:`PassCancelled`. Pixels outside the (blurred) mask are byte-identical to the input.
"""

from __future__ import annotations

import random
import time
from typing import Any

from PIL import Image

from core import __version__
from core.engine.cancel import CancelToken
from core.errors import PassCancelled
from core.events import EventCallback, PassResult, PassStarted
from core.hashing import pixel_hash
from core.imaging import (
    blur_mask,
    composite,
    load_mask,
    mask_bbox,
    mask_is_empty,
    normalize_image,
    resize_to,
)
from core.models import LoadedModel, ModelManager, ModelSpec
from core.requests import MAX_SEED, PassRequest, round_to_multiple
from core.sampling.previews import make_previewer
from core.sampling.schedulers import make_scheduler
from core.sampling.step_hooks import StepHooks

PIPELINE_MASK_THRESHOLD = 8  # blurred-mask values above this are repainted by the model


class Engine:
    """Runs passes; keeps the model loaded between them (img2img and inpaint share weights)."""

    def __init__(self, models: ModelManager | None = None, previews: bool = True) -> None:
        self.models = models or ModelManager()
        self.previews = previews
        self._scheduler_configs: dict[int, dict] = {}
        self._previewers: dict[int, Any] = {}
        self._token: CancelToken | None = None

    def cancel(self) -> None:
        """Cancel the pass in progress (from any thread)."""
        if self._token is not None:
            self._token.cancel()

    def run_pass(
        self,
        request: PassRequest,
        spec: ModelSpec,
        on_event: EventCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PassResult:
        """Run one pass. Raises UserError for bad input (before loading) or PassCancelled."""
        # 1. Validate and normalise the inputs; nothing heavy happens before this succeeds.
        request.validate()
        emit = on_event or (lambda event: None)
        token = cancel or CancelToken()
        self._token = token
        seed = request.seed if request.seed is not None else random.randint(0, MAX_SEED)
        width, height = request.output_size()
        source = normalize_image(request.image)
        if source.size != (width, height):
            source = resize_to(source, (width, height))
        mask = load_mask(request.mask, (width, height)) if request.mask is not None else None
        strength_map = (
            load_mask(request.strength_map, (width, height))
            if request.strength_map is not None
            else None
        )
        kind = "differential" if strength_map is not None else "inpaint" if mask else "img2img"
        steps_to_run = self._steps_to_run(request, strength_map)
        started = time.perf_counter()

        # 2. Passes that change nothing return the input, without loading a model.
        note = ""
        if steps_to_run == 0:
            note = (
                f"strength {request.strength:.2f} × {request.steps} steps runs 0 denoising steps: "
                "the input is returned unchanged"
            )
        elif mask is not None and mask_is_empty(mask):
            note = "the mask is empty: the input is returned unchanged"
        if note:
            return PassResult(
                source,
                request,
                seed,
                0,
                time.perf_counter() - started,
                "",
                "",
                self._record(request, kind, seed, 0, None, width, height, 0.0),
                skipped=True,
                note=note,
            )

        # 3. Load (or reuse) the model, then denoise.
        model = self.models.load(spec, emit)
        if token.cancelled:
            raise PassCancelled()
        emit(PassStarted(steps_to_run, request.steps, width, height, seed))
        run = _PassRun(self, model, request, seed, token, emit, steps_to_run)
        if strength_map is not None:
            from core.engine.differential import run_differential

            image = run_differential(run, source, strength_map, mask)
        elif mask is not None:
            image = run.inpaint(source, mask)
        else:
            image = run.img2img(source)
        duration = time.perf_counter() - started
        record = self._record(request, kind, seed, steps_to_run, model, width, height, duration)
        return PassResult(
            image, request, seed, steps_to_run, duration, model.name, model.hash, record
        )

    @staticmethod
    def _steps_to_run(request: PassRequest, strength_map) -> int:
        if strength_map is None:
            return request.effective_steps
        top = max(strength_map.getextrema()[1] / 255.0, 0.0)
        return request.replace(strength=top).effective_steps

    def scheduler_for(self, model: LoadedModel, pipe, name: str):
        """A fresh scheduler of the named kind built from the model's original config."""
        key = id(model.base_pipe)
        if key not in self._scheduler_configs:
            self._scheduler_configs = {key: dict(model.base_pipe.scheduler.config)}
        return make_scheduler(name, self._scheduler_configs[key])

    def previewer_for(self, model: LoadedModel):
        if not self.previews:
            return None
        key = id(model.base_pipe)
        if key not in self._previewers:
            self._previewers = {key: make_previewer(model.family, model.device, model.dtype)}
        return self._previewers[key]

    @staticmethod
    def _record(request, kind, seed, steps_run, model, width, height, duration) -> dict:
        record = {
            "app": "Img2Img Studio",
            "app_version": __version__,
            "kind": kind,
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "strength": round(float(request.strength), 4),
            "steps": request.steps,
            "effective_steps": steps_run,
            "cfg": float(request.cfg),
            "seed": seed,
            "scheduler": request.scheduler,
            "width": width,
            "height": height,
            "model": {
                "name": model.name if model else "",
                "reference": model.spec.reference if model else "",
                "hash": model.hash if model else "",
            },
            "input_hash": pixel_hash(request.image),
            "color_match": request.color_match,
            "duration": round(duration, 3),
        }
        if request.mask is not None:
            record.update(
                mask_hash=pixel_hash(request.mask),
                mask_blur=request.mask_blur,
                inpaint_area=request.inpaint_area,
                padding=request.padding,
            )
        if request.strength_map is not None:
            record["strength_map_hash"] = pixel_hash(request.strength_map)
        record.update(request.extra)
        return record


class _PassRun:
    """The state of one running pass: model, seed, hooks. Numbered steps follow diffusers' style."""

    def __init__(
        self,
        engine: Engine,
        model: LoadedModel,
        request: PassRequest,
        seed: int,
        token: CancelToken,
        emit: EventCallback,
        steps_to_run: int,
    ) -> None:
        self.engine, self.model, self.request = engine, model, request
        self.seed, self.token, self.emit, self.steps_to_run = seed, token, emit, steps_to_run

    def generator(self):
        import torch

        # A CPU generator makes a seed give the same noise on every device.
        return torch.Generator(device="cpu").manual_seed(self.seed)

    def call(self, pipe, latent_filter=None, **kwargs) -> Image.Image:
        """Call a pipeline with this pass's prompt, sampler, seed, hooks; return the PIL image."""
        request = self.request
        pipe.scheduler = self.engine.scheduler_for(self.model, pipe, request.scheduler)
        hooks = StepHooks(
            pipe,
            self.steps_to_run,
            self.emit,
            self.token,
            self.engine.previewer_for(self.model),
            latent_filter,
        )
        try:
            output = pipe(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or None,
                num_inference_steps=request.steps,
                guidance_scale=request.cfg,
                generator=self.generator(),
                callback_on_step_end=hooks,
                callback_on_step_end_tensor_inputs=["latents"],
                output_type="pil",
                **kwargs,
            )
        except PassCancelled:
            if hasattr(pipe, "maybe_free_model_hooks"):
                pipe.maybe_free_model_hooks()
            raise
        if self.token.cancelled:
            raise PassCancelled()
        return output.images[0].convert("RGB")

    def img2img(self, source: Image.Image) -> Image.Image:
        if self.model.is_inpaint_model:  # 9-channel models: img2img is inpainting everything
            full = Image.new("L", source.size, 255)
            return self.call(
                self.model.inpaint_pipe,
                image=source,
                mask_image=full,
                strength=self.request.strength,
                width=source.width,
                height=source.height,
            )
        return self.call(self.model.img2img_pipe, image=source, strength=self.request.strength)

    def inpaint(self, source: Image.Image, mask: Image.Image) -> Image.Image:
        # 1. The blurred mask decides the final blend; the model repaints wherever it is non-zero.
        blurred = blur_mask(mask, self.request.mask_blur)
        repaint = blurred.point(lambda v: 255 if v > PIPELINE_MASK_THRESHOLD else 0)
        if mask_is_empty(repaint):
            repaint = mask.point(lambda v: 255 if v > 0 else 0)
        # 2. Generate on the whole picture or on the mask's padded box at the model's resolution.
        if self.request.inpaint_area == "masked":
            generated = self._inpaint_crop(source, repaint, blurred)
        else:
            generated = self.call(
                self.model.inpaint_pipe,
                image=source,
                mask_image=repaint,
                strength=self.request.strength,
                width=source.width,
                height=source.height,
            )
            if generated.size != source.size:
                generated = resize_to(generated, source.size)
        # 3. Paste back: outside the blurred mask the input's bytes are kept exactly.
        return composite(source, generated, blurred)

    def _inpaint_crop(self, source, repaint, blurred) -> Image.Image:
        box = crop_box(blurred, source.size, self.request.padding)
        cw, ch = box[2] - box[0], box[3] - box[1]
        scale = self.model.native_size / max(1.0, (cw * ch) ** 0.5)
        gw, gh = round_to_multiple(cw * scale), round_to_multiple(ch * scale)
        region = resize_to(source.crop(box), (gw, gh))
        region_mask = repaint.crop(box).resize((gw, gh), Image.Resampling.NEAREST)
        out = self.call(
            self.model.inpaint_pipe,
            image=region,
            mask_image=region_mask,
            strength=self.request.strength,
            width=gw,
            height=gh,
        )
        full = source.copy()
        full.paste(resize_to(out, (cw, ch)), box[:2])
        return full


def crop_box(mask: Image.Image, size: tuple[int, int], padding: int) -> tuple[int, int, int, int]:
    """The mask's bounding box grown by ``padding`` px and clamped to the image."""
    box = mask_bbox(mask)
    if box is None:
        return (0, 0, *size)
    left, top, right, bottom = box
    return (
        max(0, left - padding),
        max(0, top - padding),
        min(size[0], right + padding),
        min(size[1], bottom + padding),
    )
