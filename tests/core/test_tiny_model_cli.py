"""The offline tiny-model builder as a command (used by benchmarks and manual runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_builder_writes_folder_and_single_file(tmp_path):
    out, single = tmp_path / "tiny", tmp_path / "tiny.safetensors"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.tiny_models.tiny_model",
            str(out),
            "--inpaint",
            "--single-file",
            str(single),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    index = json.loads((out / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionInpaintPipeline"
    assert json.loads((out / "unet" / "config.json").read_text())["in_channels"] == 9
    assert single.stat().st_size > 1_000_000
    from core.models.files import detect_single_file_family

    assert detect_single_file_family(single) == ("sd1", True)
