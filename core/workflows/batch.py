"""Batch: one set of settings over a folder (or list) of images, into an output folder.

Outputs are ``OUT_DIR/<stem>.png`` with metadata (``<stem>-<ext>.png`` when two inputs share a
stem, e.g. ``a.jpg`` and ``a.png``). A re-run skips outputs that already exist, so an interrupted
batch resumes where it stopped. The input folder is never written to unless ``allow_in_place``;
then outputs are named ``<stem>_img2img.png`` and such files are never read as inputs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.engine import CancelToken, Engine
from core.errors import UserError
from core.events import EventCallback, PassResult
from core.imaging import load_image
from core.metadata import write_png
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.common import ProgressCallback, check_runs_steps, new_group_id, tagged
from core.workflows.driver import Plan, Skip, Unit, run_plan

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
            f"batch: {len(self.done)} done, {len(self.skipped)} skipped, "
            f"{len(self.failed)} failed of {self.total} ({self.elapsed:.1f} s)"
        )
        return text + (" — cancelled" if self.cancelled else "")

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "cancelled": self.cancelled,
            "elapsed": round(self.elapsed, 3),
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


def run_batch(
    engine: Engine,
    inputs: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    request_template: PassRequest,
    spec: ModelSpec,
    *,
    overwrite: bool = False,
    allow_in_place: bool = False,
    on_event: EventCallback | None = None,
    on_item: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> BatchReport:
    """Run ``request_template`` (its image replaced) over every input, writing PNGs with metadata.

    Existing outputs are skipped unless ``overwrite``; an unreadable image is reported in
    ``failed`` and the rest go on. ``on_item`` gets a :class:`WorkflowProgress` when each item
    starts and ends (item k of n, elapsed, ETA). Raises UserError before anything runs for bad
    folders or settings. On cancel the finished files stay and no partial file is written.
    """
    # 1. Check the settings, the inputs and every output path first.
    check_runs_steps(request_template, "every output would equal its input")
    sources = list_inputs(inputs)
    outputs = plan_outputs(sources, out_dir, allow_in_place)
    group = new_group_id()

    # 2. One pass per image, written as soon as it is done; a bad file fails only its item.
    def unit(index: int, source: Path, output: Path) -> Unit:
        workflow = {
            "type": "batch",
            "group": group,
            "source": source.name,
            "index": index,
            "of": len(sources),
        }

        def build(_: Sequence[PassResult]) -> PassRequest:
            if output.exists() and not overwrite:
                raise Skip("already done")
            return tagged(request_template, workflow, image=load_image(source)).validate()

        def write(result: PassResult) -> PassResult:
            write_png(output, result.image, result.record, overwrite=overwrite)
            return result

        return Unit(source.name, build, write)

    pairs = list(zip(sources, outputs, strict=True))
    plan = Plan("batch", [unit(k, *pair) for k, pair in enumerate(pairs, 1)], keep_going=True)
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
