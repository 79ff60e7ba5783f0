"""The README's performance table is generated from the benchmarks' JSON (tests/benchmarks)."""

from __future__ import annotations

import json

from tests.benchmarks import report

MACHINE = {
    "cpu": "Test CPU",
    "cores": 2,
    "cpu_fast_bf16": True,
    "torch": "2.13.0+cpu",
    "date": "2026-11-27",
    "load_average": [0.5, 0.5, 0.5],
}


def _write(folder, name, data) -> None:
    (folder / name).write_text(json.dumps(data), encoding="utf-8")


def test_the_table_names_the_machine_and_says_which_targets_are_met(tmp_path):
    _write(
        tmp_path,
        "app.json",
        {
            "machine": MACHINE,
            "tiny_pass": {
                "image": "512x512",
                "app_over_bare": 1.01,
                "preview_cost_per_step_pct": 3,
            },
        },
    )
    _write(tmp_path, "bench.json", {"tiny": {"mode_switch_overhead_s": {"inpaint": 0.02}}})
    live = {
        "model": "tiny (random weights)",
        "picture": "256x256",
        "debounce_s": 0.15,
        "edit_to_result_median_s": 0.7,
        "edit_to_result_max_s": 0.9,
        "longest_gui_gap_ms": 45.0,
    }
    _write(tmp_path, "live.json", live)
    _write(
        tmp_path,
        "ray.json",
        {"items": 12, "size": 64, "ray_over_local": 0.9, "outputs_identical": True},
    )
    text = report.table(tmp_path, docs=tmp_path / "none")
    assert text.startswith("CPU rows: Test CPU, 2 cores (fast bf16: yes)")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()[3:]}
    assert rows["App pass / bare diffusers, tiny model 512x512"].endswith("| yes |")
    assert rows["Previews: cost per step (every step), tiny model"].endswith("| **no** |")
    switch = next(line for name, line in rows.items() if name.startswith("img2img ↔ inpaint"))
    assert "+0.020 s" in switch and switch.endswith("| yes |")
    live_rows = [line for name, line in rows.items() if name.startswith("Live mode")]
    assert "0.7 / 0.9 s" in live_rows[0] and live_rows[1].endswith("| **no** |")
    assert any("Ray" in name and "0.9×" in line for name, line in rows.items())


def test_the_readme_table_is_replaced_between_its_markers(tmp_path):
    _write(tmp_path, "app.json", {"machine": MACHINE})
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{report.START}\nold\n{report.END}\nafter\n", encoding="utf-8")
    assert report.main([str(tmp_path), "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert "| What | Measured | Target | Met |" in text
