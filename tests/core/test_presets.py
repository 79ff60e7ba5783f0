"""The strength presets follow the img2img guide's quick-reference table."""

import pytest

from core.presets import PRESETS, matching_preset, preset_named


def test_presets_match_the_guide_table():
    table = {p.name: (p.strength, p.low, p.high) for p in PRESETS}
    assert table == {
        "Minor refinement": (0.25, 0.2, 0.3),
        "Gentle style transfer": (0.45, 0.4, 0.5),
        "Strong style transfer": (0.65, 0.6, 0.7),
        "Sketch to art": (0.8, 0.7, 0.9),
        "Variations": (0.55, 0.5, 0.6),
        "Face preservation": (0.35, 0.3, 0.4),
        "Complete reimagining": (0.9, 0.8, 1.0),
    }
    for preset in PRESETS:
        assert preset.low <= preset.strength <= preset.high
        assert f"{preset.low:.2f}–{preset.high:.2f}" in preset.tooltip


def test_lookup_helpers():
    assert preset_named("Sketch to art").strength == 0.8
    assert matching_preset(0.35).name == "Face preservation"
    assert matching_preset(0.5) is None
    with pytest.raises(KeyError):
        preset_named("nope")


def test_presets_module_has_no_qt():
    from pathlib import Path

    import core.presets

    assert "PySide6" not in Path(core.presets.__file__).read_text(encoding="utf-8")
