"""``generate``: one pass with a progress bar, or a workflow (passes, sweep, variations)."""

from __future__ import annotations

import argparse
import sys

from core.cli.common import (
    EXIT_OK,
    Progress,
    check_output_path,
    new_engine,
    print_summary,
    request_from_args,
    result_summary,
    sigint_cancels,
    spec_from_args,
)
from core.cli.generate_workflows import run_generate_workflow
from core.engine import CancelToken
from core.errors import UserError
from core.imaging import load_image
from core.metadata import write_png


def cmd_generate(args: argparse.Namespace) -> int:
    """One pass (or ``--passes``/``--sweep``/``--variations``), written atomically to OUT."""
    workflow = [name for name in ("passes", "sweep", "variations") if getattr(args, name)]
    if len(workflow) > 1:
        raise UserError("use only one of --passes, --sweep and --variations")
    # 1. Check everything the user gave before any model loads.
    if not workflow:
        out = check_output_path(
            args.output, [args.input, args.mask, args.strength_map], args.overwrite
        )
    image = load_image(args.input)
    request = request_from_args(args, image)
    spec = spec_from_args(args)
    if workflow:
        return run_generate_workflow(args, workflow[0], request, spec)
    # 2. Run the pass; Ctrl+C cancels within a step.
    engine, token, progress = new_engine(), CancelToken(), Progress()
    try:
        with sigint_cancels(token):
            result = engine.run_pass(request, spec, on_event=progress, cancel=token)
    finally:
        progress.close()
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    # 3. Write atomically (nothing appears at OUT on failure).
    out.parent.mkdir(parents=True, exist_ok=True)
    write_png(out, result.image, result.record, overwrite=args.overwrite)
    print_summary(args, [result_summary(result, out)])
    return EXIT_OK
