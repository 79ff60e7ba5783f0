"""``serve --ray``: the worker's passes on a Ray Serve pool, behind the same front door.

The aiohttp worker (:mod:`core.remote.server`) keeps its routes, token, Host/Origin rules, limits
and bounded queue; only where a pass runs changes: :class:`ServePoolExecutor` sends each pass to a
Ray Serve deployment of :class:`PassReplica` (one engine per model per replica, at most
``models_per_replica`` kept, loaded through ``@serve.multiplexed`` so Serve routes a pass to a
replica that has its model). The replica streams the pass back — which replica runs it, loading,
started, steps with their preview PNG, then the result PNG or the error — and cancelling the
stream sets the pass's cancel flag, which the engine checks between steps. A replica that dies
mid-pass fails that pass with one line (:data:`STOPPED`); Serve starts another in its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from core.engine import CancelToken, Engine
from core.errors import PassCancelled, UserError
from core.events import PassEvent
from core.models import ModelSpec
from core.remote.jobs import Job, event_message, one_line, render_pass
from core.requests import PassRequest
from core.scaleout.ray_batch import RayMissing, connect_ray

SERVE_HINT = (
    "--ray needs Ray Serve: pip install 'img2img-studio[ray]' (or pip install 'ray[serve]')"
)
STOPPED = "the worker that ran this pass stopped; nothing was written"
APP_NAME = "img2img-pool"
CANCEL_POLL_S = 0.1
Message = tuple[dict[str, Any], bytes | None]


class PassFailed(UserError):
    """The pass failed on its replica (its one-line error)."""


class WorkerStopped(UserError):
    """The replica that ran the pass died before it ended."""


@dataclass(frozen=True)
class PoolSettings:
    """The pool's shape: replicas (a fixed count when ``min_replicas == max_replicas``, else
    autoscaled between them on ongoing passes), what each replica holds and how many models."""

    min_replicas: int = 1
    max_replicas: int = 1
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    models_per_replica: int = 2

    def deployment_options(self) -> dict[str, Any]:
        """``serve.deployment`` options: one pass at a time per replica (one engine, one GPU)."""
        resources = {"num_cpus": self.cpus_per_replica, "num_gpus": self.gpus_per_replica}
        options: dict[str, Any] = {"max_ongoing_requests": 1, "ray_actor_options": resources}
        if self.min_replicas == self.max_replicas:
            options["num_replicas"] = self.min_replicas
        else:
            options["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": 1,
            }
        return options


def parse_replicas(text: str) -> tuple[int, int]:
    """``N`` or ``MIN-MAX`` → (min, max); UserError for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not match:
        raise UserError(f"--replicas wants N or MIN-MAX (e.g. 2 or 1-4), got {text!r}")
    low = int(match[1])
    high = int(match[2]) if match[2] is not None else low
    if high < 1 or low > high:
        raise UserError(f"--replicas {text}: at least one replica, and MIN no more than MAX")
    return low, high


def import_serve() -> tuple[ModuleType, ModuleType]:
    """``ray`` and ``ray.serve``, or :class:`RayMissing`."""
    try:
        import ray
        import ray.serve as serve
    except ImportError:
        raise RayMissing(SERVE_HINT) from None
    return ray, serve


def replica_class(models_per_replica: int) -> type:
    """The deployment class, keeping at most ``models_per_replica`` engines (one per model)."""
    _, serve = import_serve()

    class PassReplica:
        """One Ray Serve replica: engines by model id, one pass at a time on a thread."""

        def __init__(self) -> None:
            self.replica = serve.get_replica_context().replica_id.unique_id
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="i2i-replica")

        @serve.multiplexed(max_num_models_per_replica=models_per_replica)
        async def engine_for(self, model_id: str) -> Engine:
            return Engine()  # the model loads on its first pass (its loading events stream)

        async def run(
            self, request: PassRequest, spec: ModelSpec, paths: dict[str, str], model_id: str
        ) -> AsyncIterator[Message]:
            """The pass's messages: ``replica`` first, the engine's events, then ``finished``
            (with the result PNG), ``failed`` or ``cancelled``."""
            engine = await self.engine_for(serve.get_multiplexed_model_id())
            yield {"type": "replica", "replica": self.replica, "pid": os.getpid()}, None
            async for message in _stream_pass(self._thread, engine, request, spec, paths, model_id):
                yield message

    return PassReplica


async def _stream_pass(
    thread: ThreadPoolExecutor,
    engine: Engine,
    request: PassRequest,
    spec: ModelSpec,
    paths: dict[str, str],
    model_id: str,
) -> AsyncIterator[Message]:
    """Run the pass on ``thread``, yielding its messages as they come; the caller going away
    (a cancelled stream) cancels the pass."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[Message] = asyncio.Queue()
    token = CancelToken()

    def on_event(event: PassEvent) -> None:
        loop.call_soon_threadsafe(events.put_nowait, event_message(event))

    def run() -> tuple[dict[str, Any], bytes]:
        return render_pass(engine, request, spec, paths, model_id, on_event, token)

    task = loop.run_in_executor(thread, run)
    try:
        while not task.done() or not events.empty():
            if events.empty():
                waiter = asyncio.ensure_future(events.get())
                racing: set[asyncio.Future[Any]] = {waiter, task}
                await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
                if not waiter.done():
                    waiter.cancel()
                    continue
                yield waiter.result()
            else:
                yield events.get_nowait()
        try:
            finished, png = await task
        except PassCancelled:
            yield {"type": "cancelled"}, None
        except Exception as exc:  # the pass's own error: one line, the replica goes on
            yield {"type": "failed", "message": one_line(exc)}, None
        else:
            yield finished, png
    finally:
        token.cancel()  # a no-op once the pass has ended; else the caller cancelled it


class ServePoolExecutor:
    """The front door's :class:`~core.remote.jobs.PassExecutor` for a Ray Serve pool."""

    def __init__(self, handle: Any, concurrency: int, on_close: Any = None) -> None:
        self.handle = handle
        self.concurrency = concurrency
        self._on_close = on_close
        self._stopped_errors = _stopped_errors()

    async def execute(self, job: Job) -> dict[str, Any]:
        handle = self.handle.options(stream=True, multiplexed_model_id=job.spec.reference)
        stream = handle.run.remote(job.request, job.spec, job.paths, job.model_id)
        watcher = asyncio.create_task(_cancel_when_asked(job, stream))
        try:
            async for message, data in stream:
                kind = message.get("type")
                if kind == "replica":
                    job.replica = str(message["replica"])
                    job.publish({"type": "replica", "replica": job.replica})
                elif kind == "finished":
                    job.result_png = data
                    return message
                elif kind == "failed":
                    raise PassFailed(str(message["message"]))
                elif kind == "cancelled":
                    raise PassCancelled()
                else:
                    job.publish(job.public(message), data)
        except self._stopped_errors:
            if job.token.cancelled:
                raise PassCancelled() from None
            raise WorkerStopped(STOPPED) from None
        finally:
            watcher.cancel()
        raise WorkerStopped(STOPPED)  # the stream ended without an end message

    def close(self) -> None:
        """Remove the pool (once)."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


async def _cancel_when_asked(job: Job, stream: Any) -> None:
    """Cancel ``stream`` once the pass's cancel flag is set (the replica's pass stops)."""
    while not job.token.cancelled:
        await asyncio.sleep(CANCEL_POLL_S)
    stream.cancel()


def _stopped_errors() -> tuple[type[BaseException], ...]:
    """Ray's errors for a replica (or its node) that went away, and for a cancelled request
    (Serve's RequestCancelledError is a TaskCancelledError)."""
    import ray.exceptions as errors

    names = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "TaskCancelledError")
    found = tuple(getattr(errors, name, None) for name in names)
    return tuple(kind for kind in found if isinstance(kind, type))


def pool_from_options(
    replicas: str | None,
    gpus_per_replica: float | None,
    models_per_replica: int,
    address: str | None,
) -> ServePoolExecutor:
    """``serve --ray``'s options → a started pool (UserError for bad values, before Ray
    starts; RayMissing without Ray Serve)."""
    low_high = parse_replicas(replicas) if replicas else None
    if gpus_per_replica is not None and gpus_per_replica < 0:
        raise UserError(f"--gpus-per-replica must be 0 or more, got {gpus_per_replica}")
    if models_per_replica < 1:
        raise UserError(f"--models-per-replica must be at least 1, got {models_per_replica}")
    ray, _ = import_serve()
    started_here = connect_ray(ray, address)
    gpus = float(ray.cluster_resources().get("GPU", 0))
    per_replica = gpus_per_replica if gpus_per_replica is not None else (1.0 if gpus else 0.0)
    if low_high is None:
        count = max(1, int(gpus // per_replica)) if per_replica > 0 else 1
        low_high = (count, count)
    cpus = float(ray.cluster_resources().get("CPU", 1))
    per_cpu = 1.0 if per_replica > 0 else max(1.0, float(int(cpus // low_high[1])))
    settings = PoolSettings(*low_high, per_replica, per_cpu, models_per_replica)
    return start_pool(settings, address, stop_ray=started_here)


def start_pool(
    settings: PoolSettings, address: str | None = None, stop_ray: bool = False
) -> ServePoolExecutor:
    """Join (``address``: "auto", ``ray://host:10001``) or start Ray, deploy the pool and return
    its executor, whose ``close`` removes the pool (and stops Ray when started here or
    ``stop_ray``)."""
    ray, serve = import_serve()
    started_here = connect_ray(ray, address) or stop_ray
    try:
        serve.start(proxy_location="Disabled")
        deployment = serve.deployment(name="passes", **settings.deployment_options())
        app = deployment(replica_class(settings.models_per_replica)).bind()
        handle = serve.run(app, name=APP_NAME, route_prefix=None)
    except Exception:
        if started_here:
            ray.shutdown()
        raise

    def close() -> None:
        if started_here:  # the whole instance goes (it may be gone already: Ctrl+C reaches it)
            ray.shutdown()
            return
        with contextlib.suppress(Exception):  # a cluster we joined keeps running without us
            serve.delete(APP_NAME)

    return ServePoolExecutor(handle, settings.max_replicas, close)
