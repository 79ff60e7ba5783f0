"""Qwen-Image-Edit on a tiny model (tests.tiny_models.tiny_qwen_image --edit): detection, loading
with the processor built without torchvision, the instruction edit of the whole picture (every
step runs, strength noted as not applying), the edit confined to a mask (the crop around it is
edited, aligned with core.imaging.align and pasted back: pixels outside the blurred mask keep
their bytes, the correction or its absence is recorded), strength maps refused, the CLI.

The pipeline resizes the picture it edits to about 1 MP (``calculate_dimensions``) before the
VAE sees it; on the tiny model that costs half a minute a call, so this module's fixture makes
the target area 64×64 (the engine's own behaviour is unchanged)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.cli.main import main
from core.engine import Engine
from core.engine.pass_run import PassRun
from core.errors import InvalidRequest
from core.imaging.align import move
from core.imaging.masks import blur_mask
from core.metadata import read_metadata
from core.models import ModelSpec
from core.requests import PassRequest
from tests.core import family_helpers as fh
from tests.tiny_models.images import make_image, make_mask, make_textured_image
from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image_edit


@pytest.fixture(scope="module", autouse=True)
def small_edit_area():
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit as edit_module

    original = edit_module.calculate_dimensions
    edit_module.calculate_dimensions = lambda area, ratio: original(64 * 64, ratio)
    yield
    edit_module.calculate_dimensions = original


@pytest.fixture(scope="module")
def edit_dir(tmp_path_factory):
    return build_tiny_qwen_image_edit(tmp_path_factory.mktemp("models") / "tiny-qwen-edit")


@pytest.fixture(scope="module")
def spec(edit_dir):
    return ModelSpec(str(edit_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine()  # with previews


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI test reuses this module's engine (the model is loaded once)."""
    return engine


def test_loads_as_an_edit_model_with_its_processor(engine, spec):
    model = engine.models.load(spec)
    assert model.family == "qwen-image-edit" and model.family_info.edit
    assert type(model.img2img_pipe).__name__ == "QwenImageEditPipeline"
    assert model.img2img_pipe.processor.image_processor is not None


def test_the_instruction_edits_the_whole_picture_running_every_step(engine, spec):
    result, events = fh.run(engine, spec, prompt="make it red", strength=0.3)
    assert result.image.size == (fh.SIZE, fh.SIZE) and fh.changed(result).mean() > 0.5
    assert result.effective_steps == fh.STEPS == len(fh.previews(events))
    assert "strength did not apply" in result.record["strength_note"]
    assert result.record["model"]["family"] == "qwen-image-edit"


def test_a_masked_edit_keeps_every_pixel_outside_the_blurred_mask(engine, spec):
    mask = Image.new("L", (fh.SIZE, fh.SIZE), 0)
    mask.paste(255, (16, 16, 40, 44))
    result, _ = fh.run(engine, spec, prompt="remove the cup", mask=mask, mask_blur=2, padding=8)
    outside = np.asarray(blur_mask(mask, 2)) == 0
    diff = fh.changed(result)
    assert not diff[outside].any()
    assert diff[16:44, 16:40].mean() > 0.5
    record = result.record
    assert record["kind"] == "inpaint" and record["effective_steps"] == fh.STEPS
    # the tiny model's output is noise: nothing to align on, and the user is told
    assert record["alignment"]["estimated"] is False
    assert "could not be aligned" in result.note
    # colour-matched to the picture around the mask like every masked pass (issue 25)
    assert record["color_match"] is True
    assert record["seam_delta_e"] < record["seam_delta_e_original"] + 1.5


def test_a_moved_edit_is_aligned_before_it_is_pasted_back(engine, spec, monkeypatch):
    """An edit that shifts and zooms its output (as Qwen-Image-Edit does) comes back aligned:
    the crop's movement is measured and undone, and recorded."""
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


def test_strength_maps_are_refused_in_one_line(engine, spec):
    with pytest.raises(InvalidRequest, match="Qwen-Image-Edit edits from an instruction"):
        fh.run(engine, spec, strength_map=fh.two_level_map())


def test_regions_are_refused_in_one_line(engine, spec):
    from core.conditioning.regions import Region
    from core.errors import InvalidRequest

    region = Region(fh.left_half_mask(), "a blue sea")
    with pytest.raises(InvalidRequest, match="regional prompts work with .* not Qwen-Image-Edit:"):
        fh.run(engine, spec, regions=(region,))


@pytest.mark.usefixtures("one_cli_engine")
def test_cli_edits_with_and_without_a_mask(edit_dir, tmp_path):
    picture, mask = tmp_path / "in.png", tmp_path / "mask.png"
    make_image(fh.SIZE, fh.SIZE).save(picture)
    fh.left_half_mask().save(mask)
    base = ["--model", str(edit_dir), "--device", "cpu", "--steps", "2", "--seed", "3"]
    base += ["--work-size", "input", "--prompt", "make the sky stormy"]
    for name, extra in (("whole", []), ("masked", ["--mask", str(mask)])):
        out = tmp_path / f"out-{name}.png"
        assert main(["generate", str(picture), "-o", str(out), *base, *extra]) == 0
        record = read_metadata(out)["record"]
        assert record["model"]["family"] == "qwen-image-edit"
        assert record["prompt"] == "make the sky stormy"
        assert ("alignment" in record) == bool(extra)
