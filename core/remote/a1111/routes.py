"""The A1111-compatible routes (``/sdapi/v1/…``) on the worker's application.

txt2img and img2img answer when their pictures are done, as A1111 does; their passes go through
the worker's one queue (:class:`~core.remote.jobs.JobQueue`) with every other pass, so the token,
the request size limit and the offered models apply to them alike. ``/progress`` reports the
running pass whoever submitted it; ``/interrupt`` ends the running call (the pictures finished so
far come back), ``/skip`` only its current picture.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image

from core.errors import UserError
from core.metadata import read_metadata
from core.models import ModelSpec
from core.progress import eta_seconds
from core.remote.a1111 import listing
from core.remote.a1111.controlnet import MODULES
from core.remote.a1111.mapping import Plan, img2img_plan, info_json, txt2img_plan
from core.remote.a1111.pictures import decode_picture, encode_base64
from core.remote.a1111.schema import (
    A1111Invalid,
    PngInfoRequest,
    error_body,
    invalid,
    parse_body,
)
from core.remote.jobs import FINAL_STATES, Job, JobQueue, request_pixels
from core.remote.offered import OfferedModels

PREFIX = "/sdapi/v1"
PlanBuilder = Callable[[bytes, str, OfferedModels], Plan]


@dataclass
class Call:
    """One txt2img / img2img call in progress: its passes and what the client asked of it."""

    job: str
    jobs: list[Job]
    timestamp: str
    started: float = field(default_factory=time.monotonic)
    interrupted: bool = False
    skipped: bool = False


@dataclass
class A1111State:
    """The worker's A1111 side: its queue and models, the checkpoint ``/options`` chose and the
    calls in progress (by pass id)."""

    queue: JobQueue
    offered: OfferedModels
    spec: ModelSpec
    model: str = "default"
    calls: dict[str, Call] = field(default_factory=dict)

    def running(self) -> Job | None:
        return next((job for job in self.queue.jobs.values() if job.state == "running"), None)


STATE = web.AppKey("a1111", A1111State)


def add_a1111_routes(
    app: web.Application, queue: JobQueue, offered: OfferedModels, spec: ModelSpec
) -> None:
    """Serve A1111's API on ``app`` with the worker's queue, models and device settings."""
    rows = offered.listing()  # a worker without --model starts on its first library model
    model = "default" if offered.default or not rows else str(rows[0]["id"])
    app[STATE] = A1111State(queue, offered, spec, model)
    get, post = web.get, web.post
    app.add_routes(
        [
            post(f"{PREFIX}/img2img", _json_errors(_img2img)),
            post(f"{PREFIX}/txt2img", _json_errors(_txt2img)),
            get(f"{PREFIX}/progress", _progress),
            post(f"{PREFIX}/interrupt", _interrupt),
            post(f"{PREFIX}/skip", _skip),
            get(f"{PREFIX}/sd-models", _sd_models),
            get(f"{PREFIX}/samplers", _samplers),
            get(f"{PREFIX}/schedulers", _schedulers),
            get(f"{PREFIX}/loras", _loras),
            get(f"{PREFIX}/scripts", _scripts),
            get(f"{PREFIX}/options", _options),
            post(f"{PREFIX}/options", _json_errors(_set_options)),
            post(f"{PREFIX}/png-info", _json_errors(_png_info)),
            get("/controlnet/model_list", _controlnet_models),
            get("/controlnet/module_list", _controlnet_modules),
        ]
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_errors(handler: Handler) -> Handler:
    """A1111's error answers: 422 with FastAPI's ``detail`` list for a bad body."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except A1111Invalid as exc:
            return web.json_response({"detail": exc.detail}, status=422)

    return wrapped


# -- generation --------------------------------------------------------------------------------
async def _img2img(request: web.Request) -> web.Response:
    return await _generate(request, img2img_plan)


async def _txt2img(request: web.Request) -> web.Response:
    return await _generate(request, txt2img_plan)


async def _generate(request: web.Request, build: PlanBuilder) -> web.Response:
    state = request.app[STATE]
    state.queue.check_room()  # a full queue is refused before the body is read
    body = await request.read()  # bounded by the application's client_max_size
    # 1. Decode and check everything off the event loop (base64, pictures, the library).
    plan = await asyncio.to_thread(build, body, state.model, state.offered)
    spec = state.spec
    reference = state.offered.reference(plan.model)
    model_spec = ModelSpec(reference, None, spec.device, spec.dtype, spec.memory)
    shown = state.offered.shown(plan.model)
    paths = {reference: shown, **plan.paths}  # no server path in what the client reads back
    # 2. Queue one pass per picture and wait for them all.
    jobs: list[Job] = []
    try:
        for pass_request in plan.requests:
            pixels = request_pixels(pass_request)
            jobs.append(state.queue.submit(pass_request, model_spec, shown, paths, pixels))
    except UserError:  # the queue refuses one (full): the call queues none
        for job in jobs:
            state.queue.cancel(job)
        raise
    call = Call(plan.job, jobs, plan.timestamp)
    state.calls.update({job.id: call for job in jobs})
    try:
        for job in jobs:
            async for _ in job.follow():
                pass
    finally:
        for job in jobs:
            state.calls.pop(job.id, None)
            if job.state not in FINAL_STATES:  # the client went away: its passes go too
                state.queue.cancel(job)
    failed = next((job for job in jobs if job.state == "failed"), None)
    if failed is not None:
        return web.json_response(error_body("PassFailed", failed.error), status=400)
    # 3. A1111's answer: base64 PNGs (with our infotext), the echo and the info JSON.
    done = [job.result_png for job in jobs if job.state == "done" and job.result_png]
    answer = await asyncio.to_thread(_answer, plan, done, call)
    return web.json_response(answer)


def _answer(plan: Plan, pngs: list[bytes], call: Call) -> dict[str, Any]:
    metas = [read_metadata(Image.open(io.BytesIO(png))) for png in pngs]
    records = [meta["record"] or {} for meta in metas]
    infotexts = [meta["parameters"] or "" for meta in metas]
    info = info_json(plan, records, infotexts)
    for number, job in enumerate(call.jobs, 1):
        retries = [m["message"] for m, _ in job.messages if m.get("type") == "retried"]
        info["notes"].extend(f"picture {number}: {text}" for text in retries)
    if len(pngs) < len(plan.requests):
        why = "interrupted" if call.interrupted else "skipped"
        info["notes"].append(f"{why}: {len(pngs)} of {len(plan.requests)} pictures finished")
    images = [encode_base64(png) for png in pngs] if plan.parameters.get("send_images") else []
    return {"images": images, "parameters": plan.parameters, "info": json.dumps(info)}


# -- progress, interrupt, skip -----------------------------------------------------------------
async def _progress(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job = state.running()
    waiting = [j for j in state.queue.jobs.values() if j.state == "queued"]
    if job is None:
        idle = _state_dict(None, None, len(waiting), 0, 0)
        return web.json_response(
            {
                "progress": 0,
                "eta_relative": 0,
                "state": idle,
                "current_image": None,
                "textinfo": None,
            }
        )
    call = state.calls.get(job.id)
    step, steps, preview, text = _pass_progress(job)
    number = call.jobs.index(job) if call else 0
    count = len(call.jobs) if call else 1
    fraction = min(0.01 + (number + (step / steps if steps else 0)) / count, 1.0)
    started = call.started if call else time.monotonic()
    eta = eta_seconds(fraction, 1.0, time.monotonic() - started) or 0.0
    skip_image = request.query.get("skip_current_image", "").lower() in ("1", "true")
    image = encode_base64(preview) if preview and not skip_image else None
    return web.json_response(
        {
            "progress": fraction,
            "eta_relative": eta,
            "state": _state_dict(call, job, count, number, step, steps),
            "current_image": image,
            "textinfo": text,
        }
    )


def _pass_progress(job: Job) -> tuple[int, int, bytes | None, str]:
    """The running pass's step, step count, latest preview and a line about it. On a pool, a
    pass retried on another replica starts again from its first step: what its dead replica
    reached (steps, preview) no longer counts, and the line says why until the retry reports."""
    step, steps, preview, text = 0, 0, None, "Waiting…"
    for message, picture in job.messages:
        kind = message.get("type")
        if kind == "retried":
            step, steps, preview = 0, 0, None
            text = str(message.get("message") or "Retried on another worker")
        elif kind == "loading":
            text = str(message.get("message") or "Loading the model…")
        elif kind == "started":
            steps, text = int(message["effective_steps"]), "Sampling…"
        elif kind == "step":
            step, steps = int(message["step"]), int(message["total"])
            text = f"Sampling step {step}/{steps}"
        preview = picture or preview
    return step, steps, preview, text


def _state_dict(
    call: Call | None, job: Job | None, count: int, number: int, step: int, steps: int = 0
) -> dict[str, Any]:
    """A1111's ``shared.state.dict()``."""
    return {
        "skipped": bool(call and call.skipped),
        "interrupted": bool(call and call.interrupted),
        "stopping_generation": False,
        "job": call.job if call else ("img2img-studio" if job else ""),
        "job_count": count,
        "job_timestamp": call.timestamp if call else "0",
        "job_no": number,
        "sampling_step": step,
        "sampling_steps": steps,
    }


async def _interrupt(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job = state.running()
    if job is not None:
        call = state.calls.get(job.id)
        if call is not None:
            call.interrupted = True
        for each in call.jobs if call else [job]:
            state.queue.cancel(each)
    return web.json_response({})


async def _skip(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job = state.running()
    if job is not None:
        call = state.calls.get(job.id)
        if call is not None:
            call.skipped = True
        state.queue.cancel(job)
    return web.json_response({})


# -- listings and options ----------------------------------------------------------------------
async def _sd_models(request: web.Request) -> web.Response:
    return web.json_response(listing.sd_models(request.app[STATE].offered))


async def _samplers(request: web.Request) -> web.Response:
    return web.json_response(listing.samplers())


async def _schedulers(request: web.Request) -> web.Response:
    return web.json_response(listing.schedulers())


async def _loras(request: web.Request) -> web.Response:
    return web.json_response(listing.loras(request.app[STATE].offered))


async def _scripts(request: web.Request) -> web.Response:
    return web.json_response({"txt2img": [], "img2img": []})


async def _controlnet_models(request: web.Request) -> web.Response:
    return web.json_response({"model_list": listing.controlnet_models(request.app[STATE].offered)})


async def _controlnet_modules(request: web.Request) -> web.Response:
    return web.json_response({"module_list": list(MODULES)})


async def _options(request: web.Request) -> web.Response:
    state = request.app[STATE]
    title = listing.checkpoint_title(state.offered, state.model)
    return web.json_response(
        {"sd_model_checkpoint": title, "sd_checkpoint_hash": None, "samples_format": "png"}
    )


async def _set_options(request: web.Request) -> web.Response:
    """Only ``sd_model_checkpoint`` changes anything: the offered model later calls use."""
    state = request.app[STATE]
    options = await asyncio.to_thread(_json_object, await request.read())
    title = options.get("sd_model_checkpoint")
    if title is not None:
        state.model = listing.checkpoint_id(state.offered, str(title))
    return web.json_response(None)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError as exc:
        raise invalid(f"JSON decode error: {exc}", kind="json_invalid") from None
    if not isinstance(value, dict):
        raise invalid("Input should be a valid dictionary", kind="dict_type")
    return value


async def _png_info(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(await asyncio.to_thread(_read_png_info, body))


def _read_png_info(body: bytes) -> dict[str, Any]:
    """A1111's png-info answer: the infotext, the other text chunks and the parsed fields."""
    image = decode_picture(parse_body(PngInfoRequest, body).image, "image")
    meta = read_metadata(image)
    text = meta["parameters"] or ""
    items = {
        str(key): value
        for key, value in (image.info or {}).items()
        if key != "parameters" and isinstance(value, str | int | float)
    }
    parsed: dict[str, Any] = meta["parsed"] or {}  # None: no text, or one over the limits
    parameters: dict[str, Any] = {"Prompt": parsed.get("prompt", "")}
    parameters["Negative prompt"] = parsed.get("negative_prompt", "")
    parameters.update(parsed.get("params", {}))
    if "width" in parsed:
        parameters["Size-1"], parameters["Size-2"] = parsed["width"], parsed["height"]
    return {"info": text, "items": items, "parameters": parameters}
