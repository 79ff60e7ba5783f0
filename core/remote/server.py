"""The worker: an aiohttp application that runs passes for remote clients (``python main.py
serve``). Routes (all under ``/v1``; the protocol is in docs/API.md):

- ``GET /models``: the models this worker offers;
- ``POST /passes``: submit a pass (multipart, see :mod:`core.remote.protocol`) → its id and place;
- ``GET /passes/{id}``: its state; ``GET /passes/{id}/result``: the PNG with metadata;
- ``GET /passes/{id}/events``: a WebSocket of JSON messages and binary preview frames;
- ``POST /passes/{id}/cancel``.

With a token every route but ``/health`` wants ``Authorization: Bearer <token>`` (or
``?token=`` on the WebSocket). A request is at most 64 MB; each picture at most MAX_PIXELS.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import WSMsgType, web
from aiohttp.web_request import FileField

from core import __version__
from core.engine import Engine
from core.errors import UserError
from core.models import ModelSpec
from core.remote.a1111 import add_a1111_routes
from core.remote.jobs import Job, JobQueue
from core.remote.offered import OfferedModels
from core.remote.protocol import (
    API_PREFIX,
    MAX_REQUEST_BYTES,
    PARAMS_PART,
    ProtocolError,
    decode_submission,
    parse_params,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
QUEUE = web.AppKey("queue", JobQueue)
OFFERED = web.AppKey("offered", OfferedModels)
SPEC = web.AppKey("spec", ModelSpec)
TOKEN = web.AppKey("token", str)


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.x, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def worker_token(host: str, token: str | None) -> str:
    """The token the worker asks for: the given one, or a new one when it listens beyond
    loopback (the caller prints it); "" (none) on loopback without ``--token``."""
    if token:
        return token
    return "" if is_loopback(host) else secrets.token_urlsafe(24)


def make_app(
    offered: OfferedModels,
    spec: ModelSpec,
    token: str = "",
    engine: Engine | None = None,
) -> web.Application:
    """The worker application. ``spec`` carries the device, precision and memory mode every pass
    uses (its reference is replaced by the model each pass names)."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[_errors, _auth])
    app[QUEUE] = JobQueue(engine or Engine())
    app[OFFERED] = offered
    app[SPEC] = spec
    app[TOKEN] = token
    app.add_routes(
        [
            web.get(f"{API_PREFIX}/health", _health),
            web.get(f"{API_PREFIX}/models", _models),
            web.post(f"{API_PREFIX}/passes", _submit),
            web.get(f"{API_PREFIX}/passes/{{id}}", _status),
            web.get(f"{API_PREFIX}/passes/{{id}}/result", _result),
            web.get(f"{API_PREFIX}/passes/{{id}}/events", _events),
            web.post(f"{API_PREFIX}/passes/{{id}}/cancel", _cancel),
        ]
    )
    add_a1111_routes(app, app[QUEUE], offered, spec)  # /sdapi/v1: AUTOMATIC1111's API
    app.cleanup_ctx.append(_run_queue)
    return app


async def _run_queue(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[QUEUE].run())
    yield
    app[QUEUE].close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except UserError as exc:  # ProtocolError and the request's own checks: one line
        return web.json_response({"error": str(exc)}, status=400)
    except web.HTTPRequestEntityTooLarge:
        limit = f"{MAX_REQUEST_BYTES // (1024 * 1024)} MB"
        return web.json_response({"error": f"the request is over the {limit} limit"}, status=413)


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.app[TOKEN]
    if token and request.path != f"{API_PREFIX}/health":
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else request.query.get("token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return web.json_response({"error": "a valid token is required"}, status=401)
    return await handler(request)


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "version": __version__})


async def _models(request: web.Request) -> web.Response:
    return web.json_response({"models": request.app[OFFERED].listing()})


async def _submit(request: web.Request) -> web.Response:
    form = await request.post()  # bounded by client_max_size
    params = form.get(PARAMS_PART)
    if not isinstance(params, str):
        raise ProtocolError(f"the pass has no {PARAMS_PART} part")
    files = {}
    for name, part in form.items():
        if name != PARAMS_PART:
            if not isinstance(part, FileField):
                raise ProtocolError(f"{name} must be a file part")
            files[name] = part.file.read()
    submission = decode_submission(parse_params(params), files)
    offered = request.app[OFFERED]
    spec = request.app[SPEC]
    model_spec = ModelSpec(
        offered.reference(submission.model), None, spec.device, spec.dtype, spec.memory
    )
    queue = request.app[QUEUE]
    job = queue.submit(offered.checked(submission.request), model_spec)
    return web.json_response(job.status(queue.position(job)), status=201)


def _job(request: web.Request) -> Job:
    job = request.app[QUEUE].jobs.get(request.match_info["id"])
    if job is None:
        raise web.HTTPNotFound(text='{"error": "no such pass"}', content_type="application/json")
    return job


async def _status(request: web.Request) -> web.Response:
    job = _job(request)
    return web.json_response(job.status(request.app[QUEUE].position(job)))


async def _result(request: web.Request) -> web.Response:
    job = _job(request)
    if job.result_png is None:
        message = job.error or f"the pass is {job.state}"
        return web.json_response({"error": message, "state": job.state}, status=409)
    return web.Response(body=job.result_png, content_type="image/png")


async def _cancel(request: web.Request) -> web.Response:
    job = _job(request)
    queue = request.app[QUEUE]
    queue.cancel(job)
    return web.json_response(job.status(queue.position(job)))


async def _events(request: web.Request) -> web.WebSocketResponse:
    job = _job(request)
    socket = web.WebSocketResponse(heartbeat=30)
    await socket.prepare(request)
    listener = asyncio.create_task(_cancel_on_message(socket, request.app[QUEUE], job))
    try:
        async for message, preview in job.follow():
            await socket.send_json(message)
            if preview is not None:
                await socket.send_bytes(preview)
    finally:
        listener.cancel()
        await socket.close()
    return socket


async def _cancel_on_message(socket: web.WebSocketResponse, queue: JobQueue, job: Job) -> None:
    """A ``{"type": "cancel"}`` text message on the WebSocket cancels the pass too."""
    async for message in socket:
        if message.type == WSMsgType.TEXT:
            with contextlib.suppress(ValueError, AttributeError):
                if json.loads(message.data).get("type") == "cancel":
                    queue.cancel(job)


async def start_server(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start ``app`` on ``host:port`` (0: a free port); returns the runner and the port."""
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    return runner, int(sockets[0].getsockname()[1]) if sockets else port
