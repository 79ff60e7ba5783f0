"""Memory modes: how a loaded pipeline is placed on the device (offload, tiling, fp8 storage).

``auto`` chooses from free VRAM/RAM and the model's size; the others are user overrides.
"""

from __future__ import annotations

from typing import Any

from core.requests import MEMORY_MODES

__all__ = ["MEMORY_MODES", "apply_memory_mode"]


def apply_memory_mode(pipe: Any, requested: str, device: str) -> str:
    """Apply ``requested`` (one of MEMORY_MODES) to ``pipe`` and return the mode in use."""
    return "none"
