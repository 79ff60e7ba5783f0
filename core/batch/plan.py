"""A batch plan: every input with its output, its own seed and whether it is already done.

Each item's seed comes from the base seed and the item's path relative to the input folder
(:func:`item_seed`), never from its position, so adding or removing a file changes no other
item's picture, and any runner (local or Ray) makes the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import TMP_SUFFIX
from core.batch.done import expected_settings, find_done
from core.batch.inputs import list_inputs, plan_outputs
from core.models import ModelSpec
from core.models.families import is_edit_reference
from core.request_rules import check_runs_steps
from core.requests import MAX_SEED, PassRequest

REPORT_NAME = "report.jsonl"


@dataclass(frozen=True)
class BatchEntry:
    """One input of a plan: ``relative`` is its path under the input folder (posix)."""

    index: int  # 1-based, in name order
    source: Path
    relative: str
    output: Path
    seed: int
    done: bool


@dataclass(frozen=True)
class BatchPlan:
    """Everything a runner needs: the request every item starts from, and the entries."""

    template: PassRequest
    out_dir: Path
    entries: tuple[BatchEntry, ...]
    base_seed: int
    group: str  # ties the outputs of one recipe together; the same for every run of it
    overwrite: bool

    @property
    def pending(self) -> list[BatchEntry]:
        """The entries still to run."""
        return [entry for entry in self.entries if not entry.done]

    def workflow_tag(self, entry: BatchEntry) -> dict[str, Any]:
        """The ``workflow`` value of the item's record."""
        return {
            "type": "batch",
            "group": self.group,
            "source": entry.relative,
            "index": entry.index,
            "of": len(self.entries),
            "base_seed": self.base_seed,
        }


def item_seed(base_seed: int, relative: str) -> int:
    """The seed of the item at ``relative`` (posix path under the input folder): a stable hash
    of both, in 0..MAX_SEED."""
    digest = hashlib.sha256(f"{base_seed}\0{relative}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (MAX_SEED + 1)


def make_plan(
    inputs: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    template: PassRequest,
    spec: ModelSpec,
    *,
    overwrite: bool = False,
    allow_in_place: bool = False,
) -> BatchPlan:
    """Check the settings, list the inputs, name the outputs and find the ones already done.

    Raises UserError before anything runs (bad folders, settings that run no step, outputs made
    with other settings — see :func:`find_done`). ``template.seed`` None picks a random base seed
    for this run (and accepts any recorded seed for outputs already there).
    """
    if is_edit_reference(spec.reference, masked=template.mask is not None):
        template.validate()  # an instruction edit runs every step, whatever the strength
    else:
        check_runs_steps(template, "every output would equal its input")
    sources = list_inputs(inputs)
    outputs = plan_outputs(sources, out_dir, allow_in_place)
    base_seed = template.seed if template.seed is not None else random.randint(0, MAX_SEED)
    relatives = _relative_paths(sources)
    seeds = [item_seed(base_seed, relative) for relative in relatives]
    if overwrite:
        done = [False] * len(sources)
    else:
        wanted = seeds if template.seed is not None else [None] * len(sources)
        done = find_done(sources, outputs, template, spec, wanted)
    settings = json.dumps(expected_settings(template, spec), sort_keys=True, default=str)
    group = hashlib.sha256(f"{settings}\0{base_seed}".encode()).hexdigest()[:12]
    entries = tuple(
        BatchEntry(k, *row)
        for k, row in enumerate(zip(sources, relatives, outputs, seeds, done, strict=True), 1)
    )
    return BatchPlan(template, Path(out_dir), entries, base_seed, group, overwrite)


def sweep_temporaries(plan: BatchPlan) -> list[Path]:
    """Remove the temporary files a killed run left next to the plan's outputs (and its report);
    returns what was removed."""
    names = {entry.output.name for entry in plan.entries} | {REPORT_NAME}
    pattern = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}" + re.escape(TMP_SUFFIX) + "$")
    removed: list[Path] = []
    if not plan.out_dir.is_dir():
        return removed
    for path in plan.out_dir.iterdir():
        match = pattern.match(path.name)
        if match and match["name"] in names and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _relative_paths(sources: Sequence[Path]) -> list[str]:
    """Each source's path under the folder all of them share (the input folder)."""
    folders = [str(source.resolve().parent) for source in sources]
    root = Path(os.path.commonpath(folders))
    return [source.resolve().relative_to(root).as_posix() for source in sources]
