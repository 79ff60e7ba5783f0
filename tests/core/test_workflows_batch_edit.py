"""Batch with an edit model (tiny FLUX.2 Klein): one instruction edits every picture, the
references given once go with every item (they change each result and are recorded in each),
every step runs whatever the strength, and a re-run with other references is not taken as done."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli.main import main
from core.engine import Engine
from core.errors import UserError
from core.hashing import pixel_hash
from core.metadata import read_metadata
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.batch import run_batch
from tests.tiny_models.images import make_image, make_textured_image
from tests.tiny_models.tiny_flux2_klein import build_tiny_flux2_klein

STEPS = 2


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    folder = build_tiny_flux2_klein(tmp_path_factory.mktemp("models") / "tiny-klein")
    return ModelSpec(str(folder), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine(previews=False)


def _pictures(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir()
    for k, name in enumerate(("a.png", "b.png")):
        make_image(64, 64, seed=k).save(folder / name)
    return folder


def _reference(seed: int):
    return make_textured_image(72, 64, seed=seed)


def _template(**kw) -> PassRequest:
    kw.setdefault("strength", 0.0)  # an instruction edit has no strength: every step runs
    return PassRequest(
        make_image(64, 64), prompt="make it red", steps=STEPS, cfg=1.0, seed=5,
        work_size="input", **kw,
    )  # fmt: skip


def test_one_instruction_and_its_references_edit_every_picture(engine, spec, tmp_path):
    pictures = _pictures(tmp_path)
    ref = _reference(1)
    with_ref = run_batch(
        engine, pictures, tmp_path / "out", _template(edit_references=(ref,)), spec
    )
    plain = run_batch(engine, pictures, tmp_path / "plain", _template(), spec)
    assert len(with_ref.done) == len(plain.done) == 2 and not with_ref.failed
    for item, other in zip(with_ref.done, plain.done, strict=True):
        record = read_metadata(item.output)["record"]
        assert record["prompt"] == "make it red" and record["effective_steps"] == STEPS
        assert record["pipeline"] == "Flux2KleinPipeline"
        assert record["edit_references"] == [{"hash": pixel_hash(ref), "width": 72, "height": 64}]
        assert "edit_references" not in read_metadata(other.output)["record"]
        assert item.output.read_bytes() != other.output.read_bytes()  # the reference acted


def test_a_rerun_with_other_references_is_not_taken_as_done(engine, spec, tmp_path):
    pictures = _pictures(tmp_path)
    template = _template(edit_references=(_reference(1),))
    run_batch(engine, pictures, tmp_path / "out", template, spec)
    again = run_batch(engine, pictures, tmp_path / "out", template, spec)
    assert len(again.skipped) == 2  # the same references: already done
    other = _template(edit_references=(_reference(2),))
    with pytest.raises(UserError, match="edit_references differs"):
        run_batch(engine, pictures, tmp_path / "out", other, spec)


@pytest.fixture(scope="module")
def shared_engine(engine):
    return engine


@pytest.mark.usefixtures("one_cli_engine")
def test_cli_batch_takes_an_instruction_and_references(spec, tmp_path):
    pictures = _pictures(tmp_path)
    ref = tmp_path / "ref.png"
    _reference(3).save(ref)
    out = tmp_path / "out"
    code = main(
        [
            "batch", str(pictures), str(out), "--model", spec.reference, "--device", "cpu",
            "--steps", str(STEPS), "--strength", "0", "--seed", "2", "--work-size", "input",
            "--prompt", "put image 2 on the left", "--reference", str(ref),
        ]
    )  # fmt: skip
    assert code == 0
    records = [read_metadata(path)["record"] for path in sorted(out.glob("*.png"))]
    assert len(records) == 2
    assert all(len(r["edit_references"]) == 1 and r["effective_steps"] == STEPS for r in records)
