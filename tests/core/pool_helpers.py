"""A stand-in engine for the Ray Serve pool tests: a pass with :data:`HANG_PROMPT` hangs in its
first step (as a wedged GPU would), every other pass runs as usual."""

from __future__ import annotations

import time

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
