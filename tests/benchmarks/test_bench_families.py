"""The app-vs-bare-diffusers benchmarks (``make bench``) run end to end on the smallest models, one
round: every family's bare call is the app's pass byte for byte, and every speed / quantize /
memory option gets a row (measured, or not measured with the reason), so the benchmarks cannot
rot between the runs that fill the README."""

from __future__ import annotations

import json

from tests.benchmarks import bench_families, bench_options
from tests.benchmarks.bench_families import build_family, markdown_table
from tests.benchmarks.machine import machine_info


def test_the_app_and_bare_diffusers_give_the_same_bytes_and_a_ratio(tmp_path):
    # SD 1.5 (a UNet), FLUX.2 Klein (an edit pipeline with its own settings: is_distilled)
    rows = bench_families.bench_families(tmp_path, ("sd15", "flux2_klein"), rounds=1, steps=2)
    for family, row in rows.items():
        assert "error" not in row, (family, row)
        assert row["identical"] is True, (family, row)
        assert row["app_s"] > 0 and row["bare_s"] > 0 and row["app_over_bare"] > 0
    assert rows["flux2_klein"]["pipeline"] == "Flux2KleinPipeline"
    report = {"machine": machine_info(), "rounds": 1, "image": "64x64", "steps": 2,
              "families": rows}  # fmt: skip
    table = markdown_table(report)
    assert "| SD 1.5 | StableDiffusionImg2ImgPipeline |" in table and "| yes |" in table


def test_every_option_is_measured_against_bare_or_says_why_not(tmp_path):
    folder = build_family("flux", tmp_path / "flux")
    out = bench_options.bench_options(folder, "flux", rounds=1, side=64, steps=8)
    for option in bench_options.OPTIONS:
        row = out[option]
        assert "error" not in row and "bare_error" not in row, (option, row)
        assert row["app_same_bytes_as_bare"] is True, (option, row)  # the same library hooks
        assert row["app_computed_steps"] == row["bare_computed_steps"]
    assert out["off"]["max_abs_diff_to_off"] == 0 and out["off"]["app_computed_steps"] == 6
    assert out["fastest"]["app_computed_steps"] < out["off"]["app_computed_steps"]
    assert out["int8"]["app_in_use"].endswith("quantize int8, memory none")
    for option, why in bench_options.CUDA_ONLY.items():
        assert out[option] == why and why.startswith("not measured: ")
    report = {"machine": machine_info(), "rounds": 1, "flux": out}
    assert "| fastest |" in bench_options.markdown_table(report)
    json.dumps(out)  # what the report writes


def test_the_report_prints_each_side_by_side_table_after_the_main_one(tmp_path):
    import shutil
    from pathlib import Path

    from tests.benchmarks import report

    docs = Path(__file__).resolve().parents[2] / "docs" / "bench"
    for name in ("families.json", "options.json", "cpu-weights-bf16-2026-12-07.json"):
        shutil.copy(docs / name, tmp_path / name)
    text = report.table(tmp_path, docs=tmp_path)
    assert text.count("| Qwen-Image-Edit | QwenImageEditPipeline |") == 1
    klein = [line for line in text.splitlines() if line.startswith("| FLUX.2 Klein 128x128")]
    assert len(klein) == len(bench_options.OPTIONS) + len(bench_options.CUDA_ONLY)
    assert "| bf16 |" in text and "bf16 takes " in text
