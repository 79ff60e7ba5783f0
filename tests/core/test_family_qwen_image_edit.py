"""Qwen-Image-Edit on a tiny model (tests.tiny_models.tiny_qwen_image --edit): detection, loading
with the processor built without torchvision, the instruction edit of the whole picture (every
step runs, strength noted as not applying), a masked pass through its own inpaint pipeline
(QwenImageEditInpaintPipeline, built from the loaded weights: strength applies, only-masked
works, pixels outside the blurred mask keep their bytes, previews at the pipeline's own size, a
LoRA acts, a cancel loses nothing, the same pixels as a bare diffusers call), a folder saved as
that pipeline, strength maps refused, the CLI. (Edit-Plus, which has no inpaint pipeline,
keeps the crop/align/paste-back path: test_family_qwen_image_edit_plus.)

The pipelines resize the picture they edit to about 1 MP (``calculate_dimensions``) before the
VAE sees it; on the tiny model that costs half a minute a call, so this module's fixture makes
the target area 64×64 (the engine's own behaviour is unchanged)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli.main import main
from core.engine import CancelToken, Engine
from core.errors import InvalidRequest, PassCancelled
from core.events import PassStarted, StepPreview
from core.imaging.masks import blur_mask
from core.metadata import read_metadata
from core.models import ModelSpec
from core.requests import PassRequest
from tests.core import family_helpers as fh
from tests.tiny_models.images import make_image, make_mask
from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image_edit


@pytest.fixture(scope="module", autouse=True)
def small_edit_area():
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit as edit_module
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_inpaint as inpaint_module

    with pytest.MonkeyPatch.context() as patch:
        for module in (edit_module, inpaint_module):
            original = module.calculate_dimensions
            patch.setattr(
                module,
                "calculate_dimensions",
                lambda area, ratio, original=original: original(64 * 64, ratio),
            )
        yield


@pytest.fixture(scope="module")
def edit_dir(tmp_path_factory):
    return build_tiny_qwen_image_edit(tmp_path_factory.mktemp("models") / "tiny-qwen-edit")


@pytest.fixture(scope="module")
def inpaint_dir(tmp_path_factory):
    """The same weights, saved by QwenImageEditInpaintPipeline."""
    folder = tmp_path_factory.mktemp("models") / "tiny-qwen-edit-inpaint"
    return build_tiny_qwen_image_edit(folder, inpaint=True)


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


def test_loads_as_an_edit_model_with_its_processor_and_inpaint_pipeline(engine, spec):
    model = engine.models.load(spec)
    assert model.family == "qwen-image-edit" and model.family_info.edit
    assert type(model.img2img_pipe).__name__ == "QwenImageEditPipeline"
    assert model.img2img_pipe.processor.image_processor is not None
    inpaint = model.inpaint_pipe  # from the loaded weights (from_pipe: no reload)
    assert type(inpaint).__name__ == "QwenImageEditInpaintPipeline"
    assert inpaint.transformer is model.img2img_pipe.transformer
    assert inpaint.processor is model.img2img_pipe.processor


def test_the_instruction_edits_the_whole_picture_running_every_step(engine, spec):
    result, events = fh.run(engine, spec, prompt="make it red", strength=0.3)
    assert result.image.size == (fh.SIZE, fh.SIZE) and fh.changed(result).mean() > 0.5
    assert result.effective_steps == fh.STEPS == len(fh.previews(events))
    assert "strength did not apply" in result.record["strength_note"]
    assert result.record["model"]["family"] == "qwen-image-edit"


def test_a_masked_pass_runs_its_inpaint_pipeline_with_the_strength(engine, spec):
    record = fh.check_inpaint(engine, spec, "qwen-image-edit")  # protected pixels keep their bytes
    assert record["pipeline"] == "QwenImageEditInpaintPipeline" and "strength_note" not in record
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
    assert (result.record["strength"], full.record["strength"]) == (0.7, 1.0)


def test_previews_follow_the_pipelines_own_size(engine, spec):
    """The inpaint pipeline picks its own size from the picture's aspect ratio (64×64 here for a
    96×64 picture): its latents are unpacked at that size, and the record says so."""
    picture = make_image(96, 64)
    mask = make_mask(96, 64)
    events: list = []
    request = PassRequest(
        image=picture, prompt="x", mask=mask, mask_blur=2, steps=fh.STEPS, strength=1.0, seed=3,
        work_size="input",
    )  # fmt: skip
    result = engine.run_pass(request, spec, on_event=events.append)
    assert result.image.size == (96, 64)
    shown = fh.previews(events)
    assert len(shown) == fh.STEPS and all(p.shape == (8, 8, 3) for p in shown)
    assert "works at 64x64" in result.record["work_size_note"]
    outside = np.asarray(blur_mask(mask, 2)) == 0
    assert (np.asarray(result.image) == np.asarray(picture))[outside].all()


def test_only_masked_on_a_big_picture_repaints_the_crop_alone(engine, spec):
    picture = make_image(1600, 1200)
    mask = make_mask(1600, 1200, box=(1000, 700, 1039, 729))  # a 40×30 spot
    request = PassRequest(
        image=picture, prompt="remove the spot", mask=mask, mask_blur=2, padding=8,
        inpaint_area="masked", steps=4, strength=0.5, seed=2,
    )  # fmt: skip
    result = engine.run_pass(request, spec)
    assert result.image.size == (1600, 1200)
    outside = np.asarray(blur_mask(mask, 2)) == 0
    before, after = np.asarray(picture), np.asarray(result.image)
    assert np.array_equal(before[outside], after[outside])
    assert (before[700:730, 1000:1040] != after[700:730, 1000:1040]).any(axis=-1).mean() > 0.5
    record = result.record
    assert record["pipeline"] == "QwenImageEditInpaintPipeline"
    assert record["inpaint_area"] == "masked" and record["effective_steps"] == 2


def test_a_cancel_mid_pass_loses_nothing(engine, spec):
    """Cancelled after its first step, the pass gives no result and leaves the picture and the
    loaded model as they were: the next pass equals one run before the cancel."""
    before, _ = fh.run(engine, spec, mask=fh.left_half_mask(), strength=1.0)
    loaded = engine.models.loaded
    picture = make_image(fh.SIZE, fh.SIZE)
    token = CancelToken()
    events: list = []

    def cancel_after_the_first_step(event) -> None:
        events.append(event)
        if isinstance(event, StepPreview):
            token.cancel()

    request = PassRequest(
        image=picture, prompt="a red cat", mask=fh.left_half_mask(), steps=fh.STEPS,
        strength=1.0, seed=7, work_size="input",
    )  # fmt: skip
    with pytest.raises(PassCancelled):
        engine.run_pass(request, spec, on_event=cancel_after_the_first_step, cancel=token)
    assert len(fh.previews(events)) == 1  # it stopped after the step it was cancelled in
    assert picture.tobytes() == make_image(fh.SIZE, fh.SIZE).tobytes()
    assert engine.models.loaded is loaded
    after, _ = fh.run(engine, spec, mask=fh.left_half_mask(), strength=1.0)
    assert after.image.tobytes() == before.image.tobytes()
    assert after.record["pipeline"] == "QwenImageEditInpaintPipeline"


def test_a_lora_acts_on_the_masked_pass(engine, spec, edit_dir, tmp_path):
    """LoRAs reach the inpaint pipeline (it shares the loaded transformer): weight 0 is
    byte-identical to none, weight 1 changes what is painted under the mask."""
    from core.conditioning.specs import LoraSpec
    from tests.tiny_models.tiny_lora_transformer import build_tiny_transformer_lora

    lora = str(build_tiny_transformer_lora(edit_dir, tmp_path / "edit-lora.safetensors"))
    mask = fh.left_half_mask()
    plain, _ = fh.run(engine, spec, mask=mask, strength=1.0)
    zero, _ = fh.run(engine, spec, mask=mask, strength=1.0, loras=(LoraSpec(lora, 0.0),))
    one, _ = fh.run(engine, spec, mask=mask, strength=1.0, loras=(LoraSpec(lora, 1.0),))
    assert zero.image.tobytes() == plain.image.tobytes()
    assert one.image.tobytes() != plain.image.tobytes()
    assert one.record["pipeline"] == "QwenImageEditInpaintPipeline"
    assert one.record["loras"][0]["weight"] == 1.0


def test_an_edit_inpaint_folder_loads_as_qwen_image_edit(engine, inpaint_dir):
    """A folder whose model_index.json names QwenImageEditInpaintPipeline (the same weights)
    is Qwen-Image-Edit: it edits whole without a mask and inpaints with one."""
    index = json.loads((inpaint_dir / "model_index.json").read_text(encoding="utf-8"))
    assert index["_class_name"] == "QwenImageEditInpaintPipeline"
    spec = ModelSpec(str(inpaint_dir), device="cpu")
    whole, _ = fh.run(engine, spec, prompt="make it red")
    model = engine.models.loaded
    assert model.family == "qwen-image-edit" and not model.is_inpaint_model
    assert type(model.img2img_pipe).__name__ == "QwenImageEditPipeline"
    assert whole.record["pipeline"] == "QwenImageEditPipeline"
    assert whole.effective_steps == fh.STEPS
    masked, _ = fh.run(engine, spec, mask=fh.left_half_mask())
    assert masked.record["pipeline"] == "QwenImageEditInpaintPipeline"


def test_a_full_size_pass_equals_a_bare_diffusers_call(engine, inpaint_dir):
    """The engine's masked pass at the picture's own size is diffusers' QwenImageEditInpaint
    call on the same weights and seed: the same pixels under the mask, the input's outside."""
    import torch
    from diffusers import QwenImageEditInpaintPipeline

    from core.models.qwen_processor import load_processor

    picture, mask = make_image(fh.SIZE, fh.SIZE), fh.left_half_mask()
    request = PassRequest(
        image=picture, prompt="make it red", mask=mask, mask_blur=0, color_match=False, steps=4,
        strength=0.5, cfg=4.0, seed=11, work_size="input",
    )  # fmt: skip
    ours = engine.run_pass(request, ModelSpec(str(inpaint_dir), device="cpu"))
    pipe = QwenImageEditInpaintPipeline.from_pretrained(
        inpaint_dir, processor=load_processor(inpaint_dir / "processor"), use_safetensors=True
    )
    pipe.set_progress_bar_config(disable=True)
    bare = pipe(
        image=picture, prompt="make it red", negative_prompt=" ", mask_image=mask,
        true_cfg_scale=4.0, strength=0.5, num_inference_steps=4,
        generator=torch.Generator("cpu").manual_seed(11),
    ).images[0]  # fmt: skip
    under = np.asarray(mask)[..., None] > 0
    expected = np.where(under, np.asarray(bare.convert("RGB")), np.asarray(picture))
    assert ours.effective_steps == 2 and ours.record["pipeline"] == "QwenImageEditInpaintPipeline"
    assert np.array_equal(np.asarray(ours.image), expected)


def test_strength_maps_are_refused_in_one_line(engine, spec):
    with pytest.raises(InvalidRequest, match="Qwen-Image-Edit edits from an instruction"):
        fh.run(engine, spec, strength_map=fh.two_level_map())


def test_regions_are_refused_in_one_line(engine, spec):
    from core.conditioning.regions import Region

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
        pipeline = "QwenImageEditInpaintPipeline" if extra else "QwenImageEditPipeline"
        assert record["pipeline"] == pipeline and "alignment" not in record
