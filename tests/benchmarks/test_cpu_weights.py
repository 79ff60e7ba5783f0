"""The CPU weights benchmark (``make bench``) runs end to end on the tiny model: each mode in its
own process, its row, the ratios and pixel difference to fp32, and the README table."""

from __future__ import annotations

from tests.benchmarks.cpu_weights import bench_weights, markdown_table
from tests.benchmarks.machine import machine_info


def test_fp32_and_int8_rows_with_ratios_and_the_readme_table(tiny_model_dir, tmp_path):
    import shutil

    folder = shutil.copytree(tiny_model_dir, tmp_path / "tiny")  # images go beside it
    kept = []
    weights = bench_weights(folder, side=64, steps=3, modes=("fp32", "int8"), on_row=kept.append)
    assert len(kept) == 2
    fp32, int8 = weights["fp32"], weights["int8"]
    assert fp32["steps"] == 3 and fp32["step_s"] > 0 and fp32["peak_rss_gb"] > 0
    assert int8["quantize"] == "int8" and int8["unet_bytes"] < fp32["unet_bytes"]
    assert int8["max_abs_diff_to_fp32"] <= 255 and "speed_vs_fp32" in int8
    table = markdown_table({"machine": {**machine_info(), "load_average_after": [1.0]},
                            "weights": weights})  # fmt: skip
    assert "| int8 weight-only, fp32 compute |" in table and "bf16" not in table.split("\n")[-1]


def test_emulated_bf16_is_measured_beside_fp32_at_its_own_size_and_says_what_it_costs(
    tiny_model_dir, tmp_path
):
    import shutil

    from tests.benchmarks.cpu_weights import bench_emulated_bf16

    folder = shutil.copytree(tiny_model_dir, tmp_path / "tiny")
    rows = bench_emulated_bf16(folder, side=64, steps=2, timeout=300)
    assert rows["size"] == "64²" and rows["steps"] == 2
    assert rows["bf16"]["unet_dtype"] == "bfloat16" and rows["fp32"]["unet_dtype"] == "float32"
    assert (
        rows["bf16_cost"].startswith("bf16 takes ") and "fp32's time per step" in rows["bf16_cost"]
    )
    report = {"machine": {**machine_info(), "load_average_after": [1.0]}, "bf16_emulated": rows}
    table = markdown_table(report, "bf16_emulated")
    assert "| bf16 |" in table and table.endswith(f"{rows['bf16_cost']}.")
