"""One batch item: its request, the pass into PNG bytes with metadata, and the atomic commit.

The PNG of an item depends only on the settings, the input's pixels and the item's seed: the
record leaves out the pass's duration (the report keeps it), so every runner writes the same bytes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image, PngImagePlugin

from core.atomic import atomic_write_bytes
from core.atomic_io import write_error
from core.batch.plan import BatchEntry, BatchPlan
from core.engine import CancelToken, Engine
from core.errors import ImageError
from core.events import EventCallback, PassResult
from core.hashing import complete_model_hash
from core.imaging import load_image
from core.metadata.infotext import build_infotext
from core.metadata.png import PARAMETERS_CHUNK, RECORD_CHUNK
from core.models import ModelSpec
from core.request_rules import tagged
from core.requests import PassRequest

Refine = Callable[[PassResult], PassResult]  # e.g. faces fixed: core.workflows.faces.faces_refiner


def item_request(plan: BatchPlan, entry: BatchEntry, image: Image.Image) -> PassRequest:
    """The validated request of ``entry``: the plan's template on ``image`` with the item's seed
    and its ``workflow`` tag."""
    return tagged(plan.template, plan.workflow_tag(entry), image=image, seed=entry.seed).validate()


def load_item_image(data: bytes, relative: str) -> Image.Image:
    """An input shipped as bytes (to a worker that cannot see the input folder), loaded exactly as
    :func:`core.imaging.load_image` loads the file; errors name ``relative``."""
    with tempfile.TemporaryDirectory(prefix="i2i-batch-") as folder:
        path = Path(folder) / Path(relative).name
        path.write_bytes(data)
        try:
            return load_image(path)
        except ImageError as exc:
            raise ImageError(str(exc).replace(str(path), relative)) from None


def finish_item(
    result: PassResult, refine: Refine | None = None, *, cancel: CancelToken | None = None
) -> tuple[PassResult, bytes]:
    """A finished pass (``refine``d when given: its faces fixed) and its PNG bytes with
    metadata."""
    if refine is not None:
        result = refine(result)
    record = dict(complete_model_hash(result.record, cancel=cancel))
    record.pop("duration", None)  # the only value that differs between identical runs
    result = dataclasses.replace(result, record=record)
    return result, encode_png(result.image, record)


def render_item(
    engine: Engine,
    spec: ModelSpec,
    request: PassRequest,
    refine: Refine | None = None,
    *,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[PassResult, bytes]:
    """Run the item's pass and return the result with its PNG bytes (see :func:`finish_item`)."""
    result = engine.run_pass(request, spec, on_event=on_event, cancel=cancel)
    return finish_item(result, refine, cancel=cancel)


def encode_png(image: Image.Image, record: dict) -> bytes:
    """``image`` as PNG bytes with the same metadata chunks :func:`core.metadata.write_png`
    writes (A1111 ``parameters`` and the JSON record)."""
    info = PngImagePlugin.PngInfo()
    info.add_text(PARAMETERS_CHUNK, build_infotext(record))
    info.add_text(RECORD_CHUNK, json.dumps(record, ensure_ascii=False, default=str))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def commit_output(path: Path, data: bytes, overwrite: bool) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename. Returns False (and writes
    nothing) when ``path`` exists and ``overwrite`` is off: an item delivered twice is written
    once. Raises UserError (one line) when the file cannot be written."""
    if path.exists() and not overwrite:
        return False
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise write_error(path, exc) from None
    return True
