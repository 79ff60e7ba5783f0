"""Runs passes on a remote generation worker (``python main.py serve``): a
:class:`gui.run.worker_base.Worker` like the local :class:`gui.run.worker.PassWorker` (the same
signals, tickets, errors and shutdown), so the runner and the window treat both alike: step
previews, cancel and results into the history.

Threads: the async client (core.remote.client, aiohttp) runs on an asyncio loop of its own on
one background thread, not on the window's qasync loop (gui.window.app). That keeps the local
worker's rules: previews and results are decoded and turned into QImages (and the history
thumbnail) off the GUI thread; a slow or hung socket never stalls the GUI; and it works the same
whichever loop drives the window (qasync in the app, plain Qt in tests and embedders). Signals
are emitted from that thread and reach the GUI thread queued, as the local worker's do from its
QThread. The client is imported there too, on first use, so the window starts as fast as ever.

Jobs run one at a time, in the order submitted; a cancel reaches queued jobs, and the running
pass's cancel flag makes the client cancel it on the worker. Workflows are refused in one line
(they run on the local worker). When a pass fails the worker is asked for its models: if
nothing answers, ``connection_changed`` says "unreachable" and the worker is tried again with
backoff (``RECONNECT_DELAYS_S``) until it answers, so the next pass finds it; the window's
session is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from core.errors import PassCancelled, UserError
from gui.params.worker_choice import WorkerConnection
from gui.run.jobs import Job, PassJob
from gui.run.worker_base import Ticket, Worker, one_line

if TYPE_CHECKING:  # imported on the loop thread when first needed
    from core.remote.client import WorkerClient

RECONNECT_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # then every 30 s
SHUTDOWN_GRACE_S = 2.0  # closing: how long a cancelled pass may take to end on the worker
WORKFLOWS_RUN_LOCALLY = (
    "Workflows run on the local worker: switch the model panel to Local to run them."
)
NO_URL = "Give the worker's URL in the model panel (Remote worker) and press Connect."

Target = tuple[str, str]  # url, token ("" for none)


@dataclass(eq=False)
class _RemoteTicket(Ticket):
    """A submitted job and the worker it goes to."""

    target: Target = ("", "")


class RemoteWorker(Worker):
    """Lives on the GUI thread; ``configure`` names the worker, ``submit`` queues a job there.

    The signals are :class:`Worker`'s (``pass_done`` and ``progress`` never come: workflows run
    locally); ``connection_changed`` reports the worker's state.
    """

    connection_changed = Signal(object)  # gui.params.worker_choice.WorkerConnection

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._target: Target = ("", "")
        self._loop: asyncio.AbstractEventLoop | None = None  # made with its thread, on first use
        self._thread: threading.Thread | None = None
        # Loop thread only:
        self._client: WorkerClient | None = None
        self._client_target: Target | None = None
        self._one_at_a_time: asyncio.Lock | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None  # after a failed pass: is it still there?

    # -- called from the GUI thread ---------------------------------------------------------
    @property
    def target(self) -> Target:
        """The worker the next jobs go to: (URL, token), "" where not given."""
        return self._target

    def configure(self, url: str, token: str = "") -> None:
        """Send the next jobs to the worker at ``url`` (``http://host:port``) with ``token``."""
        self._target = (url.strip().rstrip("/"), token.strip())
        if self._thread is not None:
            self._call(self._stop_reconnecting())

    def check(self) -> None:
        """Ask the worker for its models; ``connection_changed`` answers (and retries while
        nothing answers)."""
        target = self._target
        self.connection_changed.emit(WorkerConnection(target[0], checking=True))
        self._call(self._check(target))

    def disconnect_worker(self) -> None:
        """Stop retrying and close the connection (back to the local worker)."""
        if self._thread is not None:
            self._call(self._close_client())

    def _ticket(self, job: Job) -> Ticket:
        return _RemoteTicket(job, target=self._target)

    def _dispatch(self, ticket: Ticket) -> None:
        self._call(self._run(ticket))

    def _stop_thread(self) -> None:
        if self._thread is None:
            self._gui.thread_finished()
        else:
            self._call(self._close())

    def _wait_thread(self, wait_ms: int) -> None:
        if self._thread is not None:
            self._thread.join(wait_ms / 1000)

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            loop = self._loop
            self._thread = threading.Thread(
                target=self._serve, args=(loop,), name="RemoteWorker", daemon=True
            )
            self._thread.start()
        asyncio.run_coroutine_threadsafe(coro, self._loop)

    # -- loop thread ----------------------------------------------------------------------------
    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.close()
            with contextlib.suppress(RuntimeError):  # the Qt side is already gone
                self._thread_ended.emit()

    async def _run(self, ticket: Ticket) -> None:
        if self._one_at_a_time is None:
            self._one_at_a_time = asyncio.Lock()
        async with self._one_at_a_time:
            await self._run_one(ticket)

    async def _run_one(self, ticket: Ticket) -> None:
        job, cancel = ticket.job, None
        target = ticket.target if isinstance(ticket, _RemoteTicket) else ("", "")
        try:
            # 1. A job cancelled while it waited never starts; workflows stay local.
            self._ended = False
            if self._was_cancelled(ticket):
                raise PassCancelled
            if not isinstance(job, PassJob):
                raise UserError(WORKFLOWS_RUN_LOCALLY)
            if not target[0]:
                raise UserError(NO_URL)
            from core.engine.cancel import CancelToken  # a plain flag: no torch

            cancel = CancelToken()
            self._begin(ticket, cancel)
            # 2. Run the pass on the worker (its model by the spec's reference: one the worker
            # offers); its events arrive through handle_event.
            client = await self._client_for(target)
            result = await client.run_pass(
                job.spec.reference, job.request, self.handle_event, cancel
            )
            self._end(self.finished, result)  # its QImages made here, shown at once like local
        except PassCancelled:
            self._end(self.cancelled)
        except UserError as exc:
            if cancel is not None and cancel.cancelled:  # cancelled while the worker was lost
                self._end(self.cancelled)
            else:
                self._end_with_error(exc)
            if isinstance(job, PassJob) and target[0]:  # lost it? say so, and retry
                self._probe = asyncio.create_task(self._check(target))
        except Exception as exc:  # never let a client bug take the app down
            self._end_with_error(exc)
        finally:
            self._close_ticket(ticket)

    async def _client_for(self, target: Target) -> WorkerClient:
        from core.remote.token_file import local_token

        # No token typed: a worker on this computer is asked with the one in its token file
        # (read again each time: a restarted worker has a new one).
        stale = not target[1] and self._client and self._client.token != local_token(target[0])
        if self._client is None or self._client_target != target or stale:
            from core.remote.client import WorkerClient

            await self._close_client()
            self._client = WorkerClient(target[0], target[1] or None)
            self._client_target = target
        return self._client

    async def _contact(self, target: Target) -> WorkerConnection:
        """Ask the worker at ``target`` for its models: what it said, as a connection state."""
        if not target[0]:
            return WorkerConnection("", error="no worker URL given", reachable=True)
        try:
            listing = await (await self._client_for(target)).models()
        except UserError as exc:
            return WorkerConnection(target[0], error=one_line(exc), reachable=_answered(exc))
        models = tuple((str(m.get("name") or m["id"]), str(m["id"])) for m in listing)
        return WorkerConnection(target[0], models=models)

    async def _check(self, target: Target) -> None:
        await self._stop_reconnecting()
        connection = await self._contact(target)
        if connection.reachable:
            self.connection_changed.emit(connection)
        elif not self._shut_down:
            self._reconnecting = asyncio.create_task(self._reconnect(target, connection))

    async def _reconnect(self, target: Target, lost: WorkerConnection) -> None:
        """Try the worker again after each delay until something answers."""
        attempt = 0
        while True:
            delay = RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)]
            self.connection_changed.emit(replace(lost, retry_in_s=delay))
            await asyncio.sleep(delay)
            lost = await self._contact(target)
            if lost.reachable:
                self.connection_changed.emit(lost)
                return
            attempt += 1

    async def _stop_reconnecting(self) -> None:
        task, self._reconnecting = self._reconnecting, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _close_client(self) -> None:
        await self._stop_reconnecting()
        client, self._client, self._client_target = self._client, None, None
        if client is not None:
            await client.close()

    async def _close(self) -> None:
        """Let a cancelled pass end on the worker (briefly), close the connection, stop."""
        if self._probe is not None:
            self._probe.cancel()
        if self._one_at_a_time is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._one_at_a_time.acquire(), SHUTDOWN_GRACE_S)
        await self._close_client()
        asyncio.get_running_loop().stop()


def _answered(exc: UserError) -> bool:
    """Whether the worker answered (a refusal, a failed pass) rather than could not be reached:
    the client raises its WorkerError from the aiohttp error of a lost connection."""
    import aiohttp  # loaded by the client already

    return not isinstance(exc.__context__, aiohttp.ClientError | TimeoutError)
