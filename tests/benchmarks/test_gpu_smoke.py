"""The GPU benchmark runs end to end at the tiny size on any device (``bench_gpu --smoke``), so
the first session lent a GPU only has to run it: every model and option path is taken once."""

from __future__ import annotations

import json

from tests.benchmarks import bench_gpu


def test_bench_gpu_smoke_runs_every_model_and_reports_each_option(tmp_path):
    import torch

    cuda = torch.cuda.is_available()
    out = tmp_path / "gpu.json"
    assert bench_gpu.main(["--smoke", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["tiny"] is True
    for family in ("sd15", "sdxl"):
        assert report[family]["build_seconds"] >= 0
    for kind in ("flux_size", "klein_size"):
        section = report[kind]
        assert section["eager"]["computed_steps"] == section["steps"]
        errors = {k: v["error"] for k, v in section.items() if isinstance(v, dict) and "error" in v}
        assert not errors  # an option that failed says why in the report: none may fail here
        assert section["speed_fastest"]["computed_steps"] < section["steps"]
        assert section["int8"]["weights_gib"] < 1 and section["fp8_storage"]["it_s"] > 0
        for cuda_only in ("fp8", "compile_regional", "group_offload"):
            assert (section[cuda_only] == "not run: CUDA only") is not cuda
    assert report["flux_size"]["speed_fast"]["computed_steps"] > 0
    assert report["klein_size"]["speed_fast"].startswith("not run: First-Block Cache")
