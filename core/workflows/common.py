"""What the workflows share: progress reports with an ETA, seeds, group ids (request tagging
and the no-step check are in :mod:`core.request_rules`)."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.engine import CancelToken
from core.errors import UserError
from core.progress import eta_seconds
from core.requests import MAX_SEED, PassRequest


@dataclass(frozen=True)
class WorkflowProgress:
    """Unit ``index`` of ``total`` (1-based) of a workflow.

    ``status`` is ``"running"`` when the unit starts, then ``"done"``, ``"skipped"`` or
    ``"failed"``. ``eta`` (seconds) is None until one unit has finished.
    """

    workflow: str  # "multipass", "sweep", "variations", "upscale", "batch"
    index: int
    total: int
    status: str
    label: str = ""
    elapsed: float = 0.0
    eta: float | None = None
    message: str = ""


ProgressCallback = Callable[[WorkflowProgress], None]


class ProgressClock:
    """Reports :class:`WorkflowProgress`; the ETA is the mean time of finished work units."""

    def __init__(self, workflow: str, total: int, callback: ProgressCallback | None) -> None:
        self.workflow, self.total, self.callback = workflow, total, callback
        self.started = time.perf_counter()
        self._work_seconds = 0.0
        self._worked = 0
        self._unit_started = self.started

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def eta(self, remaining: int) -> float | None:
        return eta_seconds(self._worked, self._worked + remaining, self._work_seconds)

    def start(self, index: int, label: str = "") -> None:
        self._unit_started = time.perf_counter()
        self._report(index, "running", label, "")

    def finish(
        self,
        index: int,
        status: str = "done",
        label: str = "",
        message: str = "",
        worked: bool = True,
    ) -> None:
        if worked:
            self._work_seconds += time.perf_counter() - self._unit_started
            self._worked += 1
        self._report(index, status, label, message)

    def _report(self, index: int, status: str, label: str, message: str) -> None:
        if self.callback is None:
            return
        remaining = self.total - index + (1 if status == "running" else 0)
        self.callback(
            WorkflowProgress(
                self.workflow,
                index,
                self.total,
                status,
                label,
                self.elapsed,
                self.eta(remaining),
                message,
            )
        )


def pick_seed(seed: int | None) -> int:
    """``seed``, or a random one when None."""
    return seed if seed is not None else random.randint(0, MAX_SEED)


def seed_list(base: int | None, count: int) -> list[int]:
    """``count`` consecutive seeds from ``base`` (random when None), wrapping at MAX_SEED."""
    if count < 1:
        raise UserError(f"the number of seeds must be at least 1, got {count}")
    start = pick_seed(base)
    return [(start + i) % (MAX_SEED + 1) for i in range(count)]


def new_group_id() -> str:
    """A short id that ties the passes of one sweep / variations / batch run together."""
    return uuid.uuid4().hex[:12]


def token_for(cancel: CancelToken | None) -> CancelToken:
    return cancel if cancel is not None else CancelToken()


def check_strengths(request: PassRequest, strengths: Sequence[float], what: str) -> list[float]:
    """Validate every strength before anything loads; refuse ones that would run 0 steps."""
    values = [float(s) for s in strengths]
    if not values:
        raise UserError(f"the {what} needs at least one strength")
    if request.strength_map is not None:
        raise UserError(f"a {what} varies the global strength; it cannot use a strength map")
    for number, strength in enumerate(values, 1):
        try:
            candidate = request.replace(strength=strength).validate()
        except UserError as exc:
            raise UserError(f"{what} entry {number}: {exc}") from None
        if candidate.effective_steps == 0:
            raise UserError(
                f"{what} entry {number} (strength {strength:.2f} × {request.steps} steps) would "
                "run 0 denoising steps; raise its strength or the step count"
            )
    return values
