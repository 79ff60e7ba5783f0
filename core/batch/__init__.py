"""The batch core shared by the local ``batch`` and the Ray runner: which inputs, which are done,
each item's seed, one item into PNG bytes, and committing it (no Ray, no Qt)."""

from core.batch.done import find_done
from core.batch.inputs import IN_PLACE_SUFFIX, SUPPORTED_EXTENSIONS, list_inputs, plan_outputs
from core.batch.item import (
    commit_output,
    encode_png,
    finish_item,
    item_request,
    load_item_image,
    render_item,
)
from core.batch.plan import (
    REPORT_NAME,
    BatchEntry,
    BatchPlan,
    item_seed,
    make_plan,
    sweep_temporaries,
)
from core.batch.report import BatchItem, BatchReport, write_report_jsonl

__all__ = [
    "IN_PLACE_SUFFIX",
    "REPORT_NAME",
    "SUPPORTED_EXTENSIONS",
    "BatchEntry",
    "BatchItem",
    "BatchPlan",
    "BatchReport",
    "commit_output",
    "encode_png",
    "find_done",
    "finish_item",
    "item_request",
    "item_seed",
    "list_inputs",
    "load_item_image",
    "make_plan",
    "plan_outputs",
    "render_item",
    "sweep_temporaries",
    "write_report_jsonl",
]
