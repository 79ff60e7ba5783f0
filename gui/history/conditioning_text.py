"""What a pass used besides its prompt, as lines for its history card's tooltip: LoRAs, control
layers, references and edit references from the pass record (``loras``, ``controls``,
``references``, ``edit_references``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "?"


def _items(params: dict, key: str) -> list[dict]:
    value = params.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _short(reference: Any) -> str:
    text = str(reference or "")
    return Path(text).stem if text.endswith(".safetensors") else text.rsplit("/", 1)[-1]


def conditioning_lines(params: dict) -> list[str]:
    """One line per LoRA, control layer, reference and edit reference a pass used (none: an
    empty list)."""
    lines = []
    for lora in _items(params, "loras"):
        name = lora.get("name") or _short(lora.get("path"))
        lines.append(f"LoRA {name} × {_number(lora.get('weight'))}")
    for number, layer in enumerate(_items(params, "controls"), 1):
        kind, model = layer.get("kind", "?"), _short(layer.get("model"))
        start, end = layer.get("start", 0.0), layer.get("end", 1.0)
        line = f"Control {number}: {kind} × {_number(layer.get('strength'))}"
        line += f", {_number(start)}–{_number(end)}" + (f" ({model})" if model else "")
        if layer.get("enabled") is False:
            line += " (off)"
        lines.append(line)
    for number, ref in enumerate(_items(params, "references"), 1):
        mode = ref.get("mode") or "standard"
        model = _short(ref.get("model"))
        line = f"Reference {number}: × {_number(ref.get('scale'))}"
        line += (f" {mode}" if mode != "standard" else "") + (f" ({model})" if model else "")
        lines.append(line)
    for number, ref in enumerate(_items(params, "edit_references"), 2):  # image 1: the picture
        lines.append(f"Edit reference: image {number} ({ref.get('width')}×{ref.get('height')})")
    return lines
