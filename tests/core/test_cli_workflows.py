"""CLI workflows: generate --passes|--sweep|--variations, upscale, batch: files, metadata, exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from core.cli.main import main
from core.errors import PassCancelled
from core.metadata import read_metadata
from core.workflows.sweep import sheet_size
from tests.tiny_models.images import make_image

COMMON = ["--prompt", "a lighthouse", "--steps", "5", "--cfg", "1", "--seed", "5"]


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "in.png"
    make_image(64, 48).save(path)
    return path


pytestmark = pytest.mark.usefixtures("one_cli_engine")


def run(*args, model) -> int:
    return main([*map(str, args), "--model", str(model), *COMMON])


def assert_one_line_error(capsys, needle: str):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    assert needle in err, err


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def test_passes_write_every_pass_with_its_parent(picture, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out.png"
    assert run("generate", picture, "-o", out, "--passes", "0.6,0.4", model=tiny_model_dir) == 0
    assert names(tmp_path) == ["in.png", "out-1.png", "out-2.png"]
    assert capsys.readouterr().out.count("wrote") == 2
    first = read_metadata(tmp_path / "out-1.png")["record"]
    second = read_metadata(tmp_path / "out-2.png")["record"]
    assert first["parent"] == "in.png" and second["parent"] == "out-1.png"
    assert second["workflow"] == {
        "type": "multipass",
        "schedule": [0.6, 0.4],
        "index": 2,
        "of": 2,
        "parent_index": 1,
    }
    assert first["strength"] == 0.6 and second["color_match"] is True


def test_passes_json_and_no_color_match(picture, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "o.png"
    code = run(
        "generate",
        picture,
        "-o",
        out,
        "--passes",
        "0.4",
        "--no-color-match",
        "--json",
        model=tiny_model_dir,
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["workflow"] == "passes" and summary["outputs"][0]["output"] == str(
        tmp_path / "o-1.png"
    )
    assert read_metadata(tmp_path / "o-1.png")["record"]["color_match"] is False


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--passes", "0.5,0.1"], "schedule entry 2 (strength 0.10 × 5 steps) would run 0"),
        (["--passes", "0.5,x"], "expected comma-separated numbers"),
        (["--sweep", "0.3,0.301"], "same strength twice"),
        (["--sweep", "0.5", "--seeds", "0"], "at least 1"),
        (["--variations", "-1"], "--variations must be at least 1"),
        (["--passes", "0.5", "--sweep", "0.5"], "only one of"),
    ],
)
def test_bad_workflow_options_exit_2_without_output(
    picture, tmp_path, tiny_model_dir, capsys, extra, needle
):
    assert run("generate", picture, "-o", tmp_path / "out.png", *extra, model=tiny_model_dir) == 2
    assert_one_line_error(capsys, needle)
    assert names(tmp_path) == ["in.png"]


def test_every_output_is_checked_before_running(picture, tmp_path, tiny_model_dir, capsys):
    (tmp_path / "out-2.png").write_bytes(b"keep me")
    code = run(
        "generate", picture, "-o", tmp_path / "out.png", "--passes", "0.5,0.4", model=tiny_model_dir
    )
    assert code == 2
    assert_one_line_error(capsys, "out-2.png already exists")
    assert names(tmp_path) == ["in.png", "out-2.png"]
    source = tmp_path / "pic-1.png"
    make_image(64, 48).save(source)
    code = run(
        "generate", source, "-o", tmp_path / "pic.png", "--passes", "0.5", model=tiny_model_dir
    )
    assert code == 2
    assert_one_line_error(capsys, "refusing to write over the input")


def test_sweep_writes_cells_and_a_sheet(picture, tmp_path, tiny_model_dir, capsys):
    code = run(
        "generate",
        picture,
        "-o",
        tmp_path / "out.png",
        "--sweep",
        "0.4,0.8",
        "--seeds",
        "2",
        "--json",
        model=tiny_model_dir,
    )
    assert code == 0
    cells = [
        "out-s0.40-seed5.png",
        "out-s0.80-seed5.png",
        "out-s0.40-seed6.png",
        "out-s0.80-seed6.png",
    ]
    assert names(tmp_path) == sorted(["in.png", "out-sheet.png", *cells])
    summary = json.loads(capsys.readouterr().out)
    assert [Path(item["output"]).name for item in summary["outputs"]] == cells
    assert summary["sheet"] == str(tmp_path / "out-sheet.png")
    assert Image.open(tmp_path / "out-sheet.png").size == sheet_size(2, 2, (192, 144))
    sheet = read_metadata(tmp_path / "out-sheet.png")["record"]
    assert sheet["kind"] == "contact-sheet" and sheet["workflow"]["cells"] == cells
    cell = read_metadata(tmp_path / cells[2])["record"]
    assert cell["seed"] == 6 and cell["workflow"]["row"] == 1 and cell["workflow"]["column"] == 0


def test_variations_write_one_file_per_seed(picture, tmp_path, tiny_model_dir):
    assert (
        run(
            "generate", picture, "-o", tmp_path / "v.png", "--variations", "2", model=tiny_model_dir
        )
        == 0
    )
    assert names(tmp_path) == ["in.png", "v-v1.png", "v-v2.png"]
    seeds = [read_metadata(tmp_path / f"v-v{k}.png")["record"]["seed"] for k in (1, 2)]
    assert seeds == [5, 6]


def test_ctrl_c_keeps_finished_passes(
    picture, tmp_path, tiny_model_dir, shared_engine, monkeypatch, capsys
):
    real = shared_engine.run_pass
    calls = []

    def cancelling_run_pass(request, spec, on_event=None, cancel=None):
        calls.append(request)
        if len(calls) == 2:  # as if Ctrl+C arrived during pass 2
            cancel.cancel()
            raise PassCancelled()
        return real(request, spec, on_event=on_event, cancel=cancel)

    monkeypatch.setattr(shared_engine, "run_pass", cancelling_run_pass)
    code = run(
        "generate",
        picture,
        "-o",
        tmp_path / "out.png",
        "--passes",
        "0.5,0.4,0.3",
        model=tiny_model_dir,
    )
    assert code == 130
    assert "kept 1 finished file" in capsys.readouterr().err
    assert names(tmp_path) == ["in.png", "out-1.png"]  # no partial or temporary file


def test_upscale_command(picture, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "big.png"
    code = run(
        "upscale",
        picture,
        "-o",
        out,
        "--scale",
        "1.5",
        "--tile",
        "64",
        "--overlap",
        "16",
        model=tiny_model_dir,
    )
    assert code == 0 and "wrote" in capsys.readouterr().out
    assert Image.open(out).size == (96, 72)
    record = read_metadata(out)["record"]
    assert record["strength"] == 0.35 and record["workflow"]["type"] == "upscale"
    assert record["workflow"]["tiles"] == 4


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--scale", "0.5"], "scale must be between 1 and 8"),
        (["--width", "128"], "drop --width/--height"),
        (["--overlap", "400"], "overlap must be between 0 and half the tile"),
    ],
)
def test_upscale_bad_input_exits_2(picture, tmp_path, tiny_model_dir, capsys, extra, needle):
    assert run("upscale", picture, "-o", tmp_path / "big.png", *extra, model=tiny_model_dir) == 2
    assert_one_line_error(capsys, needle)
    assert not (tmp_path / "big.png").exists()


def test_batch_with_a_corrupt_file_exits_1_and_resumes(tmp_path, tiny_model_dir, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    make_image(64, 48, seed=1).save(folder / "a.png")
    make_image(64, 48, seed=2).save(folder / "c.jpg")
    (folder / "b.png").write_bytes(b"not an image")
    assert run("batch", folder, out, model=tiny_model_dir) == 1
    captured = capsys.readouterr()
    assert "batch: 2 done, 0 skipped (already done), 1 failed of 3" in captured.out
    assert "failed: b.png: cannot read image" in captured.out
    assert "[3/3] c.jpg done" in captured.err and "eta" in captured.err
    assert names(out) == ["a.png", "c.png"]
    (folder / "b.png").unlink()
    assert run("batch", folder, out, "--json", model=tiny_model_dir) == 0
    report = json.loads(capsys.readouterr().out)
    assert [Path(i["input"]).name for i in report["skipped"]] == ["a.png", "c.jpg"]
    assert report["done"] == [] and report["failed"] == []


def test_batch_refuses_the_input_folder_unless_in_place(tmp_path, tiny_model_dir, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(64, 48).save(folder / "a.png")
    assert run("batch", folder, folder, model=tiny_model_dir) == 2
    assert_one_line_error(capsys, "refusing to write into the input folder")
    assert run("batch", tmp_path / "nope", tmp_path / "out", model=tiny_model_dir) == 2
    assert_one_line_error(capsys, "no such folder")
    assert run("batch", folder, folder, "--in-place", model=tiny_model_dir) == 0
    assert names(folder) == ["a.png", "a_img2img.png"]


def test_batch_with_other_settings_stops_and_overwrite_redoes(tmp_path, tiny_model_dir, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    make_image(64, 48, seed=1).save(folder / "a.png")
    make_image(64, 48, seed=2).save(folder / "b.png")
    assert run("batch", folder, out, model=tiny_model_dir) == 0
    capsys.readouterr()
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert run("batch", folder, out, "--negative-prompt", "fog", model=tiny_model_dir) == 2
    assert_one_line_error(capsys, "2 outputs")
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps
    code = run(
        "batch",
        folder,
        out,
        "--negative-prompt",
        "fog",
        "--overwrite",
        "--json",
        model=tiny_model_dir,
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["done"]) == 2 and report["already_done"] == 0
    assert read_metadata(out / "a.png")["record"]["negative_prompt"] == "fog"
