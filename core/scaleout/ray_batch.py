"""``batch IN OUT --ray [ADDRESS]``: the batch core's items on a pool of Ray actors.

Ray Data maps the pending items through :class:`BatchWorker` (a callable class: each actor loads
the pipeline once) with ``ActorPoolStrategy`` and ``batch_size=1``. Workers turn every item into
PNG bytes or an error row (a bad file or running out of memory fails only its item); the driver
alone writes files, each through a temporary file and a rename, and at most once, so a retry
after a dead actor never duplicates or corrupts an output. Inputs travel as bytes, so workers on
other machines need the app installed but not the input folder.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from core.batch import (
    REPORT_NAME,
    BatchItem,
    BatchPlan,
    BatchReport,
    commit_output,
    item_request,
    load_item_image,
    make_plan,
    render_item,
    sweep_temporaries,
    write_report_jsonl,
)
from core.engine import Engine
from core.errors import UserError
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.faces import FaceSettings, faces_refiner

INSTALL_HINT = "--ray needs Ray: pip install 'img2img-studio[ray]' (or pip install 'ray[data]')"
ItemCallback = Callable[[BatchItem, int, int], None]  # item, items finished, items to run


class RayMissing(UserError):
    """Ray is not installed (a usage error: exit 2 with the install hint)."""


def import_ray() -> ModuleType:
    """``ray`` with Ray Data, or :class:`RayMissing`."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RayMissing(INSTALL_HINT) from None
    return ray


class BatchWorker:
    """The callable class each actor runs: one engine (the pipeline loads on the first item),
    then one item per call. Every error becomes a ``failed`` row; nothing is written here."""

    def __init__(self, plan: BatchPlan, spec: ModelSpec, fix_faces: FaceSettings | None) -> None:
        self.plan = plan
        self.spec = spec
        self.fix_faces = fix_faces
        self.engine = Engine(previews=False)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        pairs = zip(batch["index"], batch["data"], strict=True)
        rows = [self.process(int(index), bytes(data)) for index, data in pairs]
        return {key: np.array([row[key] for row in rows], dtype=object) for key in _ROW_KEYS}

    def process(self, index: int, data: bytes) -> dict[str, Any]:
        """One item: its PNG bytes (``done``) or its one-line error (``failed``)."""
        entry = self.plan.entries[index - 1]
        started = time.perf_counter()
        row: dict[str, Any] = {"index": index, "seed": entry.seed, "png": b"", "message": ""}
        try:
            request = item_request(self.plan, entry, load_item_image(data, entry.relative))
            refine = faces_refiner(self.engine, self.spec, self.fix_faces)
            result, row["png"] = render_item(self.engine, self.spec, request, refine)
            row.update(status="done", seed=result.seed, message=result.note)
        except Exception as exc:  # a bad file, out of memory…: this item fails, the rest go on
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            row.update(status="failed", message=message)
        row["duration"] = time.perf_counter() - started
        return row


_ROW_KEYS = ("index", "status", "message", "seed", "duration", "png")


def run_ray_batch(
    inputs: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    request_template: PassRequest,
    spec: ModelSpec,
    *,
    address: str | None = None,
    actors: int | None = None,
    gpus_per_actor: float | None = None,
    overwrite: bool = False,
    allow_in_place: bool = False,
    fix_faces: FaceSettings | None = None,
    on_item: ItemCallback | None = None,
    worker: type[BatchWorker] = BatchWorker,
) -> BatchReport:
    """Run a batch on Ray; the same plan, seeds and files as :func:`core.workflows.batch.run_batch`.

    ``address``: None starts a local Ray instance (one actor per GPU, or one CPU actor), "auto"
    joins the running cluster, ``ray://host:10001`` connects through Ray Client; an instance
    already started in this process is used as it is. ``on_item(item, finished, to_run)`` follows
    each item as its file is written (or its error comes back). Raises UserError before anything
    runs for bad folders or settings, and RayMissing without Ray. Writes ``OUT/report.jsonl``.
    """
    # 1. Check everything and sweep a killed run's temporaries before Ray starts.
    ray = import_ray()
    plan = make_plan(
        inputs, out_dir, request_template, spec, overwrite=overwrite, allow_in_place=allow_in_place
    )
    sweep_temporaries(plan)
    started = time.perf_counter()
    report = BatchReport(total=len(plan.entries))
    for entry in plan.entries:
        if entry.done:
            report.skipped.append(BatchItem(entry.source, entry.output, "skipped", "already done"))

    # 2. The inputs as rows (index, bytes); a file the driver cannot read fails here.
    rows = []
    for entry in plan.pending:
        try:
            rows.append({"index": entry.index, "data": entry.source.read_bytes()})
        except OSError as exc:
            message = f"cannot read image {entry.source}: {exc.strerror or exc}"
            report.failed.append(BatchItem(entry.source, entry.output, "failed", message))
    if not rows:  # nothing left to run: Ray never starts
        return _finish(plan, report, started)

    # 3. Map them through the actor pool; the driver writes each file once, as it arrives.
    started_here = connect_ray(ray, address)
    try:
        size, gpus, cpus = _pool(ray, actors, gpus_per_actor)
        with warnings.catch_warnings():  # Ray's default context warns about its own defaults
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="ray.data")
            context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the driver reports each item itself
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
        results = dataset.map_batches(
            worker,
            fn_constructor_kwargs={"plan": plan, "spec": spec, "fix_faces": fix_faces},
            compute=ray.data.ActorPoolStrategy(size=size),
            batch_size=1,
            num_gpus=gpus,
            num_cpus=cpus,
        )
        seen: set[int] = set()
        for row in results.iter_rows():
            index = int(row["index"])
            if index in seen:  # delivered again after a retry: written already
                continue
            seen.add(index)
            item = _file(plan, index, row)
            (report.done if item.status == "done" else report.failed).append(item)
            if on_item is not None:
                on_item(item, len(seen), len(rows))
    finally:
        if started_here:
            ray.shutdown()
    return _finish(plan, report, started)


def _finish(plan: BatchPlan, report: BatchReport, started: float) -> BatchReport:
    """Time the run and write ``OUT/report.jsonl`` (one line per item)."""
    report.elapsed = time.perf_counter() - started
    write_report_jsonl(report, plan.out_dir / REPORT_NAME)
    return report


def _file(plan: BatchPlan, index: int, row: dict[str, Any]) -> BatchItem:
    """Commit one worker row's PNG (atomically, once) and describe the item."""
    entry = plan.entries[index - 1]
    status, message = str(row["status"]), str(row["message"])
    if status == "done" and not commit_output(entry.output, bytes(row["png"]), plan.overwrite):
        status, message = "failed", f"{entry.output} already exists (written by another run)"
    seed = int(row["seed"]) if status == "done" else None
    duration = float(row["duration"])
    return BatchItem(entry.source, entry.output, status, message, seed, duration)


def connect_ray(ray: ModuleType, address: str | None) -> bool:
    """Join or start Ray; True when this call started it (and so shuts it down)."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    try:
        if address is None:
            ray.init(**options)
        else:
            ray.init(address=address, log_to_driver=False)
    except ConnectionError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    return True


def _pool(
    ray: ModuleType, actors: int | None, gpus_per_actor: float | None
) -> tuple[int, float, float]:
    """(actors, GPUs per actor, CPUs per actor): one actor per GPU, or one CPU actor, unless
    given. CPU actors share the CPUs (torch runs as many threads as its actor has CPUs, so one
    CPU actor computes exactly as a local run does); a GPU actor takes one CPU."""
    if actors is not None and actors < 1:
        raise UserError(f"--actors must be at least 1, got {actors}")
    if gpus_per_actor is not None and gpus_per_actor < 0:
        raise UserError(f"--gpus-per-actor must be 0 or more, got {gpus_per_actor}")
    gpus = float(ray.cluster_resources().get("GPU", 0))
    per_actor = gpus_per_actor if gpus_per_actor is not None else (1.0 if gpus >= 1 else 0.0)
    if actors is None:
        actors = max(1, int(gpus // per_actor)) if per_actor > 0 else 1
    if per_actor > 0:
        return actors, per_actor, 1.0
    cpus = float(ray.cluster_resources().get("CPU", 1))
    return actors, per_actor, max(1.0, float(int(cpus // actors)))
