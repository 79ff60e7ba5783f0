"""What the workflow dialogs read and return: strength lists as text, and the settings types.

``parse_strengths`` / ``format_strengths`` are the text form of a strength list; ``steps_text``
and ``strengths_problem`` word how many denoising steps strengths run and why a list cannot run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.requests import effective_steps


def parse_strengths(text: str) -> list[float]:
    """Strengths separated by commas and/or spaces ("0.7, 0.4 0.2"), each between 0 and 1.

    Raises ValueError with a one-line reason for an empty list, a non-number or a value out of
    range.
    """
    tokens = [token for token in re.split(r"[,;\s]+", text.strip()) if token]
    if not tokens:
        raise ValueError("enter at least one strength, e.g. 0.7, 0.4, 0.2")
    values = []
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            raise ValueError(f"“{token}” is not a number") from None
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{token} is outside 0–1")
        values.append(value)
    return values


def format_strengths(values: Sequence[float]) -> str:
    """The text form of a strength list, as ``parse_strengths`` reads it: "0.7, 0.4, 0.2"."""
    return ", ".join(f"{value:g}" for value in values)


def steps_text(strength: float, steps: int) -> str:
    """How many denoising steps a strength runs: "0.70 → 21 steps"."""
    count = effective_steps(steps, strength)
    return f"{strength:.2f} → {count} step{'' if count == 1 else 's'}"


def strengths_problem(values: Sequence[float], steps: int, unique: bool = False) -> str | None:
    """Why ``values`` cannot run at ``steps`` (a 0-step entry, a duplicate), or None."""
    if not values:
        return "enter at least one strength"
    seen: set[float] = set()
    for number, value in enumerate(values, 1):
        if effective_steps(steps, value) == 0:
            return f"entry {number} ({value:.2f}) runs 0 of {steps} steps; raise it or the steps"
        rounded = round(value, 2)
        if unique and rounded in seen:
            return f"{rounded:.2f} is listed twice"
        seen.add(rounded)
    return None


@dataclass(frozen=True)
class MultipassSettings:
    strengths: tuple[float, ...]
    color_match: bool


@dataclass(frozen=True)
class SweepSettings:
    strengths: tuple[float, ...]
    seeds: int


@dataclass(frozen=True)
class VariationsSettings:
    count: int


@dataclass(frozen=True)
class UpscaleSettings:
    scale: float
    strength: float
    tile: int
    overlap: int
