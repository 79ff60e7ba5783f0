"""Faults a careful reading found: strength map + mask, soft map edges, previews per sampler,
model identity, fp16 VAEs. Each test fails on the engine as it was before the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.engine import Engine
from core.engine.vae import encode
from core.events import PassStarted, StepPreview
from core.models import ModelSpec, resolve_dtype
from core.requests import SCHEDULER_NAMES, PassRequest
from core.sampling.previews import LatentPreviewer
from tests.tiny_models.images import make_image


@pytest.fixture(scope="module")
def engine():
    return Engine(previews=False)


def _left_right_map(left: int, right: int, size=(128, 64)) -> Image.Image:
    strength_map = Image.new("L", size, right)
    strength_map.paste(left, (0, 0, size[0] // 2, size[1]))
    return strength_map


def test_steps_come_from_the_map_inside_the_mask(engine, tiny_model_dir):
    mask = Image.new("L", (128, 64), 0)
    mask.paste(255, (0, 0, 64, 64))  # only the left half, where the map is 0.4
    events: list = []
    result = engine.run_pass(
        PassRequest(
            make_image(128, 64),
            "x",
            steps=10,
            seed=1,
            mask=mask,
            strength_map=_left_right_map(102, 255),
        ),
        ModelSpec(str(tiny_model_dir)),
        on_event=events.append,
    )
    started = next(e for e in events if isinstance(e, PassStarted))
    previews = [e for e in events if isinstance(e, StepPreview)]
    assert started.effective_steps == 4 == result.effective_steps == len(previews)
    assert result.record["effective_steps"] == 4


def test_a_map_that_is_zero_inside_the_mask_returns_the_input(engine, tiny_model_dir):
    image = make_image(128, 64)
    mask = Image.new("L", (128, 64), 0)
    mask.paste(255, (0, 0, 64, 64))
    result = engine.run_pass(
        PassRequest(image, "x", steps=10, mask=mask, strength_map=_left_right_map(0, 255)),
        ModelSpec(str(tiny_model_dir)),
    )
    assert result.skipped and result.image.tobytes() == image.tobytes()
    assert "inside the mask" in result.note


def test_the_map_edge_is_blended_not_cut(engine, tiny_model_dir):
    image = make_image(128, 64)
    ramp = np.zeros((64, 128), np.uint8)
    ramp[:, 64:] = np.linspace(0, 255, 64).astype(np.uint8)[None, :]  # fades in from 0
    result = engine.run_pass(
        PassRequest(image, "x", steps=10, seed=3, strength_map=Image.fromarray(ramp, "L")),
        ModelSpec(str(tiny_model_dir)),
    )
    change = np.abs(np.asarray(result.image, float) - np.asarray(image, float)).mean(axis=(0, 2))
    faint = change[65:70]  # map values 4..20: mostly the original
    strong = change[100:128]  # map values ≥ 145: all generated
    assert np.array_equal(np.asarray(result.image)[:, :64], np.asarray(image)[:, :64])
    assert faint.mean() < 0.6 * strong.mean()


class _VaePreviewer(LatentPreviewer):
    """Decodes previews with the model's own VAE, so they can be compared with the result."""

    def __init__(self, pipe) -> None:
        super().__init__()
        self.pipe = pipe

    def __call__(self, latents):
        with torch.no_grad():
            pixels = self.pipe.vae.decode(latents / self.pipe.vae.config.scaling_factor).sample
        return np.asarray(self.pipe.image_processor.postprocess(pixels, output_type="pil")[0])


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
def test_last_preview_is_close_to_the_result_for_every_sampler(tiny_model_dir, scheduler):
    engine = Engine(previews=True)
    spec = ModelSpec(str(tiny_model_dir))
    model = engine.models.load(spec)
    engine._previewers = {model.identity: _VaePreviewer(model.img2img_pipe)}
    events: list = []
    result = engine.run_pass(
        PassRequest(make_image(64, 64), "x", strength=0.8, steps=10, seed=4, scheduler=scheduler),
        spec,
        on_event=events.append,
    )
    previews = [e.image for e in events if isinstance(e, StepPreview)]
    final = np.asarray(result.image, float)
    last_error = np.abs(previews[-1].astype(float) - final).mean()
    first_error = np.abs(previews[0].astype(float) - final).mean()
    assert last_error < 12, f"{scheduler}: last preview is {last_error:.1f} levels off"
    assert last_error <= first_error


def test_caches_are_keyed_by_model_identity_not_object_id(tiny_model_dir, tiny_inpaint_dir):
    engine = Engine(previews=False)
    first = engine.models.load(ModelSpec(str(tiny_model_dir)))
    engine.scheduler_for(first, "Euler")
    engine.models.unload()
    second = engine.models.load(ModelSpec(str(tiny_model_dir)))
    assert first.identity != second.identity  # a reload is a new model, even for the same spec
    second.base_pipe.scheduler.register_to_config(beta_end=0.02)
    assert engine.scheduler_for(second, "Euler").config.beta_end == 0.02


def test_fp16_vae_encodes_in_fp32_when_it_asks_to(tiny_model_dir):
    from diffusers import StableDiffusionImg2ImgPipeline

    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(tiny_model_dir, dtype=torch.float16)
    pipe.vae.register_to_config(force_upcast=True)
    seen = []
    original = pipe.vae.encode
    pipe.vae.encode = lambda pixels: seen.append(pixels.dtype) or original(pixels)
    latents = encode(pipe, make_image(64, 64))
    assert seen == [torch.float32] and pipe.vae.dtype == torch.float16
    assert latents.dtype == torch.float16 and torch.isfinite(latents).all()


def test_a_blank_fp16_decode_is_redone_in_fp32(tiny_model_dir):
    engine = Engine(previews=False)
    spec = ModelSpec(str(tiny_model_dir), dtype="fp16")
    vae = engine.models.load(spec).img2img_pipe.vae
    original = vae.decode

    def overflowing(latents, *args, **kwargs):
        out = original(latents, *args, **kwargs)
        if vae.dtype == torch.float16:  # what an overflowing fp16 VAE gives
            out = (torch.full_like(out[0], float("nan")),)
        return out

    vae.decode = overflowing
    result = engine.run_pass(PassRequest(make_image(64, 64), "x", steps=4, seed=1), spec)
    assert np.asarray(result.image).any()
    assert vae.dtype == torch.float16


def test_auto_precision_is_fp16_only_on_cuda():
    assert resolve_dtype("auto", "cuda") == torch.float16
    assert resolve_dtype("auto", "mps") == torch.float32
    assert resolve_dtype("auto", "cpu") == torch.float32


def _scheduler(name: str):
    from core.sampling.schedulers import make_scheduler

    base = {"num_train_timesteps": 1000, "beta_schedule": "scaled_linear"}
    base.update(beta_start=0.00085, beta_end=0.012)
    scheduler = make_scheduler(name, base)
    scheduler.set_timesteps(10)
    return scheduler


@pytest.mark.parametrize("name", ["Euler", "Euler a", "DDIM", "DPM++ 2M", "UniPC"])
def test_the_preview_estimate_is_the_samplers_own_clean_image(name):
    from core.sampling.step_hooks import StepHooks

    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(1, 4, 8, 8, generator=generator) * 10
    noise_pred = torch.randn(1, 4, 8, 8, generator=generator)
    reference = _scheduler(name)
    t = reference.timesteps[0]
    if hasattr(reference, "convert_model_output"):  # DPM-Solver / UniPC: x0 prediction
        reference._init_step_index(t)
        expected = reference.convert_model_output(noise_pred, sample=sample)
    else:
        expected = reference.step(noise_pred, t, sample, generator=generator).pred_original_sample

    class Pipe:
        scheduler = _scheduler(name)

    hooks = StepHooks(Pipe, 10, lambda event: None, None, previewer=lambda latents: None)
    Pipe.scheduler.step(noise_pred, t, sample, return_dict=False)
    assert torch.allclose(hooks._x0, expected, atol=1e-4), name
