"""For the Ray Serve pool tests: the local Ray instance and its two-replica pool, and a stand-in
engine whose pass with :data:`HANG_PROMPT` hangs in its first step (as a wedged GPU would), every
other pass running as usual."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from core.engine import CancelToken, Engine
from core.events import EventCallback, PassResult, StepPreview
from core.models import ModelSpec
from core.requests import PassRequest

HANG_PROMPT = "hang forever"


class HangingEngine(Engine):
    """:class:`Engine`, except that a pass prompted :data:`HANG_PROMPT` sends its first step and
    then sleeps for good, deaf to cancel."""

    def run_pass(
        self,
        request: PassRequest,
        spec: ModelSpec,
        on_event: EventCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PassResult:
        if request.prompt != HANG_PROMPT:
            return super().run_pass(request, spec, on_event=on_event, cancel=cancel)
        if on_event is not None:
            on_event(StepPreview(1, request.steps, 0.0, None))
        while True:
            time.sleep(60)


@contextmanager
def local_pool(engine_factory: Callable[[], Engine] = Engine) -> Iterator[Any]:
    """Two one-CPU replicas (torch on one thread each), one model each, on a fresh local Ray
    instance (2 CPUs, no dashboard, no auth); yields the pool's executor."""
    import ray
    from ray import serve

    from core.scaleout.serve_pool import PoolSettings, start_pool

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            settings = PoolSettings(2, 2, cpus_per_replica=1.0, models_per_replica=1)
            executor = start_pool(settings, engine_factory=engine_factory)
            yield executor
            executor.close()
        finally:
            serve.shutdown()
            ray.shutdown()
