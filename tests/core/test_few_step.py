"""Few-step models on the tiny SD 1.x model renamed as a Turbo model and configured as an LCM
model: steps raised at low strength (never 0), the user told, guidance off, the scheduler they
need; and recognising few-step models and LoRAs by name, config and model card."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from core.models.few_step import (
    few_step_for_reference,
    fit_to_few_step,
    raised_steps,
)
from core.requests import PassRequest
from tests.core import lora_helpers
from tests.core.lora_helpers import lora_pass
from tests.tiny_models.images import make_image

lora_engine = lora_helpers.lora_engine


@pytest.fixture(scope="module")
def turbo_dir(tiny_model_dir, tmp_path_factory):
    return shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("models") / "tiny-sd-turbo")


@pytest.fixture(scope="module")
def lcm_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model under a plain name, with an LCMScheduler config."""
    folder = shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("models") / "tiny-distilled")
    config_file = folder / "scheduler" / "scheduler_config.json"
    config = json.loads(config_file.read_text())
    config["_class_name"] = "LCMScheduler"
    config_file.write_text(json.dumps(config))
    return folder


def test_a_turbo_model_at_low_strength_runs_a_step_instead_of_none(lora_engine, turbo_dir):
    image = make_image(64, 64)
    result = lora_pass(lora_engine, turbo_dir, image=image, strength=0.2, steps=4, cfg=7.0)
    assert not result.skipped and result.effective_steps == 1
    assert not np.array_equal(np.asarray(result.image), np.asarray(image))
    assert result.note.startswith("Turbo model: strength 0.20 × 4 steps would run 0; 5 steps")
    assert "CFG 7 → 0 (guidance off)" in result.note
    record = result.record
    assert (record["steps"], record["effective_steps"], record["cfg"]) == (5, 1, 0.0)
    assert record["few_step"]["kind"] == "turbo" and record["few_step"]["steps_asked"] == 4
    assert record["note"] == result.note
    assert (result.request.steps, result.request.cfg) == (4, 7.0)  # as asked
    ran = lora_engine.models.loaded.base_pipe.scheduler
    assert ran.config.timestep_spacing == "trailing"


def test_a_turbo_model_with_enough_steps_only_turns_guidance_off(lora_engine, turbo_dir):
    result = lora_pass(lora_engine, turbo_dir, strength=0.5, steps=4, cfg=7.0)
    assert result.effective_steps == 2 and result.record["steps"] == 4
    assert result.note == "Turbo model: CFG 7 → 0 (guidance off)"


def test_the_strength_map_path_raises_the_steps_too(lora_engine, turbo_dir):
    strength_map = Image.new("L", (64, 64), 40)  # peak 0.16: 4 steps would run 0
    result = lora_pass(lora_engine, turbo_dir, strength=1.0, steps=4, strength_map=strength_map)
    assert not result.skipped and result.effective_steps == 1
    assert result.record["steps"] == 7


def test_an_lcm_model_is_known_from_its_scheduler_config(lora_engine, lcm_dir):
    result = lora_pass(lora_engine, lcm_dir, strength=0.3, steps=4, cfg=7.0)
    assert result.effective_steps == 2 and result.record["steps"] == 7
    assert result.record["cfg"] == 1.0
    assert result.note.startswith("LCM model: strength 0.30 × 4 steps would run 1; 7 steps run 2")
    assert type(lora_engine.models.loaded.base_pipe.scheduler).__name__ == "LCMScheduler"


def test_strength_zero_still_changes_nothing(lora_engine, turbo_dir):
    result = lora_pass(lora_engine, turbo_dir, strength=0.0, steps=4)
    assert result.skipped and result.effective_steps == 0


@pytest.mark.parametrize(
    ("reference", "kind", "min_steps"),
    [
        ("stabilityai/sdxl-turbo", "turbo", 1),
        ("/models/Stable-diffusion/dreamshaperXL_turbo.safetensors", "turbo", 1),
        ("SimianLuo/LCM_Dreamshaper_v7", "lcm", 2),
        ("/hub/models--ByteDance--SDXL-Lightning/snapshots/abc123", "lightning", 2),
        ("black-forest-labs/FLUX.1-schnell", "schnell", 1),
        ("/models/dmd2_sdxl_4step.safetensors", "dmd2", 2),
        ("/models/Hyper-SDXL-1step.safetensors", "hyper", 1),
        ("/models/hyperrealism_v3.safetensors", None, 0),
        ("/models/realisticVision.safetensors", None, 0),
    ],
)
def test_few_step_models_are_known_by_name(reference, kind, min_steps):
    few = few_step_for_reference(reference)
    assert (few.kind, few.min_steps) == (kind, min_steps) if kind else few is None


def test_few_step_loras_and_model_cards(tmp_path):
    assert few_step_for_reference("/m/v1-5", ["/loras/lcm-lora-sdv1-5.safetensors"]).kind == "lcm"
    assert few_step_for_reference("/m/v1-5", ["sdxl_lightning_4step_lora"]).kind == "lightning"
    assert few_step_for_reference("/m/v1-5", ["Hyper-SD15-8steps-lora"]).kind == "hyper"
    assert few_step_for_reference("/m/v1-5", ["detail-tweaker"]) is None
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "README.md").write_text("# SDXL-Turbo\nA fast generative text-to-image model.")
    assert few_step_for_reference(str(folder)).kind == "turbo"


def test_raised_steps_and_what_is_left_alone():
    assert raised_steps(4, 0.3, 2) == 7
    assert raised_steps(4, 0.001, 1) == 1000
    turbo = few_step_for_reference("sd-turbo")
    request = PassRequest(image=make_image(64, 64), steps=4, strength=0.5, cfg=1.0)
    assert fit_to_few_step(request, turbo, 0.5)[1] == ""  # 2 steps run; guidance is off
    assert fit_to_few_step(request, None, 0.5) == (request, "")
