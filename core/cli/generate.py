"""``generate``: one pass with a progress bar, or a workflow (passes, sweep, variations)."""

from __future__ import annotations

import argparse

from core.cli.common import (
    check_output_path,
    request_from_args,
    session,
    spec_from_args,
    write_result,
)
from core.cli.faces import face_settings_from_args
from core.cli.generate_workflows import run_generate_workflow
from core.cli.serve import run_on_worker
from core.errors import UserError
from core.imaging import load_image
from core.workflows.faces import with_faces_fixed


def cmd_generate(args: argparse.Namespace) -> int:
    """One pass (or ``--passes``/``--sweep``/``--variations``), written atomically to OUT."""
    workflow = [name for name in ("passes", "sweep", "variations") if getattr(args, name)]
    if len(workflow) > 1:
        raise UserError("use only one of --passes, --sweep and --variations")
    if getattr(args, "worker", None):  # the pass runs on a generation worker
        return run_on_worker(args, workflow)
    if workflow and args.fix_faces:
        raise UserError(f"--fix-faces works on a single pass or a batch, not with --{workflow[0]}")
    # 1. Check everything the user gave before any model loads.
    if not workflow:
        out = check_output_path(
            args.output, [args.input, args.mask, args.strength_map], args.overwrite
        )
    image = load_image(args.input)
    request = request_from_args(args, image)
    spec = spec_from_args(args)
    faces = face_settings_from_args(args) if args.fix_faces else None
    if workflow:
        return run_generate_workflow(args, workflow[0], request, spec)
    # 2. Run the pass; Ctrl+C cancels within a step.
    with session() as run:
        result = run.engine.run_pass(request, spec, on_event=run.progress, cancel=run.token)
        if faces is not None:
            run.progress.label = "fix faces"
            result = with_faces_fixed(
                run.engine, spec, result, faces, on_event=run.progress, cancel=run.token
            )
    # 3. Write atomically (nothing appears at OUT on failure).
    return write_result(args, result, out)
