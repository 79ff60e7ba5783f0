"""Run one pass: img2img, inpaint (whole or only masked) and differential (regional strength)."""

from core.engine.cancel import CancelToken
from core.engine.engine import Engine
from core.engine.memory import OutOfMemory

__all__ = ["CancelToken", "Engine", "OutOfMemory"]
