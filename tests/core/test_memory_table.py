"""The README's family × card memory table is the chooser's own output, not a guess."""

from __future__ import annotations

from pathlib import Path

from core.models.memory_table import memory_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_table_is_computed_by_the_chooser():
    text = README.read_text(encoding="utf-8")
    start, end = text.index("<!-- memory-table:start -->"), text.index("<!-- memory-table:end -->")
    assert memory_table() in text[start:end]


def test_a_flux_size_model_on_a_12_gb_card_gets_a_mode_that_fits():
    row = next(line for line in memory_table().splitlines() if line.startswith("| FLUX.1-dev"))
    assert row.split(" | ")[2] == "group+fp8 · fp8: group"
