from __future__ import annotations

from pathlib import Path

import pytest

from core.batch import item_seed
from core.engine import CancelToken, Engine
from core.errors import UserError
from core.metadata import read_metadata
from core.requests import PassRequest
from core.workflows.batch import list_inputs, plan_outputs, run_batch
from tests.tiny_models.images import make_image


@pytest.fixture
def template() -> PassRequest:
    return PassRequest(make_image(64, 64), prompt="a cat", steps=4, strength=0.5, cfg=1.0, seed=9)


def _folder(root: Path, names: list[str], corrupt: tuple[str, ...] = ()) -> Path:
    folder = root / "in"
    folder.mkdir()
    for k, name in enumerate(names):
        make_image(64, 48, seed=k).save(folder / name)
    for name in corrupt:
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    return folder


def test_listing_sorts_by_name_and_filters_extensions(tmp_path):
    folder = _folder(tmp_path, ["b.jpg", "A.png", "c.webp"])
    (folder / "notes.txt").write_text("x")
    (folder / "d_img2img.png").write_bytes(b"")  # an in-place output is never an input
    assert [p.name for p in list_inputs(folder)] == ["A.png", "b.jpg", "c.webp"]
    with pytest.raises(UserError, match="no such folder"):
        list_inputs(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no images"):
        list_inputs(empty)


def test_output_names_and_in_place_rules(tmp_path):
    folder = _folder(tmp_path, ["a.png", "a.jpg", "b.png"])
    sources = list_inputs(folder)
    outputs = plan_outputs(sources, tmp_path / "out", allow_in_place=False)
    assert [p.name for p in outputs] == ["a-jpg.png", "a-png.png", "b.png"]
    with pytest.raises(UserError, match="refusing to write into the input folder"):
        plan_outputs(sources, folder, allow_in_place=False)
    in_place = plan_outputs(sources, folder, allow_in_place=True)
    assert [p.name for p in in_place] == ["a-jpg_img2img.png", "a-png_img2img.png", "b_img2img.png"]


def test_batch_reports_a_corrupt_file_and_finishes_the_rest(engine, spec, template, tmp_path):
    folder = _folder(tmp_path, ["a.png", "c.png"], corrupt=("b.png",))
    out = tmp_path / "out"
    updates = []
    report = run_batch(engine, folder, out, template, spec, on_item=updates.append)
    assert [i.source.name for i in report.done] == ["a.png", "c.png"]
    assert [i.source.name for i in report.failed] == ["b.png"]
    assert "b.png" in report.failed[0].message and "\n" not in report.failed[0].message
    assert not report.ok and report.total == 3
    assert report.summary().startswith("batch: 2 done, 0 skipped (already done), 1 failed of 3")
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]
    record = read_metadata(out / "a.png")["record"]
    assert record["workflow"]["type"] == "batch" and record["workflow"]["source"] == "a.png"
    assert record["seed"] == item_seed(9, "a.png") and record["strength"] == 0.5
    assert [(u.index, u.status) for u in updates if u.status != "running"] == [
        (1, "done"),
        (2, "failed"),
        (3, "done"),
    ]
    assert updates[0].eta is None and updates[-1].eta == 0 and updates[-1].elapsed > 0


def test_rerun_skips_everything_already_done(spec, template, tmp_path):
    folder = _folder(tmp_path, ["a.png", "b.png"])
    out = tmp_path / "out"
    first = run_batch(Engine(previews=False), folder, out, template, spec)
    assert len(first.done) == 2 and first.ok
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    fresh = Engine(previews=False)
    second = run_batch(fresh, folder, out, template, spec)
    assert [i.source.name for i in second.skipped] == ["a.png", "b.png"]
    assert not second.done and not second.failed
    assert fresh.models.loaded is None  # nothing to do: no model loaded
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps


def test_in_place_needs_permission(engine, spec, template, tmp_path):
    folder = _folder(tmp_path, ["a.png"])
    fresh = Engine(previews=False)
    with pytest.raises(UserError, match="input folder"):
        run_batch(fresh, folder, folder, template, spec)
    assert fresh.models.loaded is None
    report = run_batch(engine, folder, folder, template, spec, allow_in_place=True)
    assert [i.output.name for i in report.done] == ["a_img2img.png"]
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_img2img.png"]
    again = run_batch(engine, folder, folder, template, spec, allow_in_place=True)
    assert again.total == 1 and len(again.skipped) == 1


def test_zero_step_template_is_refused(spec, template, tmp_path):
    folder = _folder(tmp_path, ["a.png"])
    with pytest.raises(UserError, match="0 denoising steps"):
        run_batch(
            Engine(previews=False), folder, tmp_path / "out", template.replace(strength=0.1), spec
        )


def test_cancel_keeps_finished_outputs_and_writes_no_partial_file(engine, spec, template, tmp_path):
    folder = _folder(tmp_path, ["a.png", "b.png", "c.png"])
    out = tmp_path / "out"
    token = CancelToken()

    def on_item(update):
        if update.status == "done":
            token.cancel()

    report = run_batch(engine, folder, out, template, spec, on_item=on_item, cancel=token)
    assert report.cancelled and len(report.done) == 1
    assert "cancelled" in report.summary()
    assert [p.name for p in out.iterdir()] == ["a.png"]  # no temporary or partial files


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_rerun_reports_how_many_were_already_done(engine, spec, template, tmp_path):
    folder = _folder(tmp_path, ["a.png"])
    out = tmp_path / "out"
    run_batch(engine, folder, out, template, spec)
    make_image(64, 48, seed=7).save(folder / "b.png")  # a new input: only it runs
    report = run_batch(engine, folder, out, template, spec)
    assert [i.source.name for i in report.skipped] == ["a.png"]
    assert [i.source.name for i in report.done] == ["b.png"]
    assert report.skipped[0].message == "already done"
    assert report.to_dict()["already_done"] == 1
    assert "1 skipped (already done)" in report.summary()


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a dog"},
        {"negative_prompt": "blurry"},
        {"strength": 0.75},
        {"steps": 5},
        {"cfg": 2.0},
        {"seed": 10},
        {"scheduler": "Euler"},
        {"work_size": "input"},
        {"width": 96},
    ],
)
def test_rerun_with_other_settings_stops_before_anything_runs(spec, template, tmp_path, change):
    folder = _folder(tmp_path, ["a.png", "b.png"])
    out = tmp_path / "out"
    run_batch(Engine(previews=False), folder, out, template, spec)
    stamps = _stamps(out)
    fresh = Engine(previews=False)
    with pytest.raises(UserError) as error:
        run_batch(fresh, folder, out, template.replace(**change), spec)
    message = str(error.value)
    assert "2 outputs" in message and "other settings" in message and "--overwrite" in message
    assert "\n" not in message
    assert fresh.models.loaded is None and _stamps(out) == stamps


def test_changed_input_foreign_file_or_other_model_is_not_done(spec, template, tmp_path):
    folder = _folder(tmp_path, ["a.png", "b.png"])
    out = tmp_path / "out"
    run_batch(Engine(previews=False), folder, out, template, spec)
    make_image(64, 48, seed=5).save(folder / "a.png")  # same name, other pixels
    make_image(64, 48).save(out / "b.png")  # a PNG without our record
    with pytest.raises(UserError, match=r"2 outputs .*other settings \(a\.png: input differs\)"):
        run_batch(Engine(previews=False), folder, out, template, spec)
    make_image(64, 48, seed=5).save(folder / "b.png")
    run_batch(Engine(previews=False), folder, out, template, spec, overwrite=True)
    other_model = spec.__class__(spec.reference + "-other", device="cpu")
    with pytest.raises(UserError, match="2 outputs .*model"):
        run_batch(Engine(previews=False), folder, out, template, other_model)


def test_overwrite_redoes_outputs_with_other_settings(engine, spec, template, tmp_path):
    folder = _folder(tmp_path, ["a.png", "b.png"])
    out = tmp_path / "out"
    run_batch(engine, folder, out, template, spec)
    report = run_batch(engine, folder, out, template.replace(prompt="a dog"), spec, overwrite=True)
    assert len(report.done) == 2 and not report.skipped
    assert read_metadata(out / "a.png")["record"]["prompt"] == "a dog"
    again = run_batch(engine, folder, out, template.replace(prompt="a dog"), spec)
    assert len(again.skipped) == 2 and not again.done


def test_random_seed_runs_accept_the_recorded_seed(engine, spec, template, tmp_path):
    folder = _folder(tmp_path, ["a.png", "b.png"])
    out = tmp_path / "out"
    seedless = template.replace(seed=None)
    first = run_batch(engine, folder, out, seedless, spec)
    assert len(first.done) == 2
    second = run_batch(engine, folder, out, seedless, spec)
    assert len(second.skipped) == 2 and not second.done
    recorded = read_metadata(out / "a.png")["record"]["seed"]
    with pytest.raises(UserError, match="other settings"):  # a fixed seed must match
        run_batch(engine, folder, out, template.replace(seed=(recorded + 1) % 2**32), spec)
