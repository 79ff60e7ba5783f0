"""``generate``: one pass with a progress bar, or a workflow (passes, sweep, variations)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.errors import UserError
from core.events import ModelLoading, PassResult, PassStarted, StepPreview

EXIT_OK = 0


def spec_from_args(args):
    from core.models import ModelSpec, classify_reference

    classify_reference(args.model)  # fail fast on a bad path or a pickle, before anything loads
    if args.model_config and not (Path(args.model_config) / "model_index.json").is_file():
        raise UserError(f"--model-config {args.model_config} has no model_index.json")
    return ModelSpec(args.model, args.model_config, args.device, args.dtype)


def request_from_args(args, image):
    """A validated PassRequest from the shared generation options (mask and map loaded)."""
    from core.imaging import load_image
    from core.requests import PassRequest

    mask = load_image(args.mask) if args.mask else None
    strength_map = load_image(args.strength_map) if args.strength_map else None
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
        mask=mask,
        mask_blur=args.mask_blur,
        inpaint_area=args.inpaint_area,
        padding=args.padding,
        strength_map=strength_map.convert("L") if strength_map else None,
    )
    return request.validate()


class Progress:
    """Model-loading lines and a per-pass progress bar on stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._bar = None
        self.label = ""

    def __call__(self, event) -> None:
        from tqdm import tqdm

        if self.quiet:
            return
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


def result_summary(result: PassResult, path: Path | None) -> dict:
    return {
        "output": str(path) if path else None,
        "width": result.image.width,
        "height": result.image.height,
        "seed": result.seed,
        "strength": result.request.strength,
        "steps": result.request.steps,
        "effective_steps": result.effective_steps,
        "duration": round(result.duration, 3),
        "skipped": result.skipped,
        "note": result.note,
    }


def print_summary(args, items: list[dict]) -> None:
    if args.json:
        print(json.dumps(items[0] if len(items) == 1 else items))
        return
    for item in items:
        line = (
            f"wrote {item['output']} ({item['width']}x{item['height']}, "
            f"strength {item['strength']:.2f}: {item['effective_steps']} of {item['steps']} "
            f"steps, seed {item['seed']}, {item['duration']:.1f} s)"
        )
        if item.get("note"):
            line += f" — {item['note']}"
        print(line)


def cmd_generate(args) -> int:
    from core.cli import check_output_path, sigint_cancels
    from core.engine import CancelToken, Engine
    from core.imaging import load_image
    from core.metadata import write_png

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
        from core.cli_workflows import run_generate_workflow

        return run_generate_workflow(args, workflow[0], request, spec)
    # 2. Run the pass; Ctrl+C cancels within a step.
    engine, token, progress = Engine(), CancelToken(), Progress(quiet=False)
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
