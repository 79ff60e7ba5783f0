"""``generate --passes|--sweep|--variations``: a workflow's passes written next to ``OUT``.

``out.png`` → ``out-1.png``, ``out-s0.30-seed42.png`` and ``out-sheet.png``, ``out-v1.png``, each
as soon as its pass is done. Every output path is checked before anything runs; Ctrl+C keeps the
finished files and writes no partial one (exit 130).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image

from core.cli.common import (
    EXIT_CANCELLED,
    EXIT_OK,
    Session,
    check_output_path,
    print_summary,
    result_summary,
    session,
)
from core.errors import UserError
from core.events import PassResult
from core.hashing import complete_model_hash
from core.metadata import write_png
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.common import seed_list
from core.workflows.multipass import run_schedule
from core.workflows.sweep import run_sweep
from core.workflows.variations import run_variations

Sheet = tuple[Image.Image, dict[str, Any]]  # an extra picture written last, with its record


def run_generate_workflow(
    args: argparse.Namespace, name: str, request: PassRequest, spec: ModelSpec
) -> int:
    """Run ``generate`` with ``--passes``, ``--sweep`` or ``--variations`` (``name``)."""
    # 1. Plan and check every output path before anything runs.
    plan = _plan(name, args, request)
    inputs = [args.input, args.mask, args.strength_map]
    for path in plan.paths:
        check_output_path(path, inputs, args.overwrite)
    # 2. Run; each pass is written as soon as it is done.
    writer = _Writer(plan.paths, args.overwrite)
    with session() as run:
        sheet = plan.run(run, request, spec, writer)
    if run.token.cancelled:
        print(f"cancelled: kept {len(writer.items)} finished file(s)", file=sys.stderr)
        return EXIT_CANCELLED
    if sheet is not None:
        write_png(plan.paths[-1], *sheet, overwrite=args.overwrite)
    _report(args, name, writer.items, plan.paths[-1] if sheet is not None else None)
    return EXIT_OK


class _Writer:
    """Writes each finished pass to its planned path (atomically) and keeps its summary."""

    def __init__(self, paths: list[Path], overwrite: bool) -> None:
        self.paths, self.overwrite = paths, overwrite
        self.items: list[dict[str, Any]] = []

    def __call__(self, index: int, result: PassResult, parent: str | None = None) -> None:
        path = self.paths[index - 1]
        record = dict(complete_model_hash(result.record))
        if parent is not None:
            record["parent"] = parent
        write_png(path, result.image, record, overwrite=self.overwrite)
        self.items.append(result_summary(result, path))


Runner = Callable[[Session, PassRequest, ModelSpec, _Writer], Sheet | None]


@dataclass(frozen=True)
class _Plan:
    paths: list[Path]
    run: Runner


def _plan(name: str, args: argparse.Namespace, request: PassRequest) -> _Plan:
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise UserError(f"output must be a .png file (metadata is stored as PNG text): {out}")
    stem = out.with_suffix("")
    if name == "passes":
        paths = [Path(f"{stem}-{k}.png") for k in range(1, len(args.passes) + 1)]
        return _Plan(paths, partial(_run_passes, args))
    if name == "variations":
        if args.variations < 1:
            raise UserError(f"--variations must be at least 1, got {args.variations}")
        seeds = seed_list(request.seed, args.variations)
        paths = [Path(f"{stem}-v{k}.png") for k in range(1, len(seeds) + 1)]
        return _Plan(paths, partial(_run_variations, seeds))
    seeds = seed_list(request.seed, args.seeds)
    paths = [Path(f"{stem}-s{s:.2f}-seed{seed}.png") for seed in seeds for s in args.sweep]
    if len(set(paths)) != len(paths):
        raise UserError("--sweep lists the same strength twice (to 2 decimals)")
    paths.append(Path(f"{stem}-sheet.png"))
    return _Plan(paths, partial(_run_sweep, args.sweep, seeds))


def _run_passes(
    args: argparse.Namespace,
    run: Session,
    request: PassRequest,
    spec: ModelSpec,
    writer: _Writer,
) -> None:
    names = [Path(args.input).name] + [p.name for p in writer.paths]

    def on_pass(index: int, result: PassResult) -> None:
        writer(index, result, parent=names[index - 1])

    color_match = args.color_match is not False
    run_schedule(
        run.engine,
        request,
        spec,
        args.passes,
        color_match=color_match,
        on_pass=on_pass,
        **run.callbacks(),
    )


def _run_variations(
    seeds: list[int], run: Session, request: PassRequest, spec: ModelSpec, writer: _Writer
) -> None:
    run_variations(
        run.engine, request, spec, len(seeds), seeds=seeds, on_pass=writer, **run.callbacks()
    )


def _run_sweep(
    strengths: list[float],
    seeds: list[int],
    run: Session,
    request: PassRequest,
    spec: ModelSpec,
    writer: _Writer,
) -> Sheet | None:
    sweep = run_sweep(
        run.engine, request, spec, strengths, seeds, on_pass=writer, **run.callbacks()
    )
    if sweep.cancelled or not sweep.complete:
        return None
    info = {
        "type": "sweep",
        "group": sweep.group,
        "strengths": sweep.strengths,
        "seeds": sweep.seeds,
        "cells": [p.name for p in writer.paths[:-1]],
    }
    return sweep.sheet(), {"kind": "contact-sheet", "workflow": info}


def _report(
    args: argparse.Namespace, name: str, items: list[dict[str, Any]], sheet: Path | None
) -> None:
    if args.json:
        print(
            json.dumps({"workflow": name, "outputs": items, "sheet": str(sheet) if sheet else None})
        )
        return
    print_summary(args, items)
    if sheet is not None:
        print(f"wrote {sheet} (contact sheet)")
