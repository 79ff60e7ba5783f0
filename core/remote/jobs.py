"""The worker's queue: one engine, passes run one at a time on a worker thread, each pass's
messages kept for whoever follows it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from core.batch import encode_png
from core.engine import CancelToken, Engine
from core.errors import PassCancelled, UserError
from core.events import PassEvent, PassResult, StepPreview
from core.hashing import complete_model_hash
from core.models import ModelSpec
from core.remote.protocol import event_json, preview_png
from core.requests import PassRequest

FINAL_STATES = ("done", "failed", "cancelled")


@dataclass
class Job:
    """One submitted pass and everything it has reported (``messages``: JSON, preview PNG)."""

    id: str
    request: PassRequest
    spec: ModelSpec
    state: str = "queued"  # queued | running | done | failed | cancelled
    error: str = ""
    result_png: bytes | None = None
    messages: list[tuple[dict[str, Any], bytes | None]] = field(default_factory=list)
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
        return {"id": self.id, "state": self.state, "position": position, "error": self.error}


class JobQueue:
    """Submitted passes in order; :meth:`run` (a task on the server's loop) works through them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.jobs: dict[str, Job] = {}
        self._waiting: list[Job] = []
        self._ready = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="i2i-worker")

    def submit(self, request: PassRequest, spec: ModelSpec) -> Job:
        job = Job(uuid.uuid4().hex[:16], request, spec)
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
            job.state = "cancelled"
            job.publish({"type": "cancelled"})

    async def run(self) -> None:
        """Run passes one at a time until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            if not self._waiting:
                self._ready.clear()
                await self._ready.wait()
                continue
            job = self._waiting.pop(0)
            job.state = "running"
            job.publish({"type": "running"})
            try:
                result = await loop.run_in_executor(self._thread, self._run_pass, job, loop)
            except PassCancelled:
                job.state = "cancelled"
                job.publish({"type": "cancelled"})
            except Exception as exc:  # a user error or a crash: this pass fails, the worker goes on
                job.state, job.error = "failed", _one_line(exc)
                job.publish({"type": "failed", "message": job.error})
            else:
                job.state = "done"
                job.publish(finished_message(result))

    def _run_pass(self, job: Job, loop: asyncio.AbstractEventLoop) -> PassResult:
        def on_event(event: PassEvent) -> None:
            preview = None
            if isinstance(event, StepPreview) and event.image is not None:
                preview = preview_png(event.image)
            loop.call_soon_threadsafe(job.publish, event_json(event), preview)

        result = self.engine.run_pass(job.request, job.spec, on_event=on_event, cancel=job.token)
        record = complete_model_hash(result.record, cancel=job.token)
        job.result_png = encode_png(result.image, record)
        return result

    def close(self) -> None:
        for job in list(self._waiting):
            self.cancel(job)
        self.engine.cancel()
        with contextlib.suppress(Exception):
            self._thread.shutdown(wait=False, cancel_futures=True)


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


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if isinstance(exc, UserError) else f"{type(exc).__name__}: {line}"
