"""The CLI's control types: one that cannot run here is a one-line error naming the missing file
and where it goes (before any model loads); ``generate --help`` says which types need files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.conditioning_args import conditioning_from_args
from core.cli.main import main
from core.cli.parser import build_parser
from core.conditioning.annotator_files import ANNOTATORS_ENV
from tests.tiny_models.images import make_image
from tests.tiny_models.tiny_caffe import build_tiny_hed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def annotators(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setenv(ANNOTATORS_ENV, str(tmp_path / "annotators"))
    return tmp_path / "annotators"


def _generate(tmp_path, *options: str) -> tuple[int, Path]:
    picture, out = tmp_path / "in.png", tmp_path / "out.png"
    make_image(64, 64).save(picture)
    code = main(["generate", str(picture), "-o", str(out), "--model", "org/none", *options])
    return code, out


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("softedge", ["deploy.prototxt", "hed_pretrained_bsds.caffemodel", "softedge"]),
        ("depth", ["config.json", "depth"]),
        ("pose", ["pose_deploy_linevec.prototxt", "pose_iter_440000.caffemodel", "type 'image'"]),
    ],
)
def test_a_type_that_cannot_run_is_one_line_naming_the_files(
    kind, words, annotators, tmp_path, capsys
):
    code, out = _generate(tmp_path, "--controlnet", "cn", "--control", kind)
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists() and len(err.splitlines()) == 1
    assert err.startswith(f"error: --control {kind}: ") and all(word in err for word in words)
    assert str(annotators / kind) in err


def test_only_the_missing_file_is_named(annotators, tmp_path, capsys):
    folder = build_tiny_hed(annotators / "softedge")
    (folder / "deploy.prototxt").unlink()
    code, _ = _generate(tmp_path, "--controlnet", "cn", "--control", "softedge")
    err = capsys.readouterr().err
    assert code == 2 and "deploy.prototxt" in err and "caffemodel" not in err


def test_soft_edge_with_its_files_and_a_switched_off_layer_pass_the_check(annotators):
    build_tiny_hed(annotators / "softedge")
    args = build_parser().parse_args(
        ["generate", "in.png", "-o", "o.png", "--model", "m",
         "--controlnet", "cn", "--control", "softedge",
         "--controlnet", "cn", "--control", "pose", "--control-off"]
    )  # fmt: skip
    soft, pose = conditioning_from_args(args)["controls"]
    assert (soft.kind, pose.kind, pose.enabled) == ("softedge", "pose", False)


def test_a_worker_checks_its_own_files(annotators):
    args = build_parser().parse_args(
        ["generate", "in.png", "-o", "o.png", "--model", "m", "--worker", "http://127.0.0.1:1",
         "--controlnet", "cn", "--control", "softedge"]
    )  # fmt: skip
    assert conditioning_from_args(args)["controls"][0].kind == "softedge"


def test_generate_help_says_which_types_need_files(tmp_path):
    run = subprocess.run(
        [sys.executable, "main.py", "generate", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, ANNOTATORS_ENV: str(tmp_path / "ann"), "COLUMNS": "100"},
    )
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    assert "canny|scribble|lineart|image|depth|softedge|pose" in text
    assert "softedge needs deploy.prototxt and hed_pretrained_bsds.caffemodel in" in text
    assert str(tmp_path / "ann" / "softedge") in "".join(run.stdout.split())  # wrapped
    assert "pose needs pose_deploy_linevec.prototxt and pose_iter_440000.caffemodel in" in text
