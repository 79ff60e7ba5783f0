"""The worker's queue: passes run in order on a :class:`PassExecutor` (by default
:class:`LocalExecutor`: one engine, one pass at a time on a worker thread; ``serve --ray``: a Ray
Serve pool, as many at once as it has replicas), each pass's messages kept for whoever follows it.

Bounded: at most ``max_waiting`` passes wait (QueueFull beyond, HTTP 429); a pass that ends drops
its input pictures at once, and ended passes are forgotten after ``keep_s`` seconds or when more
than ``max_kept`` have ended (the oldest first). What a pass reports names no server path
(:mod:`core.remote.redact`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.batch import encode_png
from core.engine import CancelToken, Engine
from core.errors import PassCancelled, UserError
from core.events import PassEvent, PassResult, StepPreview
from core.hashing import complete_model_hash
from core.models import ModelSpec
from core.remote.protocol import event_json, preview_png
from core.remote.redact import public_record, without_paths
from core.requests import PassRequest

FINAL_STATES = ("done", "failed", "cancelled")
MAX_WAITING = 16
MAX_WAITING_PIXELS = 200_000_000  # every waiting pass's pictures together (decoded, in memory)
KEEP_ENDED_S = 15 * 60.0
MAX_KEPT = 64


class QueueFull(UserError):
    """The worker's queue is full (HTTP 429)."""


@dataclass
class Job:
    """One submitted pass and everything it has reported (``messages``: JSON, preview PNG)."""

    id: str
    request: PassRequest | None  # None once the pass has ended (its pictures dropped)
    spec: ModelSpec
    model_id: str = ""  # the id the client named (in place of the server's reference)
    paths: dict[str, str] = field(default_factory=dict)  # server path → what clients see
    pixels: int = 0  # its pictures' pixels, while it holds them
    state: str = "queued"  # queued | running | done | failed | cancelled
    ended_at: float | None = None
    error: str = ""
    result_png: bytes | None = None
    messages: list[tuple[dict[str, Any], bytes | None]] = field(default_factory=list)
    replica: str = ""  # on a pool: the replica that runs (ran) it
    token: CancelToken = field(default_factory=CancelToken)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, message: dict[str, Any], preview: bytes | None = None) -> None:
        """Add a message (on the event loop) and wake the followers. Only the latest preview
        is kept."""
        if preview is not None:
            self.messages = [(m, None) for m, _ in self.messages]
        self.messages.append((message, preview))
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self) -> AsyncIterator[tuple[dict[str, Any], bytes | None]]:
        """Every message from the first, then each new one, until the pass ends."""
        sent = 0
        while True:
            changed = self._changed
            while sent < len(self.messages):
                yield self.messages[sent]
                sent += 1
            if self.state in FINAL_STATES:
                return
            await changed.wait()

    def status(self, position: int | None) -> dict[str, Any]:
        status = {"id": self.id, "state": self.state, "position": position, "error": self.error}
        return {**status, "replica": self.replica} if self.replica else status

    def end(self, state: str, message: dict[str, Any], error: str = "") -> None:
        """The pass has ended: its state and last message; its input pictures are dropped."""
        self.state, self.error, self.request, self.pixels = state, error, None, 0
        self.ended_at = time.monotonic()
        self.messages = [(m, None) for m, _ in self.messages]  # and its last preview
        self.publish(message)

    def public(self, message: dict[str, Any]) -> dict[str, Any]:
        """``message`` naming the model by the client's id and no server path."""
        if message.get("type") == "loading":
            reference = self.paths.get(message["reference"], "")
            message = {
                **message,
                "reference": reference or without_paths(message["reference"], self.paths),
                "message": without_paths(message["message"], self.paths),
            }
        elif message.get("type") == "finished":
            message = {**message, "note": without_paths(message["note"], self.paths)}
        return message


class PassExecutor(Protocol):
    """Where the queue's passes run."""

    concurrency: int  # passes it runs at once

    async def execute(self, job: Job) -> dict[str, Any]:
        """Run ``job``'s pass (on the event loop's side: publish its events on ``job``, set
        ``job.result_png``) and return its ``finished`` message; raise PassCancelled or the
        pass's error."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """One engine in this process; its passes run one at a time on a worker thread."""

    concurrency = 1

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="i2i-worker")

    async def execute(self, job: Job) -> dict[str, Any]:
        loop = asyncio.get_running_loop()

        def on_event(event: PassEvent) -> None:
            message, preview = event_message(event)
            loop.call_soon_threadsafe(job.publish, job.public(message), preview)

        def run() -> dict[str, Any]:
            assert job.request is not None  # it has not ended
            message, job.result_png = render_pass(
                self.engine, job.request, job.spec, job.paths, job.model_id, on_event, job.token
            )
            return message

        return await loop.run_in_executor(self._thread, run)

    def close(self) -> None:
        self.engine.cancel()
        with contextlib.suppress(Exception):
            self._thread.shutdown(wait=False, cancel_futures=True)


class JobQueue:
    """Submitted passes in order; :meth:`run` (a task on the server's loop) works through them,
    as many at once as its executor runs."""

    def __init__(
        self,
        engine: Engine | None = None,
        max_waiting: int = MAX_WAITING,
        keep_s: float = KEEP_ENDED_S,
        max_kept: int = MAX_KEPT,
        max_waiting_pixels: int = MAX_WAITING_PIXELS,
        executor: PassExecutor | None = None,
    ) -> None:
        self.executor = executor or LocalExecutor(engine or Engine())
        self.max_waiting, self.keep_s, self.max_kept = max_waiting, keep_s, max_kept
        self.max_waiting_pixels = max_waiting_pixels
        self.jobs: dict[str, Job] = {}
        self._waiting: list[Job] = []
        self._running: set[asyncio.Task[None]] = set()
        self._ready = asyncio.Event()

    def check_room(self, pixels: int = 0) -> None:
        """Raise QueueFull when no more passes (or no pass of ``pixels`` more) may wait."""
        if len(self._waiting) >= self.max_waiting:
            raise QueueFull(f"the worker's queue is full ({self.max_waiting} passes wait)")
        held = sum(job.pixels for job in self._waiting)
        if self._waiting and held + pixels > self.max_waiting_pixels:
            raise QueueFull("the worker's queue is full (its waiting pictures fill its memory)")

    def submit(
        self,
        request: PassRequest,
        spec: ModelSpec,
        model_id: str = "",
        paths: dict[str, str] | None = None,
        pixels: int = 0,
    ) -> Job:
        """Queue a pass (QueueFull when the queue is full)."""
        self.evict()
        self.check_room(pixels)
        job = Job(uuid.uuid4().hex[:16], request, spec, model_id, dict(paths or {}), pixels)
        self.jobs[job.id] = job
        self._waiting.append(job)
        job.publish({"type": "queued", "position": self.position(job)})
        self._ready.set()
        return job

    def position(self, job: Job) -> int | None:
        """How many passes run before it (0: next or running), None once it has ended."""
        if job.state == "running":
            return 0
        return self._waiting.index(job) if job in self._waiting else None

    def cancel(self, job: Job) -> None:
        """A queued pass leaves the queue; a running one stops within a step."""
        job.token.cancel()
        if job in self._waiting:
            self._waiting.remove(job)
            job.end("cancelled", {"type": "cancelled"})

    def evict(self) -> None:
        """Forget ended passes older than ``keep_s``, and the oldest beyond ``max_kept``."""
        now = time.monotonic()
        ended = sorted(
            (job for job in self.jobs.values() if job.ended_at is not None),
            key=lambda job: job.ended_at or 0.0,
        )
        extra = len(ended) - self.max_kept
        for i, job in enumerate(ended):
            if i < extra or now - (job.ended_at or now) > self.keep_s:
                del self.jobs[job.id]

    async def run(self) -> None:
        """Start passes in order, at most ``executor.concurrency`` at once, until cancelled."""
        try:
            while True:
                if not self._waiting or len(self._running) >= self.executor.concurrency:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                job = self._waiting.pop(0)
                self._running.add(asyncio.create_task(self._run_job(job)))
        finally:
            for task in list(self._running):
                task.cancel()

    async def _run_job(self, job: Job) -> None:
        job.state = "running"
        job.publish({"type": "running"})
        try:
            finished = await self.executor.execute(job)
        except PassCancelled:
            job.end("cancelled", {"type": "cancelled"})
        except asyncio.CancelledError:  # the worker is stopping
            job.end("cancelled", {"type": "cancelled"})
            raise
        except Exception as exc:  # a user error or a crash: this pass fails, the worker goes on
            error = without_paths(one_line(exc), job.paths)
            job.end("failed", {"type": "failed", "message": error}, error)
        else:
            job.end("done", job.public(finished))
        finally:  # its slot is free before run() looks again
            self._running.discard(asyncio.current_task())
            self._ready.set()
        self.evict()

    def close(self) -> None:
        for job in list(self._waiting):
            self.cancel(job)
        for job in self.jobs.values():
            if job.state == "running":
                job.token.cancel()
        self.executor.close()


def event_message(event: PassEvent) -> tuple[dict[str, Any], bytes | None]:
    """A pass event as its JSON message and, for a step with a preview, the preview PNG."""
    preview = None
    if isinstance(event, StepPreview) and event.image is not None:
        preview = preview_png(event.image)
    return event_json(event), preview


def render_pass(
    engine: Engine,
    request: PassRequest,
    spec: ModelSpec,
    paths: dict[str, str],
    model_id: str,
    on_event: Callable[[PassEvent], None],
    cancel: CancelToken,
) -> tuple[dict[str, Any], bytes]:
    """Run one pass on ``engine``: its ``finished`` message (server paths still in it) and its
    PNG, whose record names the model by ``model_id`` and no server path."""
    result = engine.run_pass(request, spec, on_event=on_event, cancel=cancel)
    record = complete_model_hash(result.record, cancel=cancel)
    named = {**paths, spec.reference: model_id or "default"}
    png = encode_png(result.image, public_record(record, named))
    return finished_message(result), png


def finished_message(result: PassResult) -> dict[str, Any]:
    """The ``finished`` message: what a client needs besides the result PNG."""
    return {
        "type": "finished",
        "seed": result.seed,
        "effective_steps": result.effective_steps,
        "duration": result.duration,
        "model_name": result.model_name,
        "model_hash": result.model_hash,
        "skipped": result.skipped,
        "note": result.note,
    }


def one_line(exc: BaseException) -> str:
    """``exc`` as one line: its text for a user error, else its type and first line."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if isinstance(exc, UserError) else f"{type(exc).__name__}: {line}"


def request_pixels(request: PassRequest) -> int:
    """The pixels of every picture a request holds while it waits (the queue's budget)."""
    pictures = [request.image, request.mask, request.strength_map]
    pictures += [layer.image for layer in request.controls]
    pictures += [ref.image for ref in request.references]
    pictures += [region.mask for region in request.regions]
    return sum(p.width * p.height for p in pictures if p is not None)
