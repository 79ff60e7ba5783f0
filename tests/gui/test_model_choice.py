"""The model choice once: the panel's state gives one ModelSpec, the jobs and workers carry it,
and the settings keep the plain values they always had."""

from __future__ import annotations

import dataclasses

from core.model_spec import ModelSpec
from gui.params.state import GenerationParams
from gui.window.settings import Settings
from tests.tiny_models.images import make_image

# The keys of ``last_params`` written by earlier versions (settings files must keep loading).
SAVED_KEYS = {
    "prompt",
    "negative_prompt",
    "strength",
    "steps",
    "cfg",
    "seed",
    "scheduler",
    "mask_blur",
    "inpaint_area",
    "padding",
    "soft_inpaint",
    "work_size",
    "device",
    "dtype",
    "memory",
    "quantize",
    "speed",
    "oom_retry",  # added with the window's out-of-memory retry (older settings lack it: fine)
    "compile",  # added with the window's compile box (older settings lack it: fine)
    "color_match",
    "seed_locked",
}


def test_the_state_gives_one_model_spec_with_every_model_field():
    params = GenerationParams(
        model="/models/a.safetensors",
        model_config="/configs/sdxl",
        device="cpu",
        dtype="bf16",
        memory="sequential",
        quantize="int8",
        speed="fast",
    )
    assert params.model_spec() == ModelSpec(
        "/models/a.safetensors",
        config="/configs/sdxl",
        device="cpu",
        dtype="bf16",
        memory="sequential",
        quantize="int8",
        speed="fast",
    )
    assert params.model_spec().speed == "fast"  # not part of equality: checked on its own
    assert GenerationParams(model="m").model_spec().config is None  # "" is no config folder


def test_the_request_is_typed_and_carries_no_model_field():
    params = GenerationParams(prompt="castle", strength=0.4, seed=7, color_match=False)
    request = params.pass_request(make_image(32, 32), seed=9)
    assert (request.prompt, request.strength, request.seed) == ("castle", 0.4, 9)
    assert request.color_match is False and params.seed == 7  # a given seed draws none
    fields = {f.name for f in dataclasses.fields(request)}
    assert not fields & {"model", "model_config", "device", "dtype", "seed_locked"}


def test_settings_keep_the_same_plain_keys_and_load_back(main_window):
    window = main_window
    window.state.update(model="/models/a", model_config="/cfg", memory="sequential", seed=5)
    window.save_settings()
    saved = Settings.load()
    assert set(saved.last_params) == SAVED_KEYS
    assert (saved.last_model, saved.last_model_config) == ("/models/a", "/cfg")
    assert saved.last_params["memory"] == "sequential" and saved.last_params["seed"] == 5
    restored = GenerationParams()
    restored.restore(saved.last_params)
    assert restored.memory == "sequential" and restored.seed == 5
