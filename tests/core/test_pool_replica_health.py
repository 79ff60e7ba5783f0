"""A pool replica's health check (``serve --ray``), without Ray: a replica whose pass has sent
nothing for longer than its timeout (a hung step) reports itself unhealthy, so Ray Serve replaces
it; one whose pass sends events, or that runs none, is healthy."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from core.errors import PassCancelled
from core.events import StepPreview
from core.models import ModelSpec
from core.requests import PassRequest
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
