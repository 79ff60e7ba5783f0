"""The worker: an aiohttp application that runs passes for remote clients (``python main.py
serve``). Routes (all under ``/v1``; the protocol is in docs/API.md):

- ``GET /models``: the models this worker offers;
- ``POST /passes``: submit a pass (multipart, see :mod:`core.remote.protocol`) → its id and place;
- ``GET /passes/{id}``: its state; ``GET /passes/{id}/result``: the PNG with metadata;
- ``GET /passes/{id}/events``: a WebSocket of JSON messages and binary preview frames;
- ``POST /passes/{id}/cancel``.

Every route goes through :mod:`core.remote.access` (Host, Origin, token or Basic credentials;
protective headers on every answer) and one error middleware (every failure one line of JSON).
A submission is read part by part within the limits of :mod:`core.remote.upload`, decoded off
the event loop, and queued in a bounded :class:`~core.remote.jobs.JobQueue`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import WSMsgType, web

from core import __version__
from core.engine import Engine
from core.errors import UserError
from core.models import ModelSpec
from core.remote.a1111 import add_a1111_routes
from core.remote.access import (
    AccessPolicy,
    add_protective_headers,
    policy_middlewares,
    refusal,
)
from core.remote.jobs import Job, JobQueue, QueueFull
from core.remote.loopback import is_loopback
from core.remote.offered import OfferedModels, client_names
from core.remote.params_shape import parse_params
from core.remote.protocol import API_PREFIX, MAX_REQUEST_BYTES, decode_submission
from core.remote.upload import RequestTooLarge, check_pictures, read_parts

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
QUEUE = web.AppKey("queue", JobQueue)
OFFERED = web.AppKey("offered", OfferedModels)
SPEC = web.AppKey("spec", ModelSpec)
ACCESS = web.AppKey("access", AccessPolicy)
UPLOADS = web.AppKey("uploads", asyncio.Semaphore)
DECODING = web.AppKey("decoding", asyncio.Semaphore)
MAX_CLIENT_MESSAGE = 4096  # a client only ever sends {"type": "cancel"} on the WebSocket
MAX_UPLOADS = 4  # submissions read at once (each at most MAX_REQUEST_BYTES)
log = logging.getLogger(__name__)

__all__ = ["is_loopback", "make_app", "start_server", "worker_routes", "worker_token"]


class NotFound(UserError):
    """No such pass (HTTP 404)."""


def worker_token(host: str, token: str | None, no_token: bool = False) -> str:
    """The token the worker asks for: the given one, else a new one — none only when
    ``no_token`` is asked on loopback (UserError beyond it)."""
    if token:
        return token
    if no_token:
        if not is_loopback(host):
            raise UserError(f"--no-token is for loopback only; {host} is reachable from others")
        return ""
    return secrets.token_urlsafe(24)


def worker_routes() -> list[web.RouteDef]:
    """The worker protocol's routes (docs/API.md)."""
    return [
        web.get(f"{API_PREFIX}/health", _health),
        web.get(f"{API_PREFIX}/models", _models),
        web.post(f"{API_PREFIX}/passes", _submit),
        web.get(f"{API_PREFIX}/passes/{{id}}", _status),
        web.get(f"{API_PREFIX}/passes/{{id}}/result", _result),
        web.get(f"{API_PREFIX}/passes/{{id}}/events", _events),
        web.post(f"{API_PREFIX}/passes/{{id}}/cancel", _cancel),
    ]


def make_app(
    offered: OfferedModels,
    spec: ModelSpec,
    token: str = "",
    engine: Engine | None = None,
    access: AccessPolicy | None = None,
    queue: JobQueue | None = None,
) -> web.Application:
    """The worker application. ``spec`` carries the device, precision and memory mode every pass
    uses (its reference is replaced by the model each pass names). ``access`` (default: just
    ``token``) says who may call it; its checks and the protective headers apply to every
    route."""
    access = access or AccessPolicy(token=token)
    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES, middlewares=[_errors, *policy_middlewares(access)]
    )
    app.on_response_prepare.append(add_protective_headers)
    app[QUEUE] = queue or JobQueue(engine or Engine())
    app[OFFERED] = offered
    app[SPEC] = spec
    app[ACCESS] = access
    app[UPLOADS] = asyncio.Semaphore(MAX_UPLOADS)
    app[DECODING] = asyncio.Semaphore(1)
    app.add_routes(worker_routes())
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
    """Every failure is one line of JSON; nothing unexpected shows a traceback or a path."""
    try:
        return await handler(request)
    except RequestTooLarge as exc:
        return refusal(413, str(exc))
    except QueueFull as exc:
        response = refusal(429, str(exc))
        response.headers["Retry-After"] = "10"
        return response
    except NotFound as exc:
        return refusal(404, str(exc))
    except UserError as exc:  # ProtocolError and the request's own checks
        return refusal(400, str(exc))
    except web.HTTPRequestEntityTooLarge:
        return refusal(413, f"the request is over the {MAX_REQUEST_BYTES // 2**20} MB limit")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = refusal(exc.status, (exc.reason or "refused").lower())
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:  # a bug: logged here, one line there
        log.exception("unexpected error on %s %s", request.method, request.path)
        return refusal(500, "internal error (the worker's log has the details)")


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "version": __version__})


async def _models(request: web.Request) -> web.Response:
    return web.json_response({"models": request.app[OFFERED].listing()})


async def _submit(request: web.Request) -> web.Response:
    queue, offered = request.app[QUEUE], request.app[OFFERED]
    # 1. A full queue is refused before the body is read.
    queue.check_room()
    async with request.app[UPLOADS]:
        # 2. Part by part: unknown names, too many parts or bytes refused as they come.
        text, files = await read_parts(request)
        # 3. The params' shape, then the model, before any picture is looked at.
        params = parse_params(text)
        reference = offered.reference(params["model"])
        # 4. The pixel budget from the PNG headers; then decoding, off the event loop.
        pictures, pixels = check_pictures(params, files)
        del files
        async with request.app[DECODING]:
            submission = await asyncio.to_thread(decode_submission, params, pictures)
    checked = offered.checked(submission.request)
    spec = request.app[SPEC]
    model_spec = ModelSpec(reference, None, spec.device, spec.dtype, spec.memory)
    shown = offered.shown(submission.model)
    paths = {reference: shown, **client_names(submission.request, checked)}
    job = queue.submit(checked, model_spec, shown, paths, pixels)
    return web.json_response(job.status(queue.position(job)), status=201)


def _job(request: web.Request) -> Job:
    job = request.app[QUEUE].jobs.get(request.match_info["id"])
    if job is None:
        raise NotFound("no such pass")
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
    socket = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_CLIENT_MESSAGE)
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
            with contextlib.suppress(ValueError, AttributeError, RecursionError):
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
