from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.engine import CancelToken, Engine
from core.errors import UserError
from core.requests import PassRequest
from core.workflows.sweep import (
    BACKGROUND,
    EMPTY,
    HEADER_HEIGHT,
    LABEL_HEIGHT,
    MARGIN,
    STRIP,
    cell_box,
    cell_size,
    contact_sheet,
    run_sweep,
    sheet_size,
)
from core.workflows.variations import run_variations
from tests.tiny_models.images import make_image


def _request(**changes) -> PassRequest:
    values = {"image": make_image(64, 64), "prompt": "a cat", "steps": 5, "cfg": 1.0, "seed": 1234}
    values.update(changes)
    return PassRequest(**values)


def _has_text(sheet: Image.Image, box) -> bool:
    """Bright (label) pixels inside ``box``."""
    return bool((np.asarray(sheet.crop(box)).min(axis=2) > 200).any())


def test_sweep_grid_keeps_one_seed_per_row_and_records_positions(engine, spec):
    passes = []
    sweep = run_sweep(
        engine, _request(), spec, [0.4, 0.8], seeds=2, on_pass=lambda k, r: passes.append(k)
    )
    assert sweep.seeds == [1234, 1235] and sweep.strengths == [0.4, 0.8]
    assert sweep.complete and not sweep.cancelled and passes == [1, 2, 3, 4]
    for row, seed in enumerate(sweep.seeds):
        for column, strength in enumerate(sweep.strengths):
            cell = sweep.cells[row][column]
            assert cell.seed == seed and cell.request.strength == strength
            workflow = cell.record["workflow"]
            assert workflow["type"] == "sweep" and workflow["group"] == sweep.group
            assert (workflow["row"], workflow["column"]) == (row, column)
            assert workflow["index"] == row * 2 + column + 1 and workflow["of"] == 4
    assert sweep.labels()[1][0] == "s=0.40 · seed 1235"
    # Same seed, different strengths differ; different seeds differ.
    images = [np.asarray(r.image) for r in sweep.results()]
    assert not np.array_equal(images[0], images[1])
    assert not np.array_equal(images[0], images[2])

    sheet = sweep.sheet(cell=64)
    assert (
        sheet.size
        == sheet_size(2, 2, 64)
        == (MARGIN + 2 * (64 + MARGIN), HEADER_HEIGHT + MARGIN + 2 * (64 + LABEL_HEIGHT + MARGIN))
    )
    left, top, right, bottom = cell_box(1, 1, 64)
    assert _has_text(sheet, (left, bottom, right, bottom + LABEL_HEIGHT))
    assert _has_text(sheet, (left, 0, right, HEADER_HEIGHT))
    assert np.array_equal(
        np.asarray(sheet.crop(cell_box(1, 1, 64))), np.asarray(sweep.cells[1][1].image)
    )


def test_contact_sheet_layout_scales_cells_and_draws_label_strips():
    red, blue = Image.new("RGB", (100, 50), (255, 0, 0)), Image.new("RGB", (30, 30), (0, 0, 255))
    sheet = contact_sheet(
        [[red, blue], [blue, None]], [["a", "b"], ["c", "d"]], header=["one", "two"], cell=40
    )
    # Cells take the first picture's shape (2:1 → 40×20); the sheet is columns × cell + margins.
    assert cell_size(red, 40) == (40, 20) and cell_size(blue, 40) == (40, 40)
    assert (
        sheet.size
        == sheet_size(2, 2, (40, 20))
        == (
            MARGIN + 2 * (40 + MARGIN),
            HEADER_HEIGHT + MARGIN + 2 * (20 + LABEL_HEIGHT + MARGIN),
        )
    )
    left, top, right, bottom = cell_box(0, 0, (40, 20))
    assert sheet.crop((left, top, right, bottom)).getcolors() == [(800, (255, 0, 0))]
    # A square picture is fitted (20×20) and centred in its 40×20 cell.
    blue_box = cell_box(0, 1, (40, 20))
    assert sheet.getpixel((blue_box[0] + 20, blue_box[1] + 10)) == (0, 0, 255)
    assert sheet.getpixel((blue_box[0] + 2, blue_box[1] + 10)) == BACKGROUND
    assert sheet.getpixel(cell_box(1, 1, (40, 20))[:2]) == EMPTY
    # Every cell has a label strip with text in it; the empty cell is drawn as such.
    for row in range(2):
        for column in range(2):
            left, _, right, bottom = cell_box(row, column, (40, 20))
            assert sheet.getpixel((left, bottom + LABEL_HEIGHT - 1)) == STRIP
            assert _has_text(sheet, (left, bottom, right, bottom + LABEL_HEIGHT))
    assert _has_text(sheet, (MARGIN, 0, MARGIN + 40, HEADER_HEIGHT))


def test_sweep_refuses_zero_step_strengths_before_loading(spec):
    fresh = Engine(previews=False)
    with pytest.raises(UserError, match=r"sweep entry 1 \(strength 0.10 × 5 steps\)"):
        run_sweep(fresh, _request(), spec, [0.1, 0.5])
    with pytest.raises(UserError, match="at least 1"):
        run_sweep(fresh, _request(), spec, [0.5], seeds=0)
    assert fresh.models.loaded is None


def test_cancelled_sweep_keeps_finished_cells(engine, spec):
    token = CancelToken()
    sweep = run_sweep(
        engine,
        _request(),
        spec,
        [0.4, 0.8],
        seeds=[5, 6],
        on_pass=lambda k, r: token.cancel(),
        cancel=token,
    )
    assert sweep.cancelled and not sweep.complete
    assert sweep.cells[0][0] is not None and sweep.cells[0][1] is None
    assert len(sweep.results()) == 1


def test_variations_use_distinct_seeds_in_one_group(engine, spec):
    results = run_variations(engine, _request(seed=40, strength=0.6), spec, 3)
    assert [r.seed for r in results] == [40, 41, 42]
    groups = {r.record["workflow"]["group"] for r in results}
    assert len(groups) == 1
    assert [r.record["workflow"]["index"] for r in results] == [1, 2, 3]
    assert results[0].record["workflow"]["seeds"] == [40, 41, 42]
    assert len({r.image.tobytes() for r in results}) == 3


def test_variations_random_base_and_bad_counts(engine, spec):
    with pytest.raises(UserError, match="at least 1"):
        run_variations(engine, _request(), spec, 0)
    with pytest.raises(UserError, match="0 denoising steps"):
        run_variations(engine, _request(strength=0.1), spec, 2)
    results = run_variations(engine, _request(seed=None, steps=4), spec, 2)
    assert results[1].seed == (results[0].seed + 1) % 2**32
