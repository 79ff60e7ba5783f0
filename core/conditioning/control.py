"""ControlNet control layers: control images, the ControlNet pipeline variant, its arguments."""

from __future__ import annotations

from typing import Any


def control_call(run: Any, pipe: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The pipeline to call (a ControlNet variant when the pass has control layers) and the
    extra keyword arguments for it."""
    return pipe, {}
