"""The worker queue over a stand-in executor (no model): passes start in order, as many at once as
the executor runs, and a pass that waits behind a running one starts when that one ends."""

from __future__ import annotations

import asyncio
from typing import Any

from core.models import ModelSpec
from core.remote.jobs import Job, JobQueue
from core.requests import PassRequest
from tests.tiny_models.images import make_image


class GatedExecutor:
    """Each pass runs until the test opens its gate."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.gates: dict[str, asyncio.Event] = {}
        self.started: list[str] = []

    async def execute(self, job: Job) -> dict[str, Any]:
        self.started.append(job.id)
        gate = self.gates.setdefault(job.id, asyncio.Event())
        await gate.wait()
        job.result_png = b"png"
        return {"type": "finished", "note": ""}

    def close(self) -> None:
        pass


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def _submit(queue: JobQueue) -> Job:
    request = PassRequest(make_image(8, 8), prompt="x", steps=1)
    return queue.submit(request, ModelSpec("tiny", device="cpu"))


def _scenario(concurrency: int) -> tuple[list[list[str]], list[str], list[Job]]:
    async def run() -> tuple[list[list[str]], list[str], list[Job]]:
        executor = GatedExecutor(concurrency)
        queue = JobQueue(executor=executor)
        runner = asyncio.create_task(queue.run())
        jobs = [_submit(queue) for _ in range(3)]
        seen = []
        try:
            for job in jobs:
                await _settle()
                seen.append(list(executor.started))
                executor.gates.setdefault(job.id, asyncio.Event()).set()
            await _settle()
        finally:
            runner.cancel()
        return seen, executor.started, jobs

    return asyncio.run(run())


def test_a_waiting_pass_starts_when_the_running_one_ends():
    seen, started, jobs = _scenario(concurrency=1)
    ids = [job.id for job in jobs]
    assert seen == [ids[:1], ids[:2], ids[:3]]  # one at a time, each after the one before
    assert started == ids and all(job.state == "done" for job in jobs)


def test_an_executor_of_two_runs_two_passes_at_once():
    seen, started, jobs = _scenario(concurrency=2)
    ids = [job.id for job in jobs]
    assert seen[0] == ids[:2] and started == ids
    assert all(job.state == "done" for job in jobs)
