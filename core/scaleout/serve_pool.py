"""``serve --ray``: the worker's passes on a Ray Serve pool, behind the same front door.

The aiohttp worker (:mod:`core.remote.server`) keeps its routes, token, Host/Origin rules, limits
and bounded queue; only where a pass runs changes: the front door's
:class:`~core.scaleout.pool_executor.ServePoolExecutor` sends each pass to a Ray Serve deployment
of ``PassReplica`` (one engine per model per replica, at most ``models_per_replica`` kept, loaded
through ``@serve.multiplexed`` so Serve routes a pass to a replica that has its model). The
replica streams the pass back — which replica runs it, loading, started, steps with their preview
PNG, then the result PNG or the error — and cancelling the stream sets the pass's cancel flag,
which the engine checks between steps. A replica whose pass has sent nothing for
``replica_timeout_s`` reports itself unhealthy (``check_health``), so Serve replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from core.engine import CancelToken, Engine
from core.errors import PassCancelled, UserError
from core.events import PassEvent
from core.models import ModelSpec
from core.remote.jobs import event_message, one_line, render_pass
from core.requests import PassRequest
from core.scaleout.pool_executor import DEFAULT_REPLICA_TIMEOUT_S, ServePoolExecutor
from core.scaleout.ray_batch import RayMissing, connect_ray

SERVE_HINT = (
    "--ray needs Ray Serve: pip install 'img2img-studio[ray]' (or pip install 'ray[serve]')"
)
APP_NAME = "img2img-pool"
Message = tuple[dict[str, Any], bytes | None]


@dataclass(frozen=True)
class PoolSettings:
    """The pool's shape: replicas (a fixed count when ``min_replicas == max_replicas``, else
    autoscaled between them on ongoing passes), what each replica holds and how many models,
    and how long a pass may send nothing before its replica counts as hung (0: never)."""

    min_replicas: int = 1
    max_replicas: int = 1
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    models_per_replica: int = 2
    replica_timeout_s: float = DEFAULT_REPLICA_TIMEOUT_S  # silence before a pass counts as hung

    @property
    def torch_threads(self) -> int:
        """Torch's threads in a replica: its whole CPUs, at least one. Two replicas each using
        every core of a machine would slow each other down; Ray's OMP_NUM_THREADS says the same
        only where the cluster's environment does not set it already."""
        return max(1, int(self.cpus_per_replica))

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


def replica_class(
    models_per_replica: int,
    replica_timeout_s: float = DEFAULT_REPLICA_TIMEOUT_S,
    engine_factory: Callable[[], Engine] = Engine,
    torch_threads: int = 1,
) -> type:
    """The deployment class, keeping at most ``models_per_replica`` engines (one per model, made
    by ``engine_factory``, running on ``torch_threads`` threads) and unhealthy while its pass
    has been silent over ``replica_timeout_s``."""
    ray, serve = import_serve()

    class PassReplica:
        """One Ray Serve replica: engines by model id, one pass at a time on a thread."""

        def __init__(self) -> None:
            self.replica = serve.get_replica_context().replica_id.unique_id
            self.actor = ray.get_runtime_context().current_actor  # to stop it when it hangs
            self.passes = PassThread(torch_threads)

        def check_health(self) -> None:
            """Serve's health check: a pass silent for too long (a hung step) fails it."""
            silent = self.passes.silent_for()
            if replica_timeout_s > 0 and silent > replica_timeout_s:
                raise RuntimeError(f"its pass has sent nothing for {silent:.0f} s")

        @serve.multiplexed(max_num_models_per_replica=models_per_replica)
        async def engine_for(self, model_id: str) -> Engine:
            return engine_factory()  # the model loads on its first pass (its loading events stream)

        async def run(
            self, request: PassRequest, spec: ModelSpec, paths: dict[str, str], model_id: str
        ) -> AsyncIterator[Message]:
            """The pass's messages: ``replica`` first (its id, process, torch threads and
            actor), the engine's events, then ``finished`` (with the result PNG), ``failed`` or
            ``cancelled``."""
            engine = await self.engine_for(serve.get_multiplexed_model_id())
            here = {"type": "replica", "replica": self.replica, "pid": os.getpid()}
            threads = await self.passes.torch_threads()
            yield {**here, "threads": threads, "actor": self.actor}, None
            async for message in self.passes.stream(engine, request, spec, paths, model_id):
                yield message

    return PassReplica


class PassThread:
    """A replica's passes, one at a time on a worker thread (torch on ``torch_threads`` threads
    there; None: torch's default), and when the running one last sent an event (its replica's
    sign of life)."""

    def __init__(self, torch_threads: int | None = None) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="i2i-replica")
        # First on the thread, so never stuck behind a pass (a hung one included).
        self._torch_threads = self._thread.submit(_use_torch_threads, torch_threads)
        self._last_sign: float | None = None  # None while no pass runs

    async def torch_threads(self) -> int:
        """How many threads torch runs the passes on."""
        return await asyncio.wrap_future(self._torch_threads)

    def silent_for(self) -> float:
        """Seconds since the running pass last sent an event (0 when none runs)."""
        last = self._last_sign
        return 0.0 if last is None else time.monotonic() - last

    async def stream(
        self,
        engine: Engine,
        request: PassRequest,
        spec: ModelSpec,
        paths: dict[str, str],
        model_id: str,
    ) -> AsyncIterator[Message]:
        """Run the pass on the thread, yielding its messages as they come; the caller going
        away (a cancelled stream) cancels the pass."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Message] = asyncio.Queue()
        token = CancelToken()

        def on_event(event: PassEvent) -> None:
            self._last_sign = time.monotonic()
            loop.call_soon_threadsafe(events.put_nowait, event_message(event))

        def run() -> tuple[dict[str, Any], bytes]:
            self._last_sign = time.monotonic()
            try:
                return render_pass(engine, request, spec, paths, model_id, on_event, token)
            finally:
                self._last_sign = None

        task = loop.run_in_executor(self._thread, run)
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


def _use_torch_threads(count: int | None) -> int:
    """Run torch on ``count`` threads (None: as it is) in the calling thread (and threads
    started after it); the count it runs on."""
    import torch

    if count:
        torch.set_num_threads(count)
    return torch.get_num_threads()


def pool_from_options(
    replicas: str | None,
    gpus_per_replica: float | None,
    models_per_replica: int,
    address: str | None,
    replica_timeout_s: float | None = None,
) -> ServePoolExecutor:
    """``serve --ray``'s options → a started pool (UserError for bad values, before Ray
    starts; RayMissing without Ray Serve)."""
    low_high = parse_replicas(replicas) if replicas else None
    if gpus_per_replica is not None and gpus_per_replica < 0:
        raise UserError(f"--gpus-per-replica must be 0 or more, got {gpus_per_replica}")
    if models_per_replica < 1:
        raise UserError(f"--models-per-replica must be at least 1, got {models_per_replica}")
    timeout = DEFAULT_REPLICA_TIMEOUT_S if replica_timeout_s is None else replica_timeout_s
    if timeout < 0:
        raise UserError(f"--replica-timeout must be 0 (never) or more seconds, got {timeout:g}")
    ray, _ = import_serve()
    started_here = connect_ray(ray, address)
    gpus = float(ray.cluster_resources().get("GPU", 0))
    per_replica = gpus_per_replica if gpus_per_replica is not None else (1.0 if gpus else 0.0)
    if low_high is None:
        count = max(1, int(gpus // per_replica)) if per_replica > 0 else 1
        low_high = (count, count)
    cpus = float(ray.cluster_resources().get("CPU", 1))
    per_cpu = 1.0 if per_replica > 0 else max(1.0, float(int(cpus // low_high[1])))
    settings = PoolSettings(*low_high, per_replica, per_cpu, models_per_replica, timeout)
    return start_pool(settings, address, stop_ray=started_here)


def start_pool(
    settings: PoolSettings,
    address: str | None = None,
    stop_ray: bool = False,
    engine_factory: Callable[[], Engine] = Engine,
) -> ServePoolExecutor:
    """Join (``address``: "auto", ``ray://host:10001``) or start Ray, deploy the pool (its
    replicas' engines made by ``engine_factory``) and return its executor, whose ``close``
    removes the pool (and stops Ray when started here or ``stop_ray``)."""
    ray, serve = import_serve()
    started_here = connect_ray(ray, address) or stop_ray
    try:
        serve.start(proxy_location="Disabled")
        deployment = serve.deployment(name="passes", **settings.deployment_options())
        replica = replica_class(
            settings.models_per_replica,
            settings.replica_timeout_s,
            engine_factory,
            settings.torch_threads,
        )
        app = deployment(replica).bind()
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

    return ServePoolExecutor(handle, settings.max_replicas, close, settings.replica_timeout_s)
