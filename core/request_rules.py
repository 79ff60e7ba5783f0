"""Two rules on a :class:`~core.requests.PassRequest` that the workflows and the batch core share:
tag a request with the workflow it belongs to, and refuse one that would run no step."""

from __future__ import annotations

from typing import Any

from core.errors import UserError
from core.requests import PassRequest


def tagged(request: PassRequest, workflow: dict[str, Any], **changes: Any) -> PassRequest:
    """``request`` with ``changes`` and ``extra["workflow"] = workflow`` (lands in the record)."""
    return request.replace(extra={**request.extra, "workflow": workflow}, **changes)


def check_runs_steps(request: PassRequest, consequence: str) -> PassRequest:
    """Validate ``request`` and refuse it (before anything loads) when it would run 0 steps."""
    request.validate()
    if request.strength_map is None and request.effective_steps == 0:
        raise UserError(
            f"strength {request.strength:.2f} × {request.steps} steps runs 0 "
            f"denoising steps: {consequence}"
        )
    return request
