"""Headless commands: ``generate``, ``info``, ``upscale``, ``batch``, ``outpaint``, ``diff``.

User mistakes exit 2 with one ``error: …`` line on stderr and write nothing; Ctrl+C stops within a
step and leaves no partial file (exit 130).
"""

from __future__ import annotations

import sys

from core.cli.common import EXIT_CANCELLED, EXIT_USAGE
from core.cli.parser import build_parser
from core.errors import PassCancelled, UserError


def main(argv: list[str] | None = None) -> int:
    """Run one headless command; returns the process exit code."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (PassCancelled, KeyboardInterrupt):
        print("cancelled: no output written", file=sys.stderr)
        return EXIT_CANCELLED
