"""The engine: one img2img / inpaint / differential pass over a cached pipeline.

``Engine.run_pass(request, spec, on_event, cancel)`` validates the request before any model loads,
reports ``PassStarted`` / ``StepPreview`` events, and returns a :class:`PassResult` or raises
:class:`PassCancelled` (checked before the pass starts, between download chunks, after each
loading phase, before the denoise and after every step and the decode). The model works at the
work size (``core.work_size``); the result comes back at the picture's own size, and pixels
outside the (blurred) mask are byte-identical to it. Running out of memory raises
:class:`~core.engine.memory.OutOfMemory` (a one-line UserError with advice); the pass's memory is
given back and the loaded model kept, so the next pass works.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from typing import Any

import numpy as np
from PIL import Image

from core.conditioning.lora_files import requested_loras
from core.conditioning.regional import check_regions_supported
from core.engine.cancel import CancelToken
from core.engine.differential import blend_alpha, masked_strength_map, run_differential
from core.engine.edit import check_edit_request, run_masked_edit
from core.engine.family_call import accepts
from core.engine.memory import OutOfMemory, guard_memory, release_memory
from core.engine.pass_run import PassRun
from core.engine.record import pass_record
from core.engine.soft_inpaint import soft_strength_map
from core.errors import PassCancelled
from core.events import EventCallback, ModelLoading, PassResult, PassStarted
from core.imaging import load_mask, mask_is_empty, normalize_image, resize_to
from core.imaging.difference import changed_outside
from core.imaging.masks import blur_mask
from core.imaging.seam import seam_figures
from core.library.few_step_names import FewStep
from core.library_logs import quiet_libraries
from core.models import LoadedModel, ModelManager, ModelSpec
from core.models.families import is_edit_reference
from core.models.few_step import (
    few_step_for,
    few_step_for_reference,
    few_step_scheduler,
    fit_to_few_step,
)
from core.models.memory_choice import next_lighter_mode
from core.models.step_cache import step_caching
from core.requests import MAX_SEED, PassRequest, effective_steps
from core.sampling.previews import make_previewer
from core.sampling.schedulers import make_scheduler, scheduler_note
from core.work_size import choose_work_size


class Engine:
    """Runs passes; keeps the model loaded between them (img2img and inpaint share weights).

    One pass runs at a time: a pass started from another thread waits for the running one (or
    for its own cancel token). Each pass has its own token; :meth:`cancel` reaches the running one.
    """

    def __init__(self, models: ModelManager | None = None, previews: bool = True) -> None:
        quiet_libraries()  # their warnings and progress bars: the log file, not the terminal
        self.models = models or ModelManager()
        self.previews = previews
        # Per-model state, keyed by the loaded model's identity (never id() of a pipeline).
        self._scheduler_configs: dict[str, dict[str, Any]] = {}
        self._previewers: dict[str, Any] = {}
        self._busy = threading.Lock()  # held by the running pass (pipelines are not reentrant)
        self._token: CancelToken | None = None  # the running pass's token, set under _busy

    def cancel(self) -> None:
        """Cancel the pass in progress, if any (from any thread). A pass that has not started yet
        is cancelled through the CancelToken handed to ``run_pass``."""
        token = self._token
        if token is not None:
            token.cancel()

    def run_pass(
        self,
        request: PassRequest,
        spec: ModelSpec,
        on_event: EventCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PassResult:
        """Run one pass. Raises UserError for bad input (before loading) or PassCancelled."""
        request.validate()
        token = cancel or CancelToken()
        while not self._busy.acquire(timeout=0.05):  # another thread's pass is running
            if token.cancelled:
                raise PassCancelled()
        try:
            self._token = token
            if token.cancelled:
                raise PassCancelled()
            emit = on_event or (lambda event: None)
            try:
                return self._run(request, spec, emit, token)
            except OutOfMemory:
                lighter = self._lighter(spec)
                if lighter is None:
                    raise
                used = self._memory_in_use(spec)
                retry = f"out of memory with memory {used}: retrying once with {lighter.memory}"
                emit(ModelLoading(spec.reference, retry))
                self.models.unload()  # the next load applies the lighter mode
                release_memory()
                return self._run(request, lighter, emit, token)
        finally:
            self._token = None
            self._busy.release()

    def _run(
        self, request: PassRequest, spec: ModelSpec, emit: EventCallback, token: CancelToken
    ) -> PassResult:
        # 1. Normalise the inputs (validated already); nothing heavy happens before this.
        seed = request.seed if request.seed is not None else random.randint(0, MAX_SEED)
        size = request.output_size()
        source = resize_to(normalize_image(request.image), size)
        mask = load_mask(request.mask, size) if request.mask is not None else None
        strength_map = (
            masked_strength_map(load_mask(request.strength_map, size), mask)
            if request.strength_map is not None
            else None
        )
        kind = "differential" if strength_map is not None else "inpaint" if mask else "img2img"
        if request.soft_inpaint and mask is not None:  # the blurred mask as a strength map
            raw = load_mask(request.strength_map, size) if request.strength_map else None
            strength_map = soft_strength_map(mask, request.mask_blur, request.strength, raw)
            kind = "inpaint"
        # Few-step models, known from their reference before loading: more steps at low
        # strength, their guidance (the result keeps the request as it was asked).
        asked = request
        lora_names = [lora.path for lora in requested_loras(request.prompt, request.loras)]
        few = few_step_for_reference(spec.reference, lora_names)
        request, few_note = fit_to_few_step(request, few, _peak_strength(request, strength_map))
        steps_to_run = _steps_to_run(request, strength_map)
        if self._is_edit(spec, mask is not None):  # an instruction edit runs every step
            steps_to_run = request.steps
        started = time.perf_counter()

        # 2. Passes that change nothing return the input, without loading a model.
        note = _nothing_to_do(request, steps_to_run, mask, strength_map)
        if note:
            record = pass_record(request, kind, seed, 0, None, size, None, 0.0)
            duration = time.perf_counter() - started
            return PassResult(
                source, asked, seed, 0, duration, "", "", record, skipped=True, note=note
            )

        # 3. Load (or reuse) the model and choose the work size. Running out of memory here or
        #    in step 4 gives the memory back and raises OutOfMemory; the model stays loaded.
        with guard_memory() as watch:
            watch.device = spec.device if spec.device != "auto" else ""
            model = self.models.load(spec, emit, token)
            if token.cancelled:
                raise PassCancelled()
            family = model.family_info
            check_regions_supported(request, family.regions, family.label)
            check_edit_request(family, strength_map is not None, len(request.edit_references))
            if few is None and (few := few_step_for(model, lora_names)) is not None:
                peak = _peak_strength(request, strength_map)
                request, few_note = fit_to_few_step(request, few, peak)
                steps_to_run = _steps_to_run(request, strength_map)
            edit = family.runs_without_strength(mask is not None)  # masked Qwen-Edit, Klein: no
            if (kind == "img2img" or edit) and not _img2img_has_strength(model):
                steps_to_run = request.steps  # an instruction edit (Kontext, Qwen) runs every step
            work_size = choose_work_size(
                size, request.work_size, model.native_size, model.size_multiple
            )
            watch.reached(model.device, model.dtype, work_size)
            emit(PassStarted(steps_to_run, request.steps, work_size[0], work_size[1], seed))

            # 4. Denoise, then return at the picture's own size.
            scheduler = self.scheduler_for(model, request.scheduler, few)
            run = PassRun(
                model,
                request,
                seed,
                token,
                emit,
                steps_to_run,
                work_size,
                scheduler,
                self.previewer_for(model),
            )
            cache_note = lambda text: emit(ModelLoading(spec.reference, text))  # noqa: E731
            with step_caching(model.base_pipe, spec.speed, cache_note) as speed_used:
                if strength_map is not None:
                    image = run_differential(run, source, strength_map)
                elif mask is not None and edit:  # the edit on the mask's crop, aligned
                    image = run_masked_edit(run, source, mask)
                elif mask is not None:
                    image = run.inpaint(source, mask)
                else:
                    image = run.whole_picture_guard(source, run.img2img(source))
        duration = time.perf_counter() - started
        record = pass_record(request, kind, seed, steps_to_run, model, size, work_size, duration)
        record.update(run.context.record_extra)
        record["model"]["speed"] = speed_used
        record.update(scheduler_note(request.scheduler, scheduler))
        used_mask = blur_mask(mask, request.mask_blur) if mask is not None else None
        record.update(changed_outside(source, image, used_mask))  # the drift guard's figures
        if used_mask is not None:  # the colour step across the edge it was blended through
            through = blend_alpha(strength_map) if strength_map is not None else used_mask
            record.update(seam_figures(source, image, through))
        model_hash = record["model"]["hash"]  # as known now: the hash never holds up a pass
        return PassResult(
            image,
            asked,
            seed,
            steps_to_run,
            duration,
            model.name,
            model_hash,
            record,
            control_images=run.context.control_images,  # conditioning.control
            note="; ".join(n for n in (few_note, record.get("alignment_note", "")) if n),
        )

    def _is_edit(self, spec: ModelSpec, masked: bool) -> bool:
        """Whether a pass of ``spec`` is an instruction edit without strength (the loaded
        model's family, or told from its reference before loading)."""
        loaded = self.models.loaded
        if loaded is not None and loaded.spec == spec:
            return loaded.family_info.runs_without_strength(masked)
        return is_edit_reference(spec.reference, masked)

    def _memory_in_use(self, spec: ModelSpec) -> str:
        loaded = self.models.loaded
        if loaded is not None and loaded.spec == spec:
            return loaded.memory_mode.split("+")[0]
        return spec.memory

    def _lighter(self, spec: ModelSpec) -> ModelSpec | None:
        """The spec to retry an out-of-memory pass with, when the user allowed a retry."""
        if not spec.oom_retry:
            return None
        lighter = next_lighter_mode(self._memory_in_use(spec))
        return None if lighter is None else dataclasses.replace(spec, memory=lighter)

    def scheduler_for(self, model: LoadedModel, name: str, few: FewStep | None = None) -> Any:
        """A fresh scheduler of the named kind built from the model's original config (a
        few-step model's: with trailing timesteps, or its LCM scheduler)."""
        if model.identity not in self._scheduler_configs:
            own = model.base_pipe.scheduler  # its class tells flow-matching models apart
            config = {**own.config, "_class_name": type(own).__name__}
            self._scheduler_configs = {model.identity: config}
        scheduler = make_scheduler(name, self._scheduler_configs[model.identity])
        return few_step_scheduler(scheduler, few)

    def previewer_for(self, model: LoadedModel) -> Any:
        """The step previewer for the model (None when previews are off)."""
        if not self.previews:
            return None
        if model.identity not in self._previewers:
            previewer = make_previewer(model.family, model.device, model.dtype)
            self._previewers = {model.identity: previewer}
        return self._previewers[model.identity]


def _img2img_has_strength(model: LoadedModel) -> bool:
    """False for models whose img2img is an instruction edit of the whole picture (Kontext)."""
    return model.is_inpaint_model or accepts(model.img2img_pipe, "strength")


def _peak_strength(request: PassRequest, strength_map: Image.Image | None) -> float:
    """The strength, or the masked strength map's highest value."""
    if strength_map is None:
        return float(request.strength)
    return float(np.asarray(strength_map).max()) / 255.0


def _steps_to_run(request: PassRequest, strength_map: Image.Image | None) -> int:
    """Steps the pass runs: from the strength, or from the masked map's peak."""
    if strength_map is None:
        return request.effective_steps
    return effective_steps(request.steps, _peak_strength(request, strength_map))


def _nothing_to_do(
    request: PassRequest,
    steps_to_run: int,
    mask: Image.Image | None,
    strength_map: Image.Image | None,
) -> str:
    """Why the pass would change nothing (a note for the user), or "" when it has work to do."""
    if strength_map is not None and steps_to_run == 0:
        where = " inside the mask" if mask is not None else ""
        return (
            f"the strength map's highest value{where} runs 0 of {request.steps} steps: "
            "the input is returned unchanged"
        )
    if steps_to_run == 0:
        return (
            f"strength {request.strength:.2f} × {request.steps} steps runs 0 denoising steps: "
            "the input is returned unchanged"
        )
    if mask is not None and mask_is_empty(mask):
        return "the mask is empty: the input is returned unchanged"
    return ""
