"""``batch --ray`` on one shared local Ray instance (2 CPUs, no dashboard) with the tiny model:
errors come back as rows, re-runs write nothing, a killed actor corrupts nothing, and the files
equal local batch's byte for byte."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from core.batch import REPORT_NAME
from core.cli.main import main
from core.engine import Engine
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.batch import run_batch
from tests.tiny_models.images import make_image

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning:ray.*")

BAD = ("img07.png", "img13.png")
SETTINGS = ["--prompt", "a cat", "--steps", "2", "--strength", "0.5", "--cfg", "1", "--seed", "9"]
SETTINGS += ["--work-size", "input"]  # 32×32: the smallest pass


@pytest.fixture(scope="module")
def ray_instance():
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ray") / "in"
    folder.mkdir()
    for k in range(20):
        path = folder / f"img{k:02d}.png"
        if path.name in BAD:
            path.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
        else:
            make_image(32, 32, seed=k).save(path)
    return folder


@pytest.fixture(scope="module")
def first_run(ray_instance, inputs, tiny_model_dir, tmp_path_factory) -> tuple[Path, object, Path]:
    """The batch with an actor that dies on one item the first time (like a lost node)."""
    from core.scaleout.ray_batch import BatchWorker, run_ray_batch

    marker = tmp_path_factory.mktemp("crash") / "crashed-once"

    class CrashOnce(BatchWorker):
        def process(self, index: int, data: bytes) -> dict:
            if index == 5 and not marker.exists():
                marker.touch()
                os._exit(1)
            return super().process(index, data)

    out = inputs.parent / "out"
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    report = run_ray_batch(inputs, out, _template(), spec, worker=CrashOnce)
    return out, report, marker


def _pictures(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def _template() -> PassRequest:
    image = make_image(64, 64)
    return PassRequest(
        image, prompt="a cat", steps=2, strength=0.5, cfg=1.0, seed=9, work_size="input"
    )


def test_a_killed_actor_leaves_18_whole_outputs_2_error_rows_and_no_temporaries(first_run):
    out, report, marker = first_run
    assert marker.exists()  # the actor died once; Ray restarted it and retried its item
    assert len(report.done) == 18 and [i.source.name for i in report.failed] == list(BAD)
    assert all("not a supported image file" in item.message for item in report.failed)
    assert sorted(_pictures(out)) == [
        f"img{k:02d}.png" for k in range(20) if f"img{k:02d}.png" not in BAD
    ]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_rerun_writes_nothing_and_exits_1_with_the_report(
    first_run, inputs, tiny_model_dir, capsys
):
    out = first_run[0]
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.png")}
    argv = ["batch", str(inputs), str(out), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*argv, *SETTINGS, "--ray", "--json"]) == 1  # the two bad files fail again
    summary = json.loads(capsys.readouterr().out)
    assert summary["already_done"] == 18 and not summary["done"] and len(summary["failed"]) == 2
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.png")} == before
    rows = [json.loads(line) for line in (out / REPORT_NAME).read_text().splitlines()]
    assert [Path(r["input"]).name for r in rows if r["status"] == "failed"] == list(BAD)
    assert sum(r["status"] == "skipped" for r in rows) == 18


def test_ray_outputs_equal_local_batch_byte_for_byte(first_run, inputs, tiny_model_dir, tmp_path):
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    report = run_batch(Engine(previews=False), inputs, tmp_path / "local", _template(), spec)
    assert len(report.done) == 18
    assert _pictures(tmp_path / "local") == _pictures(first_run[0])


def test_without_ray_the_flag_exits_2_with_the_install_hint(
    inputs, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    argv = ["batch", str(inputs), str(tmp_path / "o"), "--model", str(tiny_model_dir)]
    assert main([*argv, *SETTINGS, "--ray"]) == 2
    assert "pip install 'img2img-studio[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
