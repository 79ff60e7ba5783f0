"""Denoise-strength presets from the img2img guide's quick-reference table (Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """A named denoise strength with the range the guide recommends for that use."""

    name: str
    strength: float
    low: float
    high: float
    description: str

    @property
    def tooltip(self) -> str:
        span = f"{self.low:.2f}–{self.high:.2f}"
        return f"{self.description} — denoise {span} (sets {self.strength:.2f})"


PRESETS: tuple[Preset, ...] = (
    Preset("Minor refinement", 0.25, 0.2, 0.3, "Subtle changes only"),
    Preset("Gentle style transfer", 0.45, 0.4, 0.5, "Recognizable but transformed"),
    Preset("Strong style transfer", 0.65, 0.6, 0.7, "Major aesthetic change"),
    Preset("Sketch to art", 0.8, 0.7, 0.9, "Significant generation"),
    Preset("Variations", 0.55, 0.5, 0.6, "Similar but different"),
    Preset("Face preservation", 0.35, 0.3, 0.4, "Keep identity intact"),
    Preset("Complete reimagining", 0.9, 0.8, 1.0, "Near txt2img freedom"),
)


def preset_named(name: str) -> Preset:
    """The preset called ``name``; raises KeyError for an unknown name."""
    for preset in PRESETS:
        if preset.name == name:
            return preset
    raise KeyError(name)


def matching_preset(strength: float) -> Preset | None:
    """The preset whose strength equals ``strength`` (to two decimals), if any."""
    for preset in PRESETS:
        if abs(preset.strength - strength) < 0.005:
            return preset
    return None
