"""Engine invariants on the tiny random-weight models: steps, sizes, masks, determinism, cancel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.engine import CancelToken, Engine
from core.errors import InvalidRequest, PassCancelled
from core.events import PassStarted, StepPreview
from core.imaging import blur_mask
from core.models import ModelSpec
from core.requests import SCHEDULER_NAMES, PassRequest
from tests.tiny_models.images import make_image, make_mask


@pytest.fixture(scope="module")
def engine():
    return Engine()


def run(engine, spec, **kw):
    events = []
    kw.setdefault("prompt", "a red house")
    kw.setdefault("steps", 8)
    kw.setdefault("seed", 7)
    image = kw.pop("image", None) or make_image(96, 64)
    result = engine.run_pass(PassRequest(image=image, **kw), spec, on_event=events.append)
    return result, events


def test_strength_zero_returns_input_unchanged(engine, tiny_model_dir):
    image = make_image(96, 64)
    result, events = run(engine, ModelSpec(str(tiny_model_dir)), image=image, strength=0.0)
    assert result.skipped and result.effective_steps == 0
    assert "0 denoising steps" in result.note
    assert np.array_equal(np.asarray(result.image), np.asarray(image))
    assert not any(isinstance(e, StepPreview) for e in events)


def test_effective_steps_reported_and_one_preview_per_step(engine, tiny_model_dir):
    result, events = run(engine, ModelSpec(str(tiny_model_dir)), strength=0.5, steps=10)
    started = [e for e in events if isinstance(e, PassStarted)]
    previews = [e for e in events if isinstance(e, StepPreview)]
    assert started[0].effective_steps == 5 and started[0].total_steps == 10
    assert [p.step for p in previews] == [1, 2, 3, 4, 5]
    assert all(p.total == 5 for p in previews)
    assert previews[0].image.shape == (8, 12, 3) and previews[0].image.dtype == np.uint8
    assert result.effective_steps == 5 and result.record["effective_steps"] == 5


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
def test_every_scheduler_is_deterministic(engine, tiny_model_dir, scheduler):
    spec = ModelSpec(str(tiny_model_dir))
    first, _ = run(engine, spec, strength=0.6, scheduler=scheduler)
    again, _ = run(engine, spec, strength=0.6, scheduler=scheduler)
    other, _ = run(engine, spec, strength=0.6, scheduler=scheduler, seed=8)
    assert first.image.tobytes() == again.image.tobytes()
    assert first.image.tobytes() != other.image.tobytes()


def test_result_keeps_the_input_size_and_work_size_rounds_to_multiple_of_8(engine, tiny_model_dir):
    spec = ModelSpec(str(tiny_model_dir))
    result, events = run(engine, spec, image=make_image(100, 70), strength=0.5)
    assert result.image.size == (100, 70)
    started = next(e for e in events if isinstance(e, PassStarted))
    assert (started.width, started.height) == (104, 72)
    assert result.record["work_size"] == "104x72"
    result, _ = run(engine, spec, strength=0.5, width=128, height=96)
    assert result.image.size == (128, 96)


def test_random_seed_is_chosen_and_recorded(engine, tiny_model_dir):
    result, events = run(engine, ModelSpec(str(tiny_model_dir)), strength=0.5, seed=None)
    assert isinstance(result.seed, int) and result.record["seed"] == result.seed
    assert next(e for e in events if isinstance(e, PassStarted)).seed == result.seed


@pytest.mark.parametrize("area", ["whole", "masked"])
@pytest.mark.parametrize("variant", ["folder", "inpaint_folder", "single_file"])
def test_inpaint_keeps_unmasked_pixels_byte_identical(
    engine, tiny_model_dir, tiny_inpaint_dir, tiny_single_file, area, variant
):
    spec = {
        "folder": ModelSpec(str(tiny_model_dir)),
        "inpaint_folder": ModelSpec(str(tiny_inpaint_dir)),
        "single_file": ModelSpec(str(tiny_single_file), config=str(tiny_model_dir)),
    }[variant]
    image, mask = make_image(128, 96), make_mask(128, 96, box=(40, 30, 80, 60))
    result, _ = run(
        engine,
        spec,
        image=image,
        mask=mask,
        strength=0.75,
        mask_blur=4,
        inpaint_area=area,
        padding=8,
    )
    before, after = np.asarray(image), np.asarray(result.image)
    untouched = np.asarray(blur_mask(mask, 4)) == 0
    assert np.array_equal(before[untouched], after[untouched])
    inside = np.asarray(mask) == 255
    assert (before[inside] != after[inside]).mean() > 0.5
    assert result.record["kind"] == "inpaint" and result.record["inpaint_area"] == area


def test_empty_mask_changes_nothing(engine, tiny_model_dir):
    image = make_image(96, 64)
    result, _ = run(
        engine,
        ModelSpec(str(tiny_model_dir)),
        image=image,
        strength=0.8,
        mask=Image.new("L", (10, 10), 0),
    )
    assert result.skipped and "mask is empty" in result.note
    assert result.image.tobytes() == image.tobytes()


def test_cancel_stops_within_one_step(engine, tiny_model_dir):
    token = CancelToken()
    previews = []

    def on_event(event):
        if isinstance(event, StepPreview):
            previews.append(event.step)
            if event.step == 2:
                token.cancel()

    request = PassRequest(make_image(96, 64), "x", strength=1.0, steps=20, seed=1)
    with pytest.raises(PassCancelled):
        engine.run_pass(request, ModelSpec(str(tiny_model_dir)), on_event=on_event, cancel=token)
    assert previews == [1, 2]


@pytest.mark.parametrize(
    "changes",
    [{"strength": 1.5}, {"strength": -0.1}, {"steps": 0}, {"scheduler": "Bogus"}, {"cfg": -1}],
)
def test_invalid_values_fail_before_any_model_loads(engine, changes):
    request = PassRequest(make_image(), "x", **changes)
    with pytest.raises(InvalidRequest):
        engine.run_pass(request, ModelSpec("/no/such/model"))


def test_img2img_and_inpaint_share_the_loaded_weights(engine, tiny_model_dir):
    spec = ModelSpec(str(tiny_model_dir))
    run(engine, spec, strength=0.5)
    loaded = engine.models.loaded
    run(engine, spec, strength=0.5, mask=make_mask(96, 64))
    assert engine.models.loaded is loaded
    assert loaded.inpaint_pipe.unet is loaded.img2img_pipe.unet
    assert loaded.inpaint_pipe.vae is loaded.img2img_pipe.vae


def test_record_describes_the_pass(engine, tiny_model_dir):
    engine.models.load(ModelSpec(str(tiny_model_dir))).wait_for_hash(timeout=30)
    result, _ = run(
        engine,
        ModelSpec(str(tiny_model_dir)),
        strength=0.45,
        cfg=6.5,
        negative_prompt="blurry",
        scheduler="DDIM",
    )
    record = result.record
    assert record["kind"] == "img2img" and record["strength"] == 0.45
    assert record["cfg"] == 6.5 and record["scheduler"] == "DDIM"
    assert record["negative_prompt"] == "blurry" and record["seed"] == 7
    assert record["model"]["name"] == tiny_model_dir.name
    assert len(record["model"]["hash"]) == 10 and len(record["input_hash"]) >= 12
