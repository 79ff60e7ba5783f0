"""FLUX.2 Klein on a tiny model (tests.tiny_models.tiny_flux2_klein): detection, the
edit of the whole picture from an instruction (every step runs, no strength), reference pictures
after the edited one (they change the result), a masked pass through Klein's own inpaint pipeline
(strength applies, only-masked works, references too, pixels outside the blurred mask keep their
bytes), more references than the model takes refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.engine import Engine
from core.errors import InvalidRequest
from core.events import PassStarted
from core.imaging.masks import blur_mask
from core.models import ModelSpec
from tests.core import family_helpers as fh
from tests.tiny_models.images import make_textured_image
from tests.tiny_models.tiny_flux2_klein import build_tiny_flux2_klein


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    folder = build_tiny_flux2_klein(tmp_path_factory.mktemp("models") / "tiny-klein")
    return ModelSpec(str(folder), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine()  # with previews


def _reference(seed: int) -> Image.Image:
    return make_textured_image(72, 64, seed=seed)  # Klein takes pictures of 64 px or more


def test_loads_as_an_edit_model_that_takes_references(engine, spec):
    model = engine.models.load(spec)
    assert model.family == "flux2-klein" and model.family_info.edit
    assert type(model.img2img_pipe).__name__ == "Flux2KleinPipeline"
    inpaint = model.inpaint_pipe  # from the loaded weights, distilled as the model is
    assert type(inpaint).__name__ == "Flux2KleinInpaintPipeline" and inpaint.config.is_distilled
    assert inpaint.transformer is model.base_pipe.transformer


def test_the_instruction_edits_the_whole_picture_running_every_step(engine, spec):
    result, events = fh.run(engine, spec, prompt="make it red", strength=0.3)
    assert result.image.size == (fh.SIZE, fh.SIZE) and fh.changed(result).mean() > 0.5
    assert result.effective_steps == fh.STEPS == len(fh.previews(events))
    assert "strength did not apply" in result.record["strength_note"]
    assert result.record["pipeline"] == "Flux2KleinPipeline"
    assert result.record["model"]["family"] == "flux2-klein"


def test_references_change_the_edit(engine, spec):
    one, _ = fh.run(engine, spec, edit_references=(_reference(1),))
    two, _ = fh.run(engine, spec, edit_references=(_reference(1), _reference(2)))
    assert one.image.size == two.image.size == (fh.SIZE, fh.SIZE)
    assert not np.array_equal(np.asarray(one.image), np.asarray(two.image))
    assert len(two.record["edit_references"]) == 2


def _box_mask() -> Image.Image:
    mask = Image.new("L", (fh.SIZE, fh.SIZE), 0)
    mask.paste(255, (8, 8, 56, 56))
    return mask


def test_a_masked_pass_runs_kleins_inpaint_pipeline_with_its_strength(engine, spec):
    record = fh.check_inpaint(engine, spec, "flux2-klein")  # protected pixels keep their bytes
    assert record["pipeline"] == "Flux2KleinInpaintPipeline" and "strength_note" not in record
    assert "alignment" not in record  # latents outside the mask are the input's: nothing moved
    result, events = fh.run(engine, spec, mask=fh.left_half_mask(), strength=0.7)
    again, _ = fh.run(engine, spec, mask=fh.left_half_mask(), strength=0.7)
    assert result.image.size == (fh.SIZE, fh.SIZE)
    assert result.image.tobytes() == again.image.tobytes()  # same seed, same picture
    assert result.effective_steps == int(fh.STEPS * 0.7) == result.record["effective_steps"]
    started = [e for e in events if isinstance(e, PassStarted)]
    assert started[0].effective_steps == int(fh.STEPS * 0.7)
    shown = fh.previews(events)
    assert len(shown) == int(fh.STEPS * 0.7)
    assert all(p.shape == (fh.SIZE // 8, fh.SIZE // 8, 3) for p in shown)
    full, events = fh.run(engine, spec, mask=fh.left_half_mask(), strength=1.0)
    assert full.effective_steps == fh.STEPS == len(fh.previews(events))
    assert full.image.tobytes() != result.image.tobytes()  # the strength changed the result


def test_only_masked_inpaints_the_crop_and_keeps_every_pixel_outside(engine, spec):
    mask = _box_mask()
    result, _ = fh.run(
        engine, spec, mask=mask, mask_blur=2, padding=8, inpaint_area="masked",
        edit_references=(_reference(1),),
    )  # fmt: skip
    outside = np.asarray(blur_mask(mask, 2)) == 0
    diff = fh.changed(result)
    assert not diff[outside].any() and diff[8:56, 8:56].mean() > 0.5
    assert result.record["pipeline"] == "Flux2KleinInpaintPipeline"
    assert result.record["inpaint_area"] == "masked"


def test_references_reach_the_inpaint_pipeline(engine, spec):
    none, _ = fh.run(engine, spec, mask=fh.left_half_mask())
    one, _ = fh.run(engine, spec, mask=fh.left_half_mask(), edit_references=(_reference(1),))
    two, _ = fh.run(
        engine, spec, mask=fh.left_half_mask(), edit_references=(_reference(1), _reference(2))
    )
    pictures = {r.image.tobytes() for r in (none, one, two)}
    assert len(pictures) == 3  # each reference changes what is painted under the mask
    assert len(two.record["edit_references"]) == 2


def test_a_strength_map_is_refused_in_one_line(engine, spec):
    with pytest.raises(InvalidRequest, match="FLUX.2 Klein edits from an instruction: a strength"):
        fh.run(engine, spec, strength_map=fh.two_level_map())


def test_more_references_than_the_model_takes_are_refused(engine, spec):
    from core.engine.edit import check_edit_request
    from core.models.families import FAMILIES

    with pytest.raises(InvalidRequest, match="FLUX.2 Klein takes at most 4 reference"):
        check_edit_request(FAMILIES["flux2-klein"], False, 5)
    with pytest.raises(InvalidRequest, match="at most 4 edit references"):
        fh.run(engine, spec, edit_references=tuple(_reference(n) for n in range(5)))


def test_regions_are_refused_in_one_line(engine, spec):
    from core.conditioning.regions import Region

    region = Region(fh.left_half_mask(), "a blue sea")
    with pytest.raises(InvalidRequest, match="regional prompts work with .* not FLUX.2 Klein:"):
        fh.run(engine, spec, regions=(region,))


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI test reuses this module's engine (the model is loaded once)."""
    return engine


@pytest.mark.usefixtures("one_cli_engine")
def test_cli_edits_with_references_and_a_mask(spec, tmp_path):
    from core.cli.main import main
    from core.metadata import read_metadata
    from tests.tiny_models.images import make_image

    picture, mask, ref = tmp_path / "in.png", tmp_path / "mask.png", tmp_path / "ref.png"
    make_image(fh.SIZE, fh.SIZE).save(picture)
    fh.left_half_mask().save(mask)
    _reference(3).save(ref)
    out = tmp_path / "out.png"
    code = main(
        [
            "generate", str(picture), "-o", str(out), "--model", spec.reference, "--device",
            "cpu", "--steps", "2", "--seed", "3", "--work-size", "input", "--prompt",
            "put image 2 on the left", "--mask", str(mask), "--reference", str(ref),
        ]
    )  # fmt: skip
    assert code == 0
    record = read_metadata(out)["record"]
    assert record["model"]["family"] == "flux2-klein" and len(record["edit_references"]) == 1
    assert record["pipeline"] == "Flux2KleinInpaintPipeline" and record["kind"] == "inpaint"
