"""``--lora``, ``--controlnet``/``--control`` and ``--ip-adapter``/``--reference`` options."""

from __future__ import annotations

import argparse
from typing import Any


def add_conditioning_options(p: argparse.ArgumentParser) -> None:
    """The conditioning options shared by generate, the workflows and batch."""


def conditioning_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``loras``, ``controls`` and ``references`` for a PassRequest, from the parsed options."""
    return {}
