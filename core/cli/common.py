"""What every command shares: exit codes, output-path checks, Ctrl+C, progress and summaries."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from PIL import Image

from core.atomic_io import same_file
from core.cli.conditioning_args import conditioning_from_args
from core.cli.regions import parse_regions
from core.engine import CancelToken, Engine
from core.errors import UserError
from core.events import (
    EventCallback,
    ModelLoading,
    PassEvent,
    PassResult,
    PassStarted,
    StepPreview,
)
from core.hashing import complete_model_hash
from core.imaging import load_mask_file
from core.metadata import write_png
from core.models import ModelSpec, classify_reference
from core.requests import PassRequest
from core.workflows.common import ProgressCallback, WorkflowProgress

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def check_output_path(output: str | Path, inputs: list[str | None], overwrite: bool) -> Path:
    """Refuse writing over an input or (without --overwrite) over an existing file."""
    out = Path(output)
    if out.suffix.lower() != ".png":
        raise UserError(f"output must be a .png file (metadata is stored as PNG text): {out}")
    for source in inputs:
        if source and same_file(out, source):  # a link, hard link or other spelling of it too
            raise UserError(f"refusing to write over the input {source} (originals are preserved)")
    if out.exists() and out.is_dir():
        raise UserError(f"{out} is a folder")
    if out.exists() and not overwrite:
        raise UserError(f"{out} already exists (use --overwrite to replace it)")
    return out


def new_engine() -> Engine:
    """The engine a command runs on (the one place commands make one; tests share one)."""
    return Engine()


@contextmanager
def sigint_cancels(token: CancelToken) -> Iterator[None]:
    """First Ctrl+C cancels the pass (it stops within a step); a second one interrupts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()
        print("\ncancelling…", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def spec_from_args(args: argparse.Namespace) -> ModelSpec:
    """The model to load, checked (path, pickle, config folder) before anything loads."""
    classify_reference(args.model)
    if args.model_config and not (Path(args.model_config) / "model_index.json").is_file():
        raise UserError(f"--model-config {args.model_config} has no model_index.json")
    return ModelSpec(
        args.model,
        args.model_config,
        args.device,
        args.dtype,
        args.memory,
        quantize=getattr(args, "quantize", "none"),
        compile=getattr(args, "compile", False),
        speed=getattr(args, "speed", "off"),
        oom_retry=getattr(args, "oom_retry", False),
    )


def request_from_args(args: argparse.Namespace, image: Image.Image) -> PassRequest:
    """A validated PassRequest from the shared generation options; the mask and strength map
    files are read with :func:`load_mask_file` (their alpha, when transparent, is the mask)."""
    mask = load_mask_file(args.mask) if args.mask else None
    strength_map = load_mask_file(args.strength_map) if args.strength_map else None
    request = PassRequest(
        image=image,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        strength=args.strength,
        steps=args.steps,
        cfg=args.cfg,
        seed=args.seed,
        scheduler=args.scheduler,
        width=args.width,
        height=args.height,
        work_size=args.work_size,
        mask=mask,
        mask_blur=args.mask_blur,
        inpaint_area=args.inpaint_area,
        padding=args.padding,
        strength_map=strength_map,
        soft_inpaint=getattr(args, "soft_inpaint", False),
        color_match=getattr(args, "color_match", None),
        regions=parse_regions(getattr(args, "region", None)),
        **conditioning_from_args(args),
    )
    return request.validate()


class Progress:
    """Model-loading lines and a per-pass progress bar on stderr."""

    def __init__(self) -> None:
        self._bar: Any = None
        self.label = ""

    def __call__(self, event: PassEvent) -> None:
        from tqdm import tqdm

        if isinstance(event, ModelLoading) and event.fraction is None:
            print(event.message, file=sys.stderr)
        elif isinstance(event, PassStarted):
            self.close()
            desc = f"{self.label} " if self.label else ""
            desc += f"{event.effective_steps} of {event.total_steps} steps"
            self._bar = tqdm(
                total=event.effective_steps, desc=desc, file=sys.stderr, unit="step", leave=False
            )
        elif isinstance(event, StepPreview) and self._bar is not None:
            self._bar.update(event.step - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def result_summary(result: PassResult, path: Path | None) -> dict[str, Any]:
    """The JSON-able summary of one written pass."""
    return {
        "output": str(path) if path else None,
        "width": result.image.width,
        "height": result.image.height,
        "work_size": result.record.get("work_size"),
        "seed": result.seed,
        "strength": result.request.strength,
        "steps": result.request.steps,
        "effective_steps": result.effective_steps,
        "duration": round(result.duration, 3),
        "skipped": result.skipped,
        "note": result.note,
    }


def print_summary(args: argparse.Namespace, items: list[dict[str, Any]]) -> None:
    """One line per written pass on stdout (or one JSON value with ``--json``)."""
    if args.json:
        print(json.dumps(items[0] if len(items) == 1 else items))
        return
    for item in items:
        line = (
            f"wrote {item['output']} ({item['width']}x{item['height']}"
            + (f" worked at {item['work_size']}" if item.get("work_size") else "")
            + ", "
            f"strength {item['strength']:.2f}: {item['effective_steps']} of {item['steps']} "
            f"steps, seed {item['seed']}, {item['duration']:.1f} s)"
        )
        if item.get("note"):
            line += f" — {item['note']}"
        print(line)


class Callbacks(TypedDict):
    """The keyword arguments that tie a workflow call to a :class:`Session`."""

    on_event: EventCallback
    on_progress: ProgressCallback
    cancel: CancelToken


@dataclass
class Session:
    """What a command runs on: the engine, the token Ctrl+C sets and the progress bar."""

    engine: Engine
    token: CancelToken
    progress: Progress

    def follow(self, update: WorkflowProgress) -> None:
        """Label the progress bar with the workflow unit that is running."""
        self.progress.label = update.label

    def callbacks(self) -> Callbacks:
        """``on_event``, ``on_progress`` and ``cancel`` for a workflow function."""
        return {"on_event": self.progress, "on_progress": self.follow, "cancel": self.token}


@contextmanager
def session() -> Iterator[Session]:
    """A new engine, cancel token and progress bar; inside, Ctrl+C cancels; the bar is closed on
    the way out."""
    run = Session(new_engine(), CancelToken(), Progress())
    try:
        with sigint_cancels(run.token):
            yield run
    finally:
        run.progress.close()


def write_result(args: argparse.Namespace, result: PassResult, out: Path) -> int:
    """Write one pass to ``out`` (atomically), print its note and summary; EXIT_OK."""
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    record = complete_model_hash(result.record)  # a headless run waits for the hash here
    write_png(out, result.image, record, overwrite=args.overwrite)
    print_summary(args, [result_summary(result, out)])
    return EXIT_OK
