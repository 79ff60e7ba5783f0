"""Strength sweep: the same request at several strengths × seeds, shown as one contact sheet.

Rows are seeds, columns are strengths; a row keeps its seed across every strength so the only
difference along it is the strength. Each cell is an ordinary pass one can continue from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from core.engine import CancelToken, Engine
from core.errors import UserError
from core.events import EventCallback, PassResult
from core.models import ModelSpec
from core.request_rules import tagged
from core.requests import PassRequest
from core.workflows.common import ProgressCallback, check_strengths, new_group_id, seed_list
from core.workflows.driver import PassCallback, Plan, Unit, run_plan

DEFAULT_STRENGTHS = (0.3, 0.4, 0.5, 0.6, 0.7)
CELL = 192  # default cell side in px
MARGIN = 8  # gap around and between cells
LABEL_HEIGHT = 20  # the strip under each cell
HEADER_HEIGHT = 24  # the row of column titles on top
BACKGROUND = (24, 24, 24)
STRIP = (48, 48, 48)
EMPTY = (72, 72, 72)  # a cell that did not run (cancelled)
TEXT = (240, 240, 240)


@dataclass
class SweepResult:
    """The grid of a sweep: ``cells[row][column]`` is seed ``seeds[row]`` at ``strengths[column]``
    (None where the sweep was cancelled before that cell)."""

    strengths: list[float]
    seeds: list[int]
    group: str
    cells: list[list[PassResult | None]] = field(default_factory=list)
    cancelled: bool = False

    @property
    def complete(self) -> bool:
        return all(cell is not None for row in self.cells for cell in row)

    def results(self) -> list[PassResult]:
        """The finished cells, row by row."""
        return [cell for row in self.cells for cell in row if cell is not None]

    def labels(self) -> list[list[str]]:
        return [[cell_label(s, seed) for s in self.strengths] for seed in self.seeds]

    def sheet(self, cell: int = CELL) -> Image.Image:
        """The contact sheet of this sweep (see :func:`contact_sheet`)."""
        header = [f"strength {s:.2f}" for s in self.strengths]
        return contact_sheet(self.cells, self.labels(), header=header, cell=cell)


def cell_label(strength: float, seed: int) -> str:
    return f"s={strength:.2f} · seed {seed}"


def run_sweep(
    engine: Engine,
    request: PassRequest,
    spec: ModelSpec,
    strengths: Sequence[float] = DEFAULT_STRENGTHS,
    seeds: Sequence[int] | int = 1,
    *,
    group: str | None = None,
    on_event: EventCallback | None = None,
    on_pass: PassCallback | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SweepResult:
    """Render every strength × seed. ``seeds``: a list, or a count (``base, base+1, …`` with base
    ``request.seed`` or random). Each record carries ``extra["workflow"] = {"type": "sweep",
    "group", "row", "column", "index", "of", "strengths", "seeds"}``; ``on_pass(index, result)``
    follows each cell. Refuses (before loading) strengths that would run 0 steps. On cancel the
    finished cells are kept and ``cancelled`` is set."""
    values = check_strengths(request, strengths, "sweep")
    seed_values = seed_list(request.seed, seeds) if isinstance(seeds, int) else list(seeds)
    if not seed_values:
        raise UserError("the sweep needs at least 1 seed")
    sweep = SweepResult(values, seed_values, group or new_group_id())
    grid = [(row, column) for row in range(len(seed_values)) for column in range(len(values))]

    def unit(index: int, row: int, column: int) -> Unit:
        strength, seed = values[column], seed_values[row]
        workflow = {
            "type": "sweep",
            "group": sweep.group,
            "row": row,
            "column": column,
            "index": index,
            "of": len(grid),
            "strengths": values,
            "seeds": seed_values,
        }
        label = cell_label(strength, seed)
        return Unit(label, lambda _: tagged(request, workflow, strength=strength, seed=seed))

    plan = Plan("sweep", [unit(k, row, column) for k, (row, column) in enumerate(grid, 1)])
    outcome = run_plan(engine, spec, plan, on_event, on_pass, on_progress, cancel)
    sweep.cells = [[None] * len(values) for _ in seed_values]
    for step in outcome.steps:
        row, column = grid[step.index - 1]
        sweep.cells[row][column] = step.result
    sweep.cancelled = outcome.cancelled
    return sweep


CellSize = int | tuple[int, int]
Box = tuple[int, int, int, int]
Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


def cell_size(image: Image.Image | None, cell: int = CELL) -> tuple[int, int]:
    """(width, height) of the cells for pictures shaped like ``image``: longest side ``cell``."""
    if image is None or image.width == image.height:
        return cell, cell
    if image.width > image.height:
        return cell, max(1, round(cell * image.height / image.width))
    return max(1, round(cell * image.width / image.height)), cell


def sheet_size(rows: int, columns: int, cell: CellSize = CELL) -> tuple[int, int]:
    """(width, height) of a contact sheet with ``rows`` × ``columns`` cells of ``cell`` px (a side,
    or (width, height))."""
    cw, ch = (cell, cell) if isinstance(cell, int) else cell
    width = MARGIN + columns * (cw + MARGIN)
    height = HEADER_HEIGHT + MARGIN + rows * (ch + LABEL_HEIGHT + MARGIN)
    return width, height


def cell_box(row: int, column: int, cell: CellSize = CELL) -> Box:
    """(left, top, right, bottom) of a cell's image area; its label strip lies just below."""
    cw, ch = (cell, cell) if isinstance(cell, int) else cell
    left = MARGIN + column * (cw + MARGIN)
    top = HEADER_HEIGHT + MARGIN + row * (ch + LABEL_HEIGHT + MARGIN)
    return left, top, left + cw, top + ch


def contact_sheet(
    results: Sequence[Sequence[PassResult | Image.Image | None]],
    labels: Sequence[Sequence[str]],
    *,
    header: Sequence[str] | None = None,
    cell: int = CELL,
) -> Image.Image:
    """A grid image: ``results[row][column]`` each scaled into a common cell (longest side
    ``cell`` px, shaped like the first picture, see :func:`cell_size`), a label strip
    (``labels[row][column]``) under each, and a header row of column titles on top."""
    rows = len(results)
    columns = max((len(row) for row in results), default=0)
    first = next((_image(item) for row in results for item in row if item is not None), None)
    size = cell_size(first, cell)
    sheet = Image.new("RGB", sheet_size(rows, columns, size), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for column, title in enumerate(header or []):
        left = MARGIN + column * (size[0] + MARGIN)
        _text(draw, font, title, (left, 0, left + size[0], HEADER_HEIGHT))
    for row, items in enumerate(results):
        for column, item in enumerate(items):
            box = cell_box(row, column, size)
            _paste_cell(sheet, _image(item), box)
            strip = (box[0], box[3], box[2], box[3] + LABEL_HEIGHT)
            draw.rectangle((strip[0], strip[1], strip[2] - 1, strip[3] - 1), fill=STRIP)
            text = labels[row][column] if row < len(labels) and column < len(labels[row]) else ""
            _text(draw, font, text, strip)
    return sheet


def _image(item: PassResult | Image.Image | None) -> Image.Image | None:
    return item.image if isinstance(item, PassResult) else item


def _paste_cell(sheet: Image.Image, image: Image.Image | None, box: Box) -> None:
    width, height = box[2] - box[0], box[3] - box[1]
    if image is None:
        sheet.paste(EMPTY, box)
        return
    scale = min(width / image.width, height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    fitted = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    sheet.paste(fitted, (box[0] + (width - size[0]) // 2, box[1] + (height - size[1]) // 2))


def _text(draw: ImageDraw.ImageDraw, font: Font, text: str, box: Box) -> None:
    """Draw ``text`` centred in ``box`` (clipped on the left edge when too long)."""
    if not text:
        return
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = box[0] + max(0, (box[2] - box[0] - (right - left)) // 2) - left
    y = box[1] + (box[3] - box[1] - (bottom - top)) // 2 - top
    draw.text((x, y), text, fill=TEXT, font=font)
