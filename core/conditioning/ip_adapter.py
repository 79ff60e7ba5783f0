"""IP-Adapter references: the adapter and its image encoder loaded once, the reference images."""

from __future__ import annotations

from typing import Any


def reference_kwargs(run: Any, pipe: Any) -> dict[str, Any]:
    """Extra keyword arguments carrying the pass's reference images (empty without any)."""
    return {}
