"""A pool's hung replicas (``serve --ray``) without a Ray instance: a replica whose pass has sent
nothing for longer than its timeout reports itself unhealthy, so Ray Serve replaces it; the front
door abandons such a pass with one line — but not while the pass waits for a replica, nor ever
with a timeout of 0 — and retries one that never started on its replica."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from core.errors import PassCancelled
from core.events import StepPreview
from core.models import ModelSpec
from core.remote.jobs import Job
from core.requests import PassRequest
from core.scaleout import pool_executor
from core.scaleout.pool_executor import HUNG, RETRIED, ServePoolExecutor, WorkerHung
from core.scaleout.serve_pool import PassThread
from tests.tiny_models.images import make_image

pytest.importorskip("ray.serve")


class StuckEngine:
    """Sends one step, then waits (deaf to cancel) until the test lets it go."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def run_pass(self, request: PassRequest, spec: ModelSpec, on_event: Any, cancel: Any) -> Any:
        on_event(StepPreview(1, 4, 0.0, None))
        self.release.wait(30)
        raise PassCancelled()


def test_a_replica_whose_pass_goes_silent_reports_itself_unhealthy():
    from core.scaleout.serve_pool import replica_class

    check_health = replica_class(1, replica_timeout_s=0.3).check_health
    engine, passes = StuckEngine(), PassThread()
    replica = SimpleNamespace(passes=passes)
    request = PassRequest(make_image(8, 8), prompt="x", steps=4)

    async def scenario() -> list[str]:
        stream = passes.stream(engine, request, ModelSpec("m"), {}, "m")  # type: ignore[arg-type]
        kinds = [(await anext(stream))[0]["type"]]  # the step: a sign of life
        check_health(replica)
        await asyncio.sleep(0.5)
        with pytest.raises(RuntimeError, match="sent nothing for"):
            check_health(replica)
        engine.release.set()
        kinds += [message["type"] async for message, _ in stream]
        return kinds

    assert asyncio.run(scenario()) == ["step", "cancelled"]
    check_health(replica)  # no pass runs: healthy
    assert passes.silent_for() == 0.0


class ScriptedStream:
    """A Serve response stream that sends (delay, message) pairs, then stays silent."""

    def __init__(self, script: list[tuple[float, dict[str, Any]]]) -> None:
        self.script, self.cancelled = list(script), False

    def __aiter__(self) -> ScriptedStream:
        return self

    async def __anext__(self) -> tuple[dict[str, Any], bytes | None]:
        if not self.script:
            await asyncio.sleep(3600)
        delay, message = self.script.pop(0)
        await asyncio.sleep(delay)
        return message, b"png" if message["type"] == "finished" else None

    def cancel(self) -> None:
        self.cancelled = True


class ScriptedHandle:
    """A deployment handle whose n-th call streams the n-th script."""

    def __init__(self, *scripts: list[tuple[float, dict[str, Any]]]) -> None:
        self.streams = [ScriptedStream(script) for script in scripts]
        self.calls = 0

    def options(self, **_options: Any) -> ScriptedHandle:
        return self

    @property
    def run(self) -> ScriptedHandle:
        return self

    def remote(self, *_args: Any) -> ScriptedStream:
        self.calls += 1
        return self.streams[self.calls - 1]


REPLICA = {"type": "replica", "replica": "r1", "actor": None}
STEP = {"type": "step", "step": 1, "total": 4, "elapsed": 0.0, "preview": False}
FINISHED = {"type": "finished", "note": ""}


def _execute(handle: ScriptedHandle, timeout: float) -> tuple[dict[str, Any], Job]:
    job = Job("j", PassRequest(make_image(8, 8), prompt="x"), ModelSpec("m"))
    executor = ServePoolExecutor(handle, 1, replica_timeout_s=timeout)
    return asyncio.run(executor.execute(job)), job


@pytest.fixture
def stopped(monkeypatch) -> list[dict[str, Any]]:
    """The replicas the front door stops (their ``replica`` messages)."""
    replicas: list[dict[str, Any]] = []
    monkeypatch.setattr(pool_executor, "stop_replica", replicas.append)
    return replicas


def test_a_pass_silent_past_the_timeout_fails_with_one_line_and_its_replica_is_stopped(stopped):
    handle = ScriptedHandle([(0, REPLICA), (0, STEP), (5, FINISHED)])
    with pytest.raises(WorkerHung) as failure:
        _execute(handle, timeout=0.2)
    assert str(failure.value) == HUNG.format(seconds=0.2)
    assert handle.streams[0].cancelled and stopped == [REPLICA]
    assert handle.calls == 1  # not retried: it had started


def test_waiting_for_a_replica_is_not_a_hang_and_a_timeout_of_0_waits_for_ever(stopped):
    waits = ScriptedHandle([(0.4, REPLICA), (0, STEP), (0, FINISHED)])
    assert _execute(waits, timeout=0.2)[0]["type"] == "finished"
    slow = ScriptedHandle([(0, REPLICA), (0, STEP), (0.4, FINISHED)])
    assert _execute(slow, timeout=0)[0]["type"] == "finished"
    assert not stopped


def test_a_pass_that_never_started_on_its_silent_replica_is_retried_on_another(stopped):
    handle = ScriptedHandle([(0, REPLICA)], [(0, REPLICA), (0, STEP), (0, FINISHED)])
    finished, job = _execute(handle, timeout=0.2)
    assert finished["note"] == RETRIED and job.result_png == b"png" and handle.calls == 2
    assert stopped == [REPLICA]
    assert [m["type"] for m, _ in job.messages] == ["replica", "retried", "replica", "step"]
