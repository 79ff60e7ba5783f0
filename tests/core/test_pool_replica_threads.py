"""A pool replica (``serve --ray``) runs torch on its CPU share, whatever the process's default
or the cluster's OMP_NUM_THREADS: two replicas each using every core of a machine slow each
other down."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import torch

from core.models import ModelSpec
from core.requests import PassRequest
from core.scaleout.serve_pool import PassThread, PoolSettings
from tests.tiny_models.images import make_image


class ThreadCountingEngine:
    """Records torch's thread count where its pass runs, then fails the pass."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def run_pass(self, request: PassRequest, spec: ModelSpec, on_event: Any, cancel: Any) -> Any:
        self.threads.append(torch.get_num_threads())
        raise RuntimeError("counted")


@pytest.mark.parametrize(("cpus", "threads"), [(0.5, 1), (1.0, 1), (2.0, 2), (3.5, 3)])
def test_a_replicas_torch_threads_are_its_whole_cpus_at_least_one(cpus, threads):
    assert PoolSettings(2, 2, cpus_per_replica=cpus).torch_threads == threads


@pytest.mark.parametrize("threads", [1, 3])  # 3: more than this machine's default, on CI too
def test_a_replicas_passes_run_on_its_torch_threads(threads):
    engine, passes = ThreadCountingEngine(), PassThread(threads)
    request = PassRequest(make_image(8, 8), prompt="x", steps=2)

    async def scenario() -> tuple[int, list[str]]:
        reported = await passes.torch_threads()  # what the replica's first message says
        stream = passes.stream(engine, request, ModelSpec("m"), {}, "m")  # type: ignore[arg-type]
        return reported, [message["type"] async for message, _ in stream]

    default = torch.get_num_threads()
    try:
        reported, kinds = asyncio.run(scenario())
        assert torch.get_num_threads() == default  # the caller's own thread keeps its count
    finally:
        torch.set_num_threads(default)  # threads started later follow the last count set
    assert kinds == ["failed"] and engine.threads == [threads] and reported == threads
