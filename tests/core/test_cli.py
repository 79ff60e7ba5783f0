"""The headless CLI: outputs, metadata, exit codes and one-line errors, Ctrl+C."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from core.cli.main import main
from core.metadata import read_metadata
from tests.tiny_models.images import make_image, make_mask

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "in.png"
    make_image(96, 64).save(path)
    return path


def generate(picture, out, model, *extra):
    return main(
        [
            "generate",
            str(picture),
            "-o",
            str(out),
            "--model",
            str(model),
            "--prompt",
            "a lighthouse",
            "--steps",
            "6",
            "--seed",
            "5",
            *extra,
        ]
    )


def assert_one_line_error(capsys, needle: str):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    assert needle in err, err


def test_generate_writes_png_with_metadata(picture, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out.png"
    assert generate(picture, out, tiny_model_dir, "--strength", "0.5") == 0
    assert "wrote" in capsys.readouterr().out
    meta = read_metadata(out)
    assert "Denoising strength: 0.5" in meta["parameters"]
    assert meta["parsed"]["seed"] == 5 and meta["parsed"]["steps"] == 6
    assert meta["record"]["effective_steps"] == 3
    assert Image.open(out).size == (96, 64)


def test_generate_json_summary(picture, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out.png"
    assert generate(picture, out, tiny_model_dir, "--strength", "0.5", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["effective_steps"] == 3 and summary["output"] == str(out)


def test_work_size_is_reported_and_the_result_keeps_the_picture_size(
    tmp_path, tiny_model_dir, capsys
):
    big = tmp_path / "big.png"
    make_image(1200, 900).save(big)
    out = tmp_path / "out.png"
    assert generate(big, out, tiny_model_dir, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["work_size"] == "72x56" and (summary["width"], summary["height"]) == (1200, 900)
    assert Image.open(out).size == (1200, 900)
    assert generate(big, out, tiny_model_dir, "--work-size", "96x64", "--overwrite") == 0
    assert "worked at 96x64" in capsys.readouterr().out


def test_single_file_with_model_config(picture, tmp_path, tiny_single_file, tiny_model_dir):
    out = tmp_path / "single.png"
    assert generate(picture, out, tiny_single_file, "--model-config", str(tiny_model_dir)) == 0
    short = hashlib.sha256(Path(tiny_single_file).read_bytes()).hexdigest()[:10]
    assert f"Model hash: {short}" in read_metadata(out)["parameters"]  # A1111's AutoV2 hash


def test_inpaint_variant_with_mask(picture, tmp_path, tiny_inpaint_dir):
    mask_path, out = tmp_path / "mask.png", tmp_path / "inpainted.png"
    make_mask(96, 64).save(mask_path)
    assert (
        generate(
            picture,
            out,
            tiny_inpaint_dir,
            "--mask",
            str(mask_path),
            "--inpaint-area",
            "masked",
            "--strength",
            "0.9",
        )
        == 0
    )
    assert "Mask blur: 4" in read_metadata(out)["parameters"]


def test_strength_zero_says_so(picture, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "same.png"
    assert generate(picture, out, tiny_model_dir, "--strength", "0") == 0
    assert "0 denoising steps" in capsys.readouterr().err
    assert Image.open(out).tobytes() == Image.open(picture).convert("RGB").tobytes()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--strength", "1.5"], "strength must be between 0 and 1"),
        (["--steps", "0"], "steps must be at least 1"),
        (["--scheduler", "Nope"], "unknown scheduler"),
        (["--strength", "abc"], "invalid float value"),
        (["--work-size", "huge"], "work size must be 'auto', 'input' or WxH"),
        (["--work-size", "20x20"], "work size width must be between 64 and 8192"),
    ],
)
def test_bad_values_exit_2_with_one_line(picture, tmp_path, tiny_model_dir, capsys, extra, needle):
    out = tmp_path / "out.png"
    assert generate(picture, out, tiny_model_dir, *extra) == 2
    assert_one_line_error(capsys, needle)
    assert not out.exists()


def test_missing_and_corrupt_inputs(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out.png"
    assert generate(tmp_path / "nope.png", out, tiny_model_dir) == 2
    assert_one_line_error(capsys, "no such file")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    assert generate(corrupt, out, tiny_model_dir) == 2
    assert_one_line_error(capsys, "corrupt.png")
    assert not out.exists()


def test_pickle_model_refused(picture, tmp_path, capsys):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"x")
    assert generate(picture, tmp_path / "o.png", ckpt) == 2
    assert_one_line_error(capsys, "pickle")


def test_refuses_to_overwrite_input_or_existing_output(picture, tmp_path, tiny_model_dir, capsys):
    original = picture.read_bytes()
    assert generate(picture, picture, tiny_model_dir) == 2
    assert_one_line_error(capsys, "refusing to write over the input")
    assert picture.read_bytes() == original
    existing = tmp_path / "existing.png"
    existing.write_bytes(b"keep me")
    assert generate(picture, existing, tiny_model_dir) == 2
    assert_one_line_error(capsys, "--overwrite")
    assert existing.read_bytes() == b"keep me"
    assert generate(picture, existing, tiny_model_dir, "--overwrite") == 0
    assert existing.read_bytes() != b"keep me"


def test_output_must_be_png(picture, tmp_path, tiny_model_dir, capsys):
    assert generate(picture, tmp_path / "out.jpg", tiny_model_dir) == 2
    assert_one_line_error(capsys, ".png")


def test_info_reads_our_png_and_a1111_png(picture, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out.png"
    generate(picture, out, tiny_model_dir)
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "a lighthouse" in capsys.readouterr().out
    a1111 = tmp_path / "a1111.png"
    info = PngInfo()
    info.add_text(
        "parameters",
        "a castle\nNegative prompt: blurry\nSteps: 30, Sampler: DPM++ 2M, "
        "CFG scale: 7, Seed: 1234, Size: 512x512, Model: v1-5, Denoising strength: 0.45",
    )
    make_image(32, 32).save(a1111, pnginfo=info)
    assert main(["info", str(a1111), "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)["parsed"]
    assert parsed["seed"] == 1234 and parsed["strength"] == 0.45 and parsed["prompt"] == "a castle"
    assert main(["info", str(tmp_path / "missing.png")]) == 2


def test_main_py_help_and_usage_errors():
    run = subprocess.run(
        [sys.executable, "main.py", "generate", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0 and "--strength" in run.stdout
    run = subprocess.run(
        [sys.executable, "main.py", "generate", "x.png"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 2 and run.stderr.startswith("error:")
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_ctrl_c_stops_and_leaves_no_file(tmp_path, tiny_model_dir):
    src, out = tmp_path / "big.png", tmp_path / "never.png"
    make_image(256, 256).save(src)
    cmd = [
        sys.executable,
        "main.py",
        "generate",
        str(src),
        "-o",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--steps",
        "400",
        "--strength",
        "1",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen = ""
    deadline = time.time() + 120
    while "step" not in seen and time.time() < deadline:  # wait for the progress bar
        seen += proc.stderr.read(1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + rest
    assert "cancelled" in rest and not out.exists()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    assert "torchvision" not in seen + rest  # library notices that mean nothing to a user


def test_main_py_sends_every_subcommand_to_the_command_line():
    import main as entry
    from core.cli.parser import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    assert set(sub.choices) == entry.HEADLESS_COMMANDS
