"""``models list|download ID|scan DIR|remove ID``: the model manager on the command line."""

from __future__ import annotations

import argparse


def add_models_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``models`` command."""
