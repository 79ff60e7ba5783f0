"""``info IMAGE``: the generation parameters stored in a PNG (ours or A1111's)."""

from __future__ import annotations

import argparse
import json

from core.cli.common import EXIT_OK
from core.metadata import format_summary, read_metadata


def cmd_info(args: argparse.Namespace) -> int:
    """Print the stored parameters as a summary (or JSON with ``--json``)."""
    meta = read_metadata(args.image)
    if args.json:
        print(json.dumps(meta, indent=2, default=str))
    else:
        print(format_summary(meta))
    return EXIT_OK
