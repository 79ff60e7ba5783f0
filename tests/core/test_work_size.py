"""Working resolution: big photos run at a size the model is made for and come back full size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.engine import Engine
from core.errors import InvalidRequest
from core.events import PassStarted
from core.metadata import parse_infotext, read_metadata, write_png
from core.models import ModelSpec
from core.requests import PassRequest
from core.work_size import choose_work_size, crop_work_size, parse_work_size
from tests.tiny_models.images import make_image


@pytest.mark.parametrize(
    ("size", "native", "expected"),
    [
        ((512, 512), 512, (512, 512)),  # native: kept
        ((768, 512), 512, (768, 512)),  # within twice the native area: kept
        ((4000, 3000), 512, (592, 440)),  # a phone photo: about 512² pixels, aspect kept
        ((4032, 3024), 1024, (1184, 888)),  # SDXL: about 1024² pixels
        ((200, 100), 512, (728, 360)),  # small inputs are scaled up to the native area
        ((101, 75), 64, (104, 72)),  # sides become multiples of 8
    ],
)
def test_auto_keeps_comfortable_sizes_and_scales_the_rest(size, native, expected):
    w, h = choose_work_size(size, "auto", native)
    assert (w, h) == expected
    assert w % 8 == 0 and h % 8 == 0
    assert abs(w / h - size[0] / size[1]) < 0.1  # snapping to 8 px moves small sizes most


def test_input_and_explicit_work_sizes():
    assert choose_work_size((4000, 3000), "input", 512) == (4000, 3000)
    assert choose_work_size((4000, 3000), "768x512", 512) == (768, 512)
    assert choose_work_size((4000, 3000), " 1024 × 768 ", 512) == (1024, 768)
    assert choose_work_size((300, 300), "auto", 512, multiple=64) == (512, 512)


def test_only_masked_crops_get_their_own_work_size():
    assert crop_work_size((40, 30), "auto", 512) == (592, 440)  # a small crop gets full detail
    assert crop_work_size((40, 32), "input", 512) == (40, 32)
    assert crop_work_size((400, 200), "256x256", 512) == (360, 184)  # WxH is a pixel budget


@pytest.mark.parametrize("bad", ["big", "0x0", "10x10", "9000x512", "512"])
def test_bad_work_sizes_are_one_line_errors(bad):
    with pytest.raises(InvalidRequest, match="work size"):
        parse_work_size(bad)
    with pytest.raises(InvalidRequest, match="work size"):
        PassRequest(make_image(64, 64), work_size=bad).validate()


@pytest.fixture(scope="module")
def engine():
    return Engine(previews=False)


def test_a_4000x3000_photo_runs_at_the_work_size_and_returns_full_size(engine, tiny_model_dir):
    photo = make_image(4000, 3000)
    mask = Image.new("L", photo.size, 0)
    mask.paste(255, (1000, 800, 2600, 2000))
    events: list = []
    result = engine.run_pass(
        PassRequest(photo, "x", strength=0.6, steps=5, seed=2, mask=mask, mask_blur=8),
        ModelSpec(str(tiny_model_dir)),
        on_event=events.append,
    )
    started = next(e for e in events if isinstance(e, PassStarted))
    assert (started.width, started.height) == (72, 56)  # the tiny model's native area is 64²
    assert result.image.size == (4000, 3000)
    before, after = np.asarray(photo), np.asarray(result.image)
    protected = np.ones(photo.size[::-1], bool)
    protected[800 - 40 : 2000 + 40, 1000 - 40 : 2600 + 40] = False  # mask + blur reach
    assert np.array_equal(before[protected], after[protected])
    assert (before[900:1900, 1100:2500] != after[900:1900, 1100:2500]).any(axis=-1).mean() > 0.5
    assert result.record["work_size"] == "72x56"
    assert (result.record["width"], result.record["height"]) == (4000, 3000)


def test_only_masked_on_a_big_photo_works_at_the_crops_size(engine, tiny_model_dir):
    photo = make_image(2000, 1500)
    mask = Image.new("L", photo.size, 0)
    mask.paste(255, (1000, 700, 1040, 730))  # a 40×30 spot
    events: list = []
    result = engine.run_pass(
        PassRequest(
            photo, "x", strength=0.7, steps=4, seed=1, mask=mask, inpaint_area="masked", padding=4
        ),
        ModelSpec(str(tiny_model_dir)),
        on_event=events.append,
    )
    assert result.image.size == (2000, 1500)
    before, after = np.asarray(photo), np.asarray(result.image)
    assert np.array_equal(before[:650], after[:650]) and np.array_equal(before[800:], after[800:])
    assert (before[700:730, 1000:1040] != after[700:730, 1000:1040]).any(axis=-1).mean() > 0.5


def test_work_size_is_the_a1111_size_and_round_trips(engine, tiny_model_dir, tmp_path):
    result = engine.run_pass(
        PassRequest(make_image(400, 300), "x", strength=0.5, steps=4, seed=1),
        ModelSpec(str(tiny_model_dir)),
    )
    assert result.image.size == (400, 300)
    write_png(tmp_path / "out.png", result.image, result.record)
    meta = read_metadata(tmp_path / "out.png")
    assert meta["record"]["work_size"] == "72x56"
    parsed = parse_infotext(meta["parameters"])
    assert (parsed["width"], parsed["height"]) == (72, 56)


def test_input_work_size_matches_a_bare_diffusers_call(engine, tiny_model_dir):
    from diffusers import EulerDiscreteScheduler, StableDiffusionImg2ImgPipeline

    image = make_image(96, 64)
    ours = engine.run_pass(
        PassRequest(image, "a house", strength=0.5, steps=6, cfg=5.0, seed=11, scheduler="Euler"),
        ModelSpec(str(tiny_model_dir)),
    )
    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(tiny_model_dir, safety_checker=None)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    import torch

    bare = pipe(
        "a house",
        image=image,
        strength=0.5,
        num_inference_steps=6,
        guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(11),
    ).images[0]
    assert ours.image.tobytes() == bare.convert("RGB").tobytes()


def test_native_size_is_guessed_from_the_model_files(tiny_model_dir, tiny_single_file, tmp_path):
    from core.library.native_size import native_size_of

    assert native_size_of(str(tiny_model_dir)) == 64  # tiny UNet: sample size 8 × 8
    assert native_size_of(str(tiny_single_file)) == 512  # an SD 1.x header
    assert native_size_of("stabilityai/stable-diffusion-xl-base-1.0") == 1024
    assert native_size_of(str(tmp_path / "missing.safetensors")) == 512
