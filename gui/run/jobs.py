"""What a worker runs: one pass (:class:`PassJob`) or a workflow (:class:`WorkflowJob`).

Every job carries its request and the :class:`ModelSpec` it runs on, and its ``run(engine,
calls)`` runs it on the worker thread. A workflow's own options and how the window files its
passes are a :class:`Workflow` (one class per workflow, in gui.run.workflow_jobs) whose ``run``
names its ``core.workflows`` function directly, imported inside the method: the workflow modules
load torch, and ``run`` is only called on the worker thread.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from core.events import PassEvent, PassResult
from core.model_spec import ModelSpec
from core.requests import PassRequest


@dataclass(frozen=True)
class JobCallbacks:
    """How a running job reports: the engine's events, each finished pass of a workflow
    (``on_pass(index, result)``, 1-based), a workflow's progress per unit
    (core.workflows.common.WorkflowProgress) and the cancel token (core.engine.CancelToken)
    the engine checks between steps."""

    on_event: Callable[[PassEvent], None]
    on_pass: Callable[[int, PassResult], None]
    on_progress: Callable[[Any], None]
    cancel: Any

    def each_pass(self) -> dict[str, Any]:
        """The keyword arguments of a workflow that reports each pass (multi-pass, sweep…)."""
        return {**self.one_result(), "on_pass": self.on_pass}

    def one_result(self) -> dict[str, Any]:
        """The keyword arguments of a workflow with one outcome (upscale, outpaint, faces)."""
        return {"on_event": self.on_event, "on_progress": self.on_progress, "cancel": self.cancel}


@dataclass(frozen=True)
class PassJob:
    """One pass: the request and the model it runs on; the outcome is its PassResult."""

    request: PassRequest
    spec: ModelSpec

    def run(self, engine: Any, calls: JobCallbacks) -> Any:
        return engine.run_pass(
            self.request, self.spec, on_event=calls.on_event, cancel=calls.cancel
        )


class Filing(enum.Enum):
    """How the window files a workflow's passes in the history."""

    EACH_PASS = "each pass"  # every pass as it finishes (``Workflow.chains``: one after another)
    ONE_RESULT = "one result"  # the outcome is one pass: filed, and made the input
    FILES_ONLY = "files only"  # it writes files; nothing goes into the history
    APART = "apart"  # its starter files what it keeps (candidates, Generate fixing faces)


class Workflow(ABC):
    """A workflow's own options (the fields of a frozen dataclass subclass) and how the window
    treats it (the class attributes). ``run`` calls its ``core.workflows`` function."""

    kind: ClassVar[str]  # its name in the controller's signals ("sweep", "batch"…)
    filing: ClassVar[Filing] = Filing.EACH_PASS
    noun: ClassVar[str] = "passes"  # "3 passes finished"
    chains: ClassVar[bool] = False  # each pass is the child of the one before; the last applied
    shows_previews: ClassVar[bool] = True  # False: its previews are other pictures (tiles, items)
    needs_image: ClassVar[bool] = True  # False (batch): runs without an open picture

    def check(self) -> None:
        """Raise UserError when the options cannot run (before anything is submitted)."""
        return None

    def prepare(self, request: PassRequest) -> PassRequest:
        """The request it runs from the window's (e.g. without the painted mask)."""
        return request

    def message(self) -> str:
        """The status-bar text while it starts."""
        return f"{self.kind.capitalize()}…"

    def group_id(self) -> str | None:
        """The group its passes share in the history (None: no group)."""
        return None

    def grid(self, request: PassRequest) -> tuple[list[float], list[int]] | None:
        """The strengths and seeds of a contact sheet laid out before it runs, or None."""
        return None

    def pass_name(self, index: int, result: PassResult) -> str:
        """The history name of its ``index``-th pass (Filing.EACH_PASS)."""
        return f"Pass {index} · seed {result.seed}"

    def result_name(self, outcome: PassResult) -> str:
        """The history name of its one result (Filing.ONE_RESULT)."""
        return self.kind.capitalize()

    @abstractmethod
    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        """Run it on the worker thread and return its outcome."""


@dataclass(frozen=True)
class WorkflowJob:
    """A workflow to run from ``request`` on ``spec``; its outcome is what ``workflow.run``
    returns (a list of results, a sweep, a report…)."""

    request: PassRequest
    spec: ModelSpec
    workflow: Workflow

    def run(self, engine: Any, calls: JobCallbacks) -> Any:
        return self.workflow.run(engine, self.request, self.spec, calls)


Job = PassJob | WorkflowJob
