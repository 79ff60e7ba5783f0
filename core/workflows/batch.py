"""Batch: one set of settings over a folder (or list) of images, into an output folder.

Outputs are ``OUT_DIR/<stem>.png`` with metadata (``<stem>-<ext>.png`` when two inputs share a
stem, e.g. ``a.jpg`` and ``a.png``). A re-run skips an output that already exists only when the
record in it shows the same settings and the same input pixels (see :func:`find_done`), so an
interrupted batch resumes where it stopped; outputs made with other settings stop the batch
before anything runs (use ``overwrite`` or another folder). The input folder is never written to
unless ``allow_in_place``; then outputs are named ``<stem>_img2img.png`` and such files are never
read as inputs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.engine import CancelToken, Engine
from core.errors import ImageError, UserError
from core.events import EventCallback, PassResult
from core.hashing import complete_model_hash, pixel_hash
from core.imaging import load_image
from core.metadata import read_metadata, write_png
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.common import ProgressCallback, check_runs_steps, new_group_id, tagged
from core.workflows.driver import Plan, Skip, Unit, run_plan
from core.workflows.faces import FaceSettings, with_faces_fixed

SUPPORTED_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
IN_PLACE_SUFFIX = "_img2img"


@dataclass(frozen=True)
class BatchItem:
    """One input and what became of it: ``status`` is "done", "skipped" or "failed"."""

    source: Path
    output: Path
    status: str
    message: str = ""
    seed: int | None = None
    duration: float = 0.0

    def to_dict(self) -> dict:
        return {
            "input": str(self.source),
            "output": str(self.output),
            "status": self.status,
            "message": self.message,
            "seed": self.seed,
            "duration": round(self.duration, 3),
        }


@dataclass
class BatchReport:
    """The outcome of a batch; items not reached before a cancel are in no list."""

    total: int
    done: list[BatchItem] = field(default_factory=list)
    skipped: list[BatchItem] = field(default_factory=list)
    failed: list[BatchItem] = field(default_factory=list)
    cancelled: bool = False
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled

    def summary(self) -> str:
        text = (
            f"batch: {len(self.done)} done, {len(self.skipped)} skipped (already done), "
            f"{len(self.failed)} failed of {self.total} ({self.elapsed:.1f} s)"
        )
        return text + (" — cancelled" if self.cancelled else "")

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "cancelled": self.cancelled,
            "elapsed": round(self.elapsed, 3),
            "already_done": len(self.skipped),
            **{
                name: [item.to_dict() for item in getattr(self, name)]
                for name in ("done", "skipped", "failed")
            },
        }


def list_inputs(inputs: str | Path | Sequence[str | Path]) -> list[Path]:
    """The images of a folder (not recursive, supported extensions, outputs of an in-place run
    excluded) or of a list of paths, sorted by name. Raises UserError when there are none."""
    if isinstance(inputs, str | Path):
        folder = Path(inputs)
        if not folder.is_dir():
            raise UserError(
                f"{folder} is not a folder" if folder.exists() else f"no such folder: {folder}"
            )
        paths = [
            p
            for p in folder.iterdir()
            if p.is_file()
            and p.suffix.lower() in SUPPORTED_EXTENSIONS
            and not p.stem.endswith(IN_PLACE_SUFFIX)
        ]
        where = str(folder)
    else:
        paths = [Path(p) for p in inputs]
        where = "the list"
    if not paths:
        kinds = ", ".join(ext[1:] for ext in SUPPORTED_EXTENSIONS)
        raise UserError(f"no images ({kinds}) in {where}")
    return sorted(paths, key=lambda p: (p.name.lower(), str(p)))


def plan_outputs(sources: list[Path], out_dir: str | Path, allow_in_place: bool) -> list[Path]:
    """The output path of every source; refuses the input folder unless ``allow_in_place``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file, not a folder")
    input_folders = {p.parent.resolve() for p in sources}
    in_place = out.resolve() in input_folders
    if in_place and not allow_in_place:
        raise UserError(
            f"refusing to write into the input folder {out} (originals are "
            "preserved; choose another folder or pass --in-place)"
        )
    suffix = IN_PLACE_SUFFIX if in_place else ""
    stems = Counter(p.stem for p in sources)
    outputs = []
    for source in sources:
        name = source.stem if stems[source.stem] == 1 else f"{source.stem}-{source.suffix[1:]}"
        outputs.append(out / f"{name}{suffix}.png")
    resolved = {p.resolve() for p in sources}
    for output in outputs:
        if output.resolve() in resolved:
            raise UserError(f"refusing to write over the input {output}")
    if len(set(outputs)) != len(outputs):
        raise UserError("two inputs would write the same output file; rename one of them")
    return outputs


def find_done(
    sources: Sequence[Path],
    outputs: Sequence[Path],
    request: PassRequest,
    spec: ModelSpec,
) -> list[bool]:
    """Which ``outputs`` already hold what this run would write for ``sources``, in order.

    An existing output is done only when the JSON record in it shows this run's settings (prompt,
    negative prompt, strength, steps, CFG, seed, scheduler, work size setting, size, colour
    match, model reference, mask / strength map hashes and mask options) and the same input
    pixels (``input_hash``). With ``request.seed`` None (a random seed, which no run can
    reproduce) any recorded seed is accepted: the earlier random pick stands. A missing output, or
    one whose input cannot be read (its item fails when it runs), is not done.

    Raises UserError (one line, before anything runs) when outputs exist with other settings,
    without a record or from another workflow, saying how many and to use --overwrite or a new
    folder.
    """
    expected = _expected_settings(request, spec)
    done: list[bool] = []
    others: list[tuple[Path, str]] = []
    for source, output in zip(sources, outputs, strict=True):
        reason = _why_not_done(output, source, request, expected) if output.exists() else ""
        done.append(output.exists() and reason is None)
        if reason:
            others.append((output, reason))
    if others:
        first, reason = others[0]
        one = len(others) == 1
        raise UserError(
            f"{len(others)} output{'' if one else 's'} in {first.parent} already "
            f"exist{'s' if one else ''} with other settings ({first.name}: {reason}); "
            "use --overwrite to replace them or choose a new output folder"
        )
    return done


def _expected_settings(request: PassRequest, spec: ModelSpec) -> dict[str, Any]:
    """The record values (as :func:`core.engine.record.pass_record` writes them) that define an
    output, besides the input's size and pixels."""
    mask, strength_map = request.mask, request.strength_map
    expected: dict[str, Any] = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "strength": round(float(request.strength), 4),
        "steps": request.steps,
        "cfg": float(request.cfg),
        "scheduler": request.scheduler,
        "work_size_setting": request.work_size,
        "color_match": request.color_match,
        "mask_hash": pixel_hash(mask) if mask is not None else None,
        "strength_map_hash": pixel_hash(strength_map) if strength_map is not None else None,
    }
    if request.seed is not None:
        expected["seed"] = request.seed
    if mask is not None:
        expected.update(
            mask_blur=request.mask_blur, inpaint_area=request.inpaint_area, padding=request.padding
        )
    expected["model"] = spec.reference
    return expected


def _why_not_done(
    output: Path, source: Path, request: PassRequest, expected: dict[str, Any]
) -> str | None:
    """Why the existing ``output`` is not this run's result for ``source`` (None when it is);
    "" when the input cannot be read (its item then fails when it runs)."""
    try:
        record = read_metadata(output)["record"]
    except ImageError:
        record = None
    if not isinstance(record, dict):
        return "no settings record"
    workflow = record.get("workflow")
    if not isinstance(workflow, dict) or workflow.get("type") != "batch":
        return "not a batch output"
    model = record.get("model")
    recorded = {key: record.get(key) for key in expected}
    recorded["model"] = model.get("reference") if isinstance(model, dict) else None
    if record.get("effective_steps") == 0:  # nothing ran: the model made no difference
        recorded["model"] = expected["model"]
    names = [key for key, value in expected.items() if recorded[key] != value]
    if not names:  # the settings match: the input's pixels (and the size they give) decide
        try:
            image = load_image(source)
        except ImageError:
            return ""
        size = [request.width or image.width, request.height or image.height]
        if [record.get("width"), record.get("height")] != size:
            names.append("size")
        if record.get("input_hash") != pixel_hash(image):
            names.append("input")
    if not names:
        return None
    return f"{', '.join(names)} differ{'s' if len(names) == 1 else ''}"


def run_batch(
    engine: Engine,
    inputs: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    request_template: PassRequest,
    spec: ModelSpec,
    *,
    overwrite: bool = False,
    allow_in_place: bool = False,
    fix_faces: FaceSettings | None = None,
    on_event: EventCallback | None = None,
    on_item: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> BatchReport:
    """Run ``request_template`` (its image replaced) over every input, writing PNGs with metadata.

    An existing output made with the same settings from the same input is skipped as already done
    (see :func:`find_done`; ``overwrite`` redoes everything); outputs with other settings raise
    UserError before anything runs. An unreadable image is reported in ``failed`` and the rest go
    on. ``on_item`` gets a :class:`WorkflowProgress` when each item starts and ends (item k of n,
    elapsed, ETA). ``fix_faces``: each picture's faces are refined before it is written. Raises
    UserError before anything runs for bad folders or settings. On cancel the finished files stay
    and no partial file is written.
    """
    # 1. Check the settings, the inputs and every output path first.
    check_runs_steps(request_template, "every output would equal its input")
    sources = list_inputs(inputs)
    outputs = plan_outputs(sources, out_dir, allow_in_place)
    done = (
        [False] * len(sources) if overwrite else find_done(sources, outputs, request_template, spec)
    )
    group = new_group_id()

    # 2. One pass per image, written as soon as it is done; a bad file fails only its item.
    def unit(index: int, source: Path, output: Path, already_done: bool) -> Unit:
        workflow = {
            "type": "batch",
            "group": group,
            "source": source.name,
            "index": index,
            "of": len(sources),
        }

        def build(_: Sequence[PassResult]) -> PassRequest:
            if already_done:
                raise Skip("already done")
            image = load_image(source)
            if output.exists() and not overwrite:
                raise UserError(f"{output} already exists (use --overwrite to replace it)")
            return tagged(request_template, workflow, image=image).validate()

        def write(result: PassResult) -> PassResult:
            if fix_faces is not None:
                result = with_faces_fixed(
                    engine, spec, result, fix_faces, on_event=on_event, cancel=cancel
                )
            record = complete_model_hash(result.record, cancel=cancel)
            write_png(output, result.image, record, overwrite=overwrite)
            return result

        return Unit(source.name, build, write)

    pairs = list(zip(sources, outputs, strict=True))
    units = [unit(k, *pair, done[k - 1]) for k, pair in enumerate(pairs, 1)]
    plan = Plan("batch", units, keep_going=True)
    outcome = run_plan(engine, spec, plan, on_event=on_event, on_progress=on_item, cancel=cancel)
    # 3. File every item that ran under its status.
    report = BatchReport(total=len(sources), cancelled=outcome.cancelled, elapsed=outcome.elapsed)
    lists = {"done": report.done, "skipped": report.skipped, "failed": report.failed}
    for step in outcome.steps:
        source, output = pairs[step.index - 1]
        seed = step.result.seed if step.result is not None else None
        lists[step.status].append(
            BatchItem(source, output, step.status, step.message, seed, step.duration)
        )
    return report
