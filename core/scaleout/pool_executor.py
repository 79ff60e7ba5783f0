"""The front door's side of ``serve --ray``: :class:`ServePoolExecutor` sends each pass of the
worker's queue to the Ray Serve pool (:mod:`core.scaleout.serve_pool`) and follows its stream.

Faults: a replica that dies before its pass ended (nothing is written before the result arrives)
gets the pass retried once on another replica, or the restarted one, with a ``retried`` message
and the result's note saying so; a second death fails the pass with :data:`STOPPED`. A pass the
user cancelled is never retried. A replica that sends nothing for ``replica_timeout_s`` once it
has the pass (a hung step) is stopped — Serve starts another in its place — and the pass fails
with one line, freeing its slot; when the pass had not started there (the replica was still stuck
in an earlier, cancelled pass) it counts as a death: retried.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from core.errors import PassCancelled, UserError
from core.remote.jobs import Job

STOPPED = "the worker that ran this pass stopped; nothing was written"
RETRIED = "the worker that ran this pass stopped; retried on another"
HUNG = (
    "the worker that ran this pass sent nothing for {seconds:g} s; it was stopped and nothing "
    "was written"
)
DEFAULT_REPLICA_TIMEOUT_S = 600.0
CANCEL_POLL_S = 0.1
Message = tuple[dict[str, Any], bytes | None]


class PassFailed(UserError):
    """The pass failed on its replica (its one-line error)."""


class WorkerStopped(UserError):
    """The replica that ran the pass died before it ended, twice."""


class WorkerHung(UserError):
    """The replica that ran the pass sent nothing for too long."""


class ReplicaLost(Exception):
    """The replica went away before the pass ended (or the stream was cancelled)."""


class ServePoolExecutor:
    """The front door's :class:`~core.remote.jobs.PassExecutor` for a Ray Serve pool:
    ``concurrency`` passes at once, a pass abandoned after ``replica_timeout_s`` of silence
    (0: never). ``replicas`` holds what each replica that ran a pass said of itself (its
    ``pid`` and torch ``threads``), by replica id."""

    def __init__(
        self,
        handle: Any,
        concurrency: int,
        on_close: Any = None,
        replica_timeout_s: float = DEFAULT_REPLICA_TIMEOUT_S,
    ) -> None:
        self.handle = handle
        self.concurrency = concurrency
        self.replica_timeout_s = replica_timeout_s
        self.replicas: dict[str, dict[str, Any]] = {}
        self._on_close = on_close
        self._stopped_errors = _stopped_errors()

    async def execute(self, job: Job) -> dict[str, Any]:
        try:
            return await self._attempt(job)
        except ReplicaLost:
            if job.token.cancelled:
                raise PassCancelled() from None
        job.publish({"type": "retried", "message": RETRIED})
        try:
            finished = await self._attempt(job)
        except ReplicaLost:
            if job.token.cancelled:
                raise PassCancelled() from None
            raise WorkerStopped(STOPPED) from None
        note = "; ".join(text for text in (finished.get("note", ""), RETRIED) if text)
        return {**finished, "note": note}

    async def _attempt(self, job: Job) -> dict[str, Any]:
        """One try on a replica: its ``finished`` message, PassCancelled, PassFailed,
        WorkerHung, or ReplicaLost when the replica went away first."""
        assert job.request is not None  # it has not ended
        handle = self.handle.options(stream=True, multiplexed_model_id=job.spec.reference)
        stream = handle.run.remote(job.request, job.spec, job.paths, job.model_id)
        watcher = asyncio.create_task(_cancel_when_asked(job, stream))
        messages = stream.__aiter__()
        replica: dict[str, Any] | None = None
        heard = False  # from the pass itself (loading, started, steps)
        try:
            while True:
                message, data = await self._next(messages, replica, stream, heard)
                kind = message.get("type")
                heard = heard or kind != "replica"
                if kind == "replica":
                    replica = message
                    job.replica = str(message["replica"])
                    self.replicas[job.replica] = {k: message.get(k) for k in ("pid", "threads")}
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
        except StopAsyncIteration:  # the stream ended without an end message
            raise ReplicaLost() from None
        except self._stopped_errors:
            raise ReplicaLost() from None
        finally:
            watcher.cancel()

    async def _next(
        self,
        messages: AsyncIterator[Message],
        replica: dict[str, Any] | None,
        stream: Any,
        heard: bool,
    ) -> Message:
        """The stream's next message; once a replica has the pass, at most
        ``replica_timeout_s`` later, else that replica is stopped and WorkerHung raised — or
        ReplicaLost when the pass never started there (the replica was still stuck in an
        earlier pass, one cancelled while hung)."""
        timeout = self.replica_timeout_s
        if replica is None or timeout <= 0:  # waiting for a replica (one may be starting)
            return await anext(messages)
        try:
            return await asyncio.wait_for(anext(messages), timeout)
        except TimeoutError:
            stream.cancel()
            await asyncio.to_thread(stop_replica, replica)
            if not heard:
                raise ReplicaLost() from None
            raise WorkerHung(HUNG.format(seconds=timeout)) from None

    def close(self) -> None:
        """Remove the pool (once)."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


def stop_replica(replica: dict[str, Any]) -> None:
    """Kill the replica of a ``replica`` message (its actor handle), so that Ray Serve starts
    another in its place and hands it no more passes; nothing when it is gone already."""
    import ray

    with contextlib.suppress(Exception):
        ray.kill(replica["actor"], no_restart=True)


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
