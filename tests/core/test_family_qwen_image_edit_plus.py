"""Qwen-Image-Edit-Plus (2509/2511) on a tiny model (tests.tiny_models.tiny_qwen_image --edit-plus):
detection, reference pictures given to the pipeline after the edited picture (they change the
edit; the output keeps the picture's size), the model's limit and families without references
refused in one line, references kept in the pass record and the infotext (hashed), the CLI's
``--reference`` without ``--ip-adapter``. Edit-Plus has no inpaint pipeline in diffusers: a
masked pass edits the crop around the mask, aligns it with core.imaging.align and pastes it
back (pixels outside the blurred mask keep their bytes; the correction or its absence is
recorded).

As in test_family_qwen_image_edit, the pipeline's ~1 MP target area is made 64×64 here."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.engine import Engine
from core.engine.pass_run import PassRun
from core.errors import InvalidRequest
from core.hashing import pixel_hash
from core.imaging.align import move
from core.imaging.masks import blur_mask
from core.metadata import build_infotext
from core.models import ModelSpec
from core.requests import PassRequest
from tests.core import family_helpers as fh
from tests.tiny_models.images import make_image, make_mask, make_textured_image
from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image_edit


@pytest.fixture(scope="module", autouse=True)
def small_edit_area():
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus as plus_module

    original = plus_module.calculate_dimensions
    plus_module.calculate_dimensions = lambda area, ratio: original(64 * 64, ratio)
    yield
    plus_module.calculate_dimensions = original


@pytest.fixture(scope="module")
def plus_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "tiny-qwen-edit-plus"
    return build_tiny_qwen_image_edit(folder, plus=True)


@pytest.fixture(scope="module")
def spec(plus_dir):
    return ModelSpec(str(plus_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine()


def _reference(seed: int) -> Image.Image:
    return make_textured_image(48, 40, seed=seed)


def test_loads_as_an_edit_model_that_takes_two_references(engine, spec):
    model = engine.models.load(spec)
    assert model.family == "qwen-image-edit-plus" and model.family_info.edit
    assert model.family_info.max_references == 2
    assert type(model.img2img_pipe).__name__ == "QwenImageEditPlusPipeline"


def test_references_reach_the_pipeline_and_change_the_edit(engine, spec):
    one, _ = fh.run(engine, spec, prompt="put image 2 in", edit_references=(_reference(1),))
    again, _ = fh.run(engine, spec, prompt="put image 2 in", edit_references=(_reference(1),))
    two, _ = fh.run(
        engine, spec, prompt="put image 2 in", edit_references=(_reference(1), _reference(2))
    )
    assert one.image.size == two.image.size == (fh.SIZE, fh.SIZE)
    assert np.array_equal(np.asarray(one.image), np.asarray(again.image))
    assert not np.array_equal(np.asarray(one.image), np.asarray(two.image))
    record = two.record
    assert record["edit_references"] == [
        {"hash": pixel_hash(_reference(n)), "width": 48, "height": 40} for n in (1, 2)
    ]
    hashes = ", ".join(f"{pixel_hash(_reference(n))} 48x40" for n in (1, 2))
    assert f'Edit references: "{hashes}"' in build_infotext(record)


def test_a_masked_edit_keeps_every_pixel_outside_the_blurred_mask(engine, spec):
    """Without an inpaint pipeline of its own, a masked pass edits the crop around the mask,
    runs every step whatever the strength, and pastes the masked area back."""
    mask = Image.new("L", (fh.SIZE, fh.SIZE), 0)
    mask.paste(255, (16, 16, 40, 44))
    result, _ = fh.run(
        engine, spec, prompt="remove the cup", mask=mask, mask_blur=2, padding=8, strength=0.3
    )
    outside = np.asarray(blur_mask(mask, 2)) == 0
    diff = fh.changed(result)
    assert not diff[outside].any()
    assert diff[16:44, 16:40].mean() > 0.5
    record = result.record
    assert record["kind"] == "inpaint" and record["effective_steps"] == fh.STEPS
    assert record["pipeline"] == "QwenImageEditPlusPipeline"
    # the tiny model's output is noise: nothing to align on, and the user is told
    assert record["alignment"]["estimated"] is False
    assert "could not be aligned" in result.note
    # colour-matched to the picture around the mask like every masked pass (issue 25)
    assert record["color_match"] is True
    assert record["seam_delta_e"] < record["seam_delta_e_original"] + 1.5


def test_a_moved_edit_is_aligned_before_it_is_pasted_back(engine, spec, monkeypatch):
    """An edit that shifts and zooms its output (as the Qwen edit models do) comes back
    aligned: the crop's movement is measured and undone, and recorded."""
    size = (192, 160)
    picture = make_textured_image(*size)
    mask = make_mask(*size, box=(80, 64, 111, 95))  # + padding 32: a 96×96 crop, no resizing

    def moving_edit(self, pipe, latent_filter=None, **kwargs):
        image = kwargs["image"]
        moved = np.asarray(move(image, 2.6, -1.8, 1.012)).copy()
        moved[
            image.height // 3 : 2 * image.height // 3, image.width // 3 : 2 * image.width // 3
        ] = 0
        return Image.fromarray(moved)

    monkeypatch.setattr(PassRun, "call", moving_edit)
    request = PassRequest(
        image=picture, prompt="paint it black", mask=mask, mask_blur=2, padding=32, seed=1,
        steps=2, work_size="input",
    )  # fmt: skip
    result = engine.run_pass(request, spec)
    found = result.record["alignment"]
    assert found["estimated"] is True
    # the edit moved the crop by (2.6, −1.8) px and zoomed it by 1.2 %
    assert abs(found["dx"] - 2.6) < 0.5 and abs(found["dy"] + 1.8) < 0.5
    assert abs(found["scale"] - 1.012) < 0.005
    outside = np.asarray(blur_mask(mask, 2)) == 0
    same = np.asarray(result.image) == np.asarray(picture)
    assert same[outside].all()
    assert not result.note


def test_a_masked_edit_with_references_keeps_every_pixel_outside_the_mask(engine, spec):
    mask = Image.new("L", (fh.SIZE, fh.SIZE), 0)
    mask.paste(255, (16, 16, 40, 44))
    result, _ = fh.run(
        engine, spec, prompt="add image 2", mask=mask, mask_blur=2, padding=8,
        edit_references=(_reference(1), _reference(2)),
    )  # fmt: skip
    outside = np.asarray(blur_mask(mask, 2)) == 0
    diff = fh.changed(result)
    assert not diff[outside].any() and diff[16:44, 16:40].mean() > 0.5
    assert len(result.record["edit_references"]) == 2 and "alignment" in result.record


def test_regions_are_refused_in_one_line(engine, spec):
    from core.conditioning.regions import Region

    region = Region(fh.left_half_mask(), "a blue sea")
    with pytest.raises(InvalidRequest, match="regional prompts work with .* not Qwen-Image-Edit-"):
        fh.run(engine, spec, regions=(region,))


def test_more_references_than_the_model_takes_are_refused_in_one_line(engine, spec):
    three = tuple(_reference(n) for n in range(3))
    with pytest.raises(InvalidRequest, match="Qwen-Image-Edit-Plus takes at most 2 reference"):
        fh.run(engine, spec, edit_references=three)


def test_families_without_references_refuse_them():
    from core.engine.edit import check_edit_request
    from core.models.families import FAMILIES

    for key in ("qwen-image-edit", "sdxl", "flux-kontext"):
        with pytest.raises(InvalidRequest, match="takes no reference pictures .*Edit-Plus"):
            check_edit_request(FAMILIES[key], False, 1)
    check_edit_request(FAMILIES["qwen-image-edit-plus"], False, 2)


@pytest.mark.usefixtures("one_cli_engine")
def test_cli_reference_without_ip_adapter_is_an_edit_reference(plus_dir, tmp_path):
    from core.cli.main import main
    from core.metadata import read_metadata

    picture, ref1, ref2 = tmp_path / "in.png", tmp_path / "r1.png", tmp_path / "r2.png"
    make_image(fh.SIZE, fh.SIZE).save(picture)
    _reference(1).save(ref1)
    _reference(2).save(ref2)
    base = ["generate", str(picture), "--model", str(plus_dir), "--device", "cpu"]
    base += ["--steps", "2", "--seed", "3", "--work-size", "input", "--prompt", "add image 2"]
    out = tmp_path / "out.png"
    assert main([*base, "-o", str(out), "--reference", str(ref1), "--reference", str(ref2)]) == 0
    meta = read_metadata(out)
    record = meta["record"]
    assert record["model"]["family"] == "qwen-image-edit-plus"
    assert [r["hash"] for r in record["edit_references"]] == [
        pixel_hash(_reference(1)),
        pixel_hash(_reference(2)),
    ]
    assert meta["parsed"]["edit_references"] == record["edit_references"]  # from the infotext


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI test reuses this module's engine (the model is loaded once)."""
    return engine
