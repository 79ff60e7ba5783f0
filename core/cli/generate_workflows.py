"""``generate --passes|--sweep|--variations``: a workflow's passes written next to ``OUT``.

``out.png`` → ``out-1.png``, ``out-s0.30-seed42.png`` and ``out-sheet.png``, ``out-v1.png``, each
as soon as its pass is done. Every output path is checked before anything runs; Ctrl+C keeps the
finished files and writes no partial one (exit 130).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.cli.common import (
    EXIT_CANCELLED,
    EXIT_OK,
    Progress,
    check_output_path,
    new_engine,
    print_summary,
    result_summary,
    sigint_cancels,
)
from core.engine import CancelToken
from core.errors import UserError
from core.metadata import write_png
from core.workflows.common import seed_list
from core.workflows.multipass import run_schedule
from core.workflows.sweep import run_sweep
from core.workflows.variations import run_variations


def run_generate_workflow(args, name: str, request, spec) -> int:
    """Run ``generate`` with ``--passes``, ``--sweep`` or ``--variations`` (``name``)."""
    # 1. Plan and check every output path before anything runs.
    plan = _plan(name, args, request)
    inputs = [args.input, args.mask, args.strength_map]
    for path in plan.paths:
        check_output_path(path, inputs, args.overwrite)
    # 2. Run; each pass is written as soon as it is done.
    engine, token, progress = new_engine(), CancelToken(), Progress()
    writer = _Writer(args, plan)

    def on_progress(update) -> None:
        progress.label = update.label

    try:
        with sigint_cancels(token):
            extra = plan.run(engine, request, spec, progress, writer, on_progress, token)
    finally:
        progress.close()
    if token.cancelled:
        print(f"cancelled: kept {len(writer.items)} finished file(s)", file=sys.stderr)
        return EXIT_CANCELLED
    if extra is not None:
        path = plan.paths[-1]
        _write(path, extra, {"kind": "contact-sheet", "workflow": writer.sheet_info}, args)
    _report(args, name, writer.items, plan.paths[-1] if extra is not None else None)
    return EXIT_OK


class _Plan:
    def __init__(self, paths: list[Path], run) -> None:
        self.paths, self.run = paths, run


def _plan(name: str, args, request) -> _Plan:
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise UserError(f"output must be a .png file (metadata is stored as PNG text): {out}")
    stem = out.with_suffix("")
    if name == "passes":
        paths = [Path(f"{stem}-{k}.png") for k in range(1, len(args.passes) + 1)]
        return _Plan(paths, lambda *a: _run_passes(args, *a))
    if name == "variations":
        if args.variations < 1:
            raise UserError(f"--variations must be at least 1, got {args.variations}")
        seeds = seed_list(request.seed, args.variations)
        paths = [Path(f"{stem}-v{k}.png") for k in range(1, len(seeds) + 1)]
        return _Plan(paths, lambda *a: _run_variations(seeds, *a))
    seeds = seed_list(request.seed, args.seeds)
    paths = [Path(f"{stem}-s{s:.2f}-seed{seed}.png") for seed in seeds for s in args.sweep]
    if len(set(paths)) != len(paths):
        raise UserError("--sweep lists the same strength twice (to 2 decimals)")
    paths.append(Path(f"{stem}-sheet.png"))
    return _Plan(paths, lambda *a: _run_sweep(args, seeds, *a))


class _Writer:
    """Writes each finished pass to its planned path (atomically) and keeps its summary."""

    def __init__(self, args, plan: _Plan) -> None:
        self.args, self.plan = args, plan
        self.items: list[dict] = []
        self.sheet_info: dict = {}

    def __call__(self, index: int, result, parent: str | None = None) -> None:
        path = self.plan.paths[index - 1]
        record = dict(result.record)
        if parent is not None:
            record["parent"] = parent
        _write(path, result.image, record, self.args)
        self.items.append(result_summary(result, path))


def _write(path: Path, image, record: dict, args) -> None:
    write_png(path, image, record, overwrite=args.overwrite)


def _run_passes(args, engine, request, spec, progress, writer, on_progress, token):
    names = [Path(args.input).name] + [p.name for p in writer.plan.paths]
    color_match = args.color_match is not False
    run_schedule(
        engine,
        request,
        spec,
        args.passes,
        color_match=color_match,
        on_event=progress,
        on_pass=lambda k, r: writer(k, r, parent=names[k - 1]),
        on_progress=on_progress,
        cancel=token,
    )


def _run_variations(seeds, engine, request, spec, progress, writer, on_progress, token):
    run_variations(
        engine,
        request,
        spec,
        len(seeds),
        seeds=seeds,
        on_event=progress,
        on_pass=writer,
        on_progress=on_progress,
        cancel=token,
    )


def _run_sweep(args, seeds, engine, request, spec, progress, writer, on_progress, token):
    sweep = run_sweep(
        engine,
        request,
        spec,
        args.sweep,
        seeds,
        on_event=progress,
        on_pass=writer,
        on_progress=on_progress,
        cancel=token,
    )
    if sweep.cancelled or not sweep.complete:
        return None
    writer.sheet_info = {
        "type": "sweep",
        "group": sweep.group,
        "strengths": sweep.strengths,
        "seeds": sweep.seeds,
        "cells": [p.name for p in writer.plan.paths[:-1]],
    }
    return sweep.sheet()


def _report(args, name: str, items: list[dict], sheet: Path | None) -> None:
    if args.json:
        print(
            json.dumps({"workflow": name, "outputs": items, "sheet": str(sheet) if sheet else None})
        )
        return
    print_summary(args, items)
    if sheet is not None:
        print(f"wrote {sheet} (contact sheet)")
