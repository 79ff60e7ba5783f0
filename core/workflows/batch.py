"""Batch: one set of settings over a folder (or list) of images, into an output folder.

With an edit model (Qwen-Image-Edit, FLUX.2 Klein) the prompt is one instruction that edits
every picture, and the template's edit references (given once) go with every item.

The plan, the recorded-settings rule, each item's seed and the PNG bytes come from
:mod:`core.batch` (shared with the Ray runner, :mod:`core.scaleout.ray_batch`, so both write the
same files); this module runs the items one by one on the workflow driver. A re-run skips an output
that already holds this run's result (see :func:`core.batch.find_done`), so an interrupted batch
resumes where it stopped; outputs made with other settings stop the batch before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.batch import (
    IN_PLACE_SUFFIX,
    SUPPORTED_EXTENSIONS,
    BatchEntry,
    BatchItem,
    BatchReport,
    commit_output,
    find_done,
    finish_item,
    item_request,
    list_inputs,
    make_plan,
    plan_outputs,
    sweep_temporaries,
)
from core.engine import CancelToken, Engine
from core.errors import UserError
from core.events import EventCallback, PassResult
from core.imaging import load_image
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.common import ProgressCallback
from core.workflows.driver import Plan, Skip, Unit, run_plan
from core.workflows.faces import FaceSettings, faces_refiner

__all__ = [
    "IN_PLACE_SUFFIX",
    "SUPPORTED_EXTENSIONS",
    "BatchItem",
    "BatchReport",
    "find_done",
    "list_inputs",
    "plan_outputs",
    "run_batch",
]


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

    Each item's seed comes from the template's seed and the item's relative path
    (:func:`core.batch.item_seed`). An existing output made with the same settings from the same
    input is skipped as already done (``overwrite`` redoes everything); outputs with other
    settings raise UserError before anything runs. An unreadable image is reported in ``failed``
    and the rest go on. ``on_item`` gets a :class:`WorkflowProgress` when each item starts and
    ends (item k of n, elapsed, ETA). ``fix_faces``: each picture's faces are refined before it is
    written. On cancel the finished files stay and no partial file is written.
    """
    # 1. Check the settings, the inputs and every output path first; sweep a killed run's leftovers.
    plan = make_plan(
        inputs,
        out_dir,
        request_template,
        spec,
        overwrite=overwrite,
        allow_in_place=allow_in_place,
    )
    sweep_temporaries(plan)

    # 2. One pass per image, written as soon as it is done; a bad file fails only its item.
    refine = faces_refiner(engine, spec, fix_faces, on_event=on_event, cancel=cancel)

    def unit(entry: BatchEntry) -> Unit:
        def build(_: Sequence[PassResult]) -> PassRequest:
            if entry.done:
                raise Skip("already done")
            image = load_image(entry.source)
            if entry.output.exists() and not overwrite:
                raise UserError(f"{entry.output} already exists (use --overwrite to replace it)")
            return item_request(plan, entry, image)

        def write(result: PassResult) -> PassResult:
            result, data = finish_item(result, refine, cancel=cancel)
            if not commit_output(entry.output, data, overwrite):
                raise UserError(f"{entry.output} already exists (use --overwrite to replace it)")
            return result

        return Unit(entry.source.name, build, write)

    units = [unit(entry) for entry in plan.entries]
    driver_plan = Plan("batch", units, keep_going=True)
    outcome = run_plan(
        engine, spec, driver_plan, on_event=on_event, on_progress=on_item, cancel=cancel
    )
    # 3. File every item that ran under its status.
    report = BatchReport(total=len(units), cancelled=outcome.cancelled, elapsed=outcome.elapsed)
    lists = {"done": report.done, "skipped": report.skipped, "failed": report.failed}
    for step in outcome.steps:
        entry = plan.entries[step.index - 1]
        seed = step.result.seed if step.result is not None else None
        lists[step.status].append(
            BatchItem(entry.source, entry.output, step.status, step.message, seed, step.duration)
        )
    return report
