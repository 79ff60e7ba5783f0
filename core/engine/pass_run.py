"""One running pass: the pipeline call with its hooks, and the img2img / inpaint paths.

Every path generates at the work size and returns a picture at the source's own size; inpainting
pastes the result back through the blurred mask, so pixels outside it keep the input's bytes. With
colour match on, the repainted area is first matched to the picture around it
(:func:`core.imaging.colour.match_to_surroundings`), which changes only pixels inside that mask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image

from core.conditioning.apply import prepare_call
from core.conditioning.context import PassContext
from core.conditioning.regional import regional_call
from core.engine.cancel import CancelToken
from core.engine.family_call import fit_call, pipeline_size
from core.engine.strength_start import mask_hold, started_arguments, started_scheduler
from core.engine.vae import decode_fp32, is_blank
from core.errors import PassCancelled
from core.events import EventCallback
from core.imaging import blur_mask, composite, crop_box, mask_is_empty, resize_to
from core.imaging.colour import match_colors, match_to_surroundings
from core.models import LoadedModel
from core.requests import PassRequest
from core.sampling.latent_layout import layout_for
from core.sampling.step_hooks import StepHooks
from core.work_size import crop_work_size

PIPELINE_MASK_THRESHOLD = 8  # blurred-mask values above this are repainted by the model


class PassRun:
    """The state of one pass: model, request, seed, work size, hooks, and the
    :class:`PassContext` conditioning reads and writes (``context``)."""

    def __init__(
        self,
        model: LoadedModel,
        request: PassRequest,
        seed: int,
        token: CancelToken,
        emit: EventCallback,
        steps_to_run: int,
        work_size: tuple[int, int],
        scheduler: Any,
        previewer: Any,
    ) -> None:
        self.context = PassContext(model, request, emit)  # also holds the crop and the record
        self.seed, self.token, self.steps_to_run = seed, token, steps_to_run
        self.work_size, self.scheduler, self.previewer = work_size, scheduler, previewer

    @property
    def model(self) -> LoadedModel:
        return self.context.model

    @property
    def request(self) -> PassRequest:
        return self.context.request

    @property
    def emit(self) -> EventCallback:
        return self.context.emit

    def generator(self) -> Any:
        """A CPU generator, so a seed gives the same noise on every device."""
        import torch

        return torch.Generator(device="cpu").manual_seed(self.seed)

    def call(
        self, pipe: Any, latent_filter: Callable[..., Any] | None = None, **kwargs: Any
    ) -> Image.Image:
        """Call a pipeline with this pass's prompt, sampler, seed and hooks; return RGB."""
        request = self.request
        if self.token.cancelled:  # e.g. during the differential pass's own VAE encode
            raise PassCancelled()
        work = getattr(kwargs.get("image"), "size", self.work_size)
        prepared = prepare_call(self.context, pipe, kwargs)
        pipe = prepared.pipe
        work = pipeline_size(pipe, work)  # where the latents are (Qwen-Image-Edit's inpaint)
        pipe.scheduler = self.scheduler
        family = self.model.family_info
        generator = self.generator()
        extra = prepared.kwargs
        if prepared.started_at_strength:  # a ControlNet pipeline without a strength (Qwen-Image)
            steps, steps_to_run = request.steps, self.steps_to_run
            if latent_filter is None:  # masked: held outside the mask as inpainting does
                latent_filter = mask_hold(pipe, extra, steps, steps_to_run, self.generator())
            extra = started_arguments(
                self.model.img2img_pipe,
                self.scheduler,
                {**extra, "generator": generator},
                steps,
                steps_to_run,
            )
            pipe.scheduler = started_scheduler(self.model.img2img_pipe, self.scheduler)
        layout = layout_for(family.packed_latents, int(pipe.vae_scale_factor), work)
        hooks = StepHooks(
            pipe, self.steps_to_run, self.emit, self.token, self.previewer, latent_filter, layout
        )
        call_kwargs, notes = fit_call(
            pipe,
            family,
            request.steps,
            self.steps_to_run,
            {
                "prompt": prepared.prompt,
                "negative_prompt": request.negative_prompt or None,
                "num_inference_steps": request.steps,
                "guidance_scale": request.cfg,
                "generator": generator,
                "callback_on_step_end": hooks,
                "callback_on_step_end_tensor_inputs": ["latents"],
                "output_type": "pil",
                "edit_references": request.edit_references,
                **extra,
            },
        )
        self.context.record_extra.update(notes)
        run_pipe = regional_call(pipe, request, work, self.context.region_box)
        try:
            output = run_pipe(**call_kwargs)
        except PassCancelled:
            if hasattr(pipe, "maybe_free_model_hooks"):
                pipe.maybe_free_model_hooks()
            raise
        if self.token.cancelled:
            raise PassCancelled()
        image = output.images[0].convert("RGB")
        if is_blank(image) and hooks.last_latents is not None and not self._full_precision:
            image = decode_fp32(pipe, hooks.last_latents)  # an fp16 VAE overflowed
            if self.token.cancelled:
                raise PassCancelled()
        return image

    @property
    def _full_precision(self) -> bool:
        import torch

        return bool(self.model.dtype == torch.float32)

    def img2img(self, source: Image.Image) -> Image.Image:
        """The whole picture, generated at the work size and returned at the source's size."""
        work = resize_to(source, self.work_size)
        if self.model.is_inpaint_model:  # 9-channel models: img2img is inpainting everything
            generated = self._inpaint_call(work, Image.new("L", work.size, 255))
        else:
            generated = self.call(
                self.model.img2img_pipe, image=work, strength=self.request.strength
            )
        return resize_to(generated, source.size)

    def inpaint(self, source: Image.Image, mask: Image.Image) -> Image.Image:
        """Repaint under the mask; outside the blurred mask the input's bytes are kept."""
        # 1. The blurred mask decides the final blend; the model repaints wherever it is non-zero.
        blurred = blur_mask(mask, self.request.mask_blur)
        repaint = blurred.point(lambda v: 255 if v > PIPELINE_MASK_THRESHOLD else 0)
        if mask_is_empty(repaint):
            repaint = mask.point(lambda v: 255 if v > 0 else 0)
        # 2. Generate the whole picture at the work size, or the mask's padded box at its own.
        if self.request.inpaint_area == "masked":
            generated = self._inpaint_crop(source, repaint, blurred)
        else:
            work_mask = repaint.resize(self.work_size, Image.Resampling.BILINEAR)
            work_mask = work_mask.point(lambda v: 255 if v > 0 else 0)
            generated = self._inpaint_call(resize_to(source, self.work_size), work_mask)
            generated = resize_to(generated, source.size)
        # 3. Paste back through the full-size blurred mask.
        return self.paste_back(source, generated, blurred)

    def paste_back(
        self, source: Image.Image, generated: Image.Image, alpha: Image.Image
    ) -> Image.Image:
        """``generated`` blended over ``source`` through ``alpha`` (mode "L"), colour-matched to
        the picture around it first when the request asks for it; where ``alpha`` is 0 the
        source's bytes are kept."""
        if self.request.colour_matched:
            generated = match_to_surroundings(source, generated, alpha)
        return composite(source, generated, alpha)

    def whole_picture_guard(self, source: Image.Image, image: Image.Image) -> Image.Image:
        """A whole-picture pass asked explicitly for colour match: the drift guard (CIELAB mean and
        deviation matched to the input's)."""
        return match_colors(image, source) if self.request.color_match else image

    def _inpaint_call(self, image: Image.Image, mask: Image.Image) -> Image.Image:
        return self.call(
            self.model.inpaint_pipe,
            image=image,
            mask_image=mask,
            strength=self.request.strength,
            width=image.width,
            height=image.height,
        )

    def _inpaint_crop(
        self, source: Image.Image, repaint: Image.Image, blurred: Image.Image
    ) -> Image.Image:
        box = crop_box(blurred, source.size, self.request.padding)
        cw, ch = box[2] - box[0], box[3] - box[1]
        model = self.model
        gw, gh = crop_work_size(
            (cw, ch), self.request.work_size, model.native_size, model.size_multiple
        )
        region = resize_to(source.crop(box), (gw, gh))
        region_mask = repaint.crop(box).resize((gw, gh), Image.Resampling.NEAREST)
        self.context.region_box = box
        out = self._inpaint_call(region, region_mask)
        full = source.copy()
        full.paste(resize_to(out, (cw, ch)), box[:2])
        return full
