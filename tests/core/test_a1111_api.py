"""The A1111-compatible API driven by a public A1111 client (``webuiapi``) against a real worker
on 127.0.0.1: img2img equal to a local pass, inpaint with a LoRA tag, a ControlNet unit, progress
polling with previews, skip and interrupt; every field the client reads is present, and the
returned PNG reads back with our reader and a third-party A1111 parser (``sd-parsers``)."""

from __future__ import annotations

import base64
import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import webuiapi
from PIL import Image
from sd_parsers import ParserManager

from core.engine import Engine
from core.metadata import read_metadata
from core.models import ModelSpec
from core.requests import PassRequest
from tests.core.a1111_helpers import TOKEN, client, pixels, square_mask
from tests.core.remote_helpers import running_worker
from tests.tiny_models.images import make_image

LORA = "tiny-style"
CONTROLNET = "ink-lines"


@pytest.fixture(scope="module")
def a1111_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("a1111-home")


@pytest.fixture(autouse=True)
def _worker_library(a1111_home, monkeypatch):
    """Every test here (and the worker's passes, which resolve ``<lora:…>`` tags in the user's
    library) sees the worker's library."""
    monkeypatch.setenv("IMG2IMG_STUDIO_DATA_DIR", str(a1111_home / "data"))


@pytest.fixture(scope="module")
def worker(tiny_model_dir, a1111_home):
    from core.library.registry import ModelLibrary
    from tests.tiny_models.tiny_controlnet import build_tiny_controlnet
    from tests.tiny_models.tiny_lora import build_tiny_lora

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMG2IMG_STUDIO_DATA_DIR", str(a1111_home / "data"))
        models = a1111_home / "models"
        build_tiny_lora(tiny_model_dir, models / "loras" / f"{LORA}.safetensors", seed=1)
        build_tiny_controlnet(models / "controlnet" / CONTROLNET, model_dir=tiny_model_dir)
        ModelLibrary().scan(models, hashes=False)
        with running_worker(str(tiny_model_dir), TOKEN) as url:
            yield url


@pytest.fixture(scope="module")
def local_engine():
    return Engine(previews=False)


def _local(engine: Engine, model_dir: Path, **values) -> np.ndarray:
    result = engine.run_pass(PassRequest(**values), ModelSpec(str(model_dir), device="cpu"))
    return pixels(result.image)


def test_img2img_from_the_client_equals_a_local_pass_and_reads_back(
    worker, tiny_model_dir, local_engine
):
    api = client(worker)
    picture = make_image(64, 64, seed=2)
    settings = {"prompt": "a cat", "seed": 5, "cfg_scale": 1.0, "width": 64, "height": 64}
    result = api.img2img(images=[picture], denoising_strength=0.5, steps=4, **settings)

    local = _local(
        local_engine,
        tiny_model_dir,
        image=picture,
        prompt="a cat",
        strength=0.5,
        steps=4,
        cfg=1.0,
        seed=5,
        scheduler="Euler a",
        width=64,
        height=64,
    )
    assert np.array_equal(pixels(result.image), local)
    # Every field the client (and the editor plugins) read is there.
    assert len(result.json["images"]) == 1 and result.image.format == "PNG"
    assert result.info["all_seeds"] == [5] and result.info["seed"] == 5
    assert result.info["infotexts"][0].startswith("a cat\nSteps: 4, Sampler: Euler a")
    assert result.info["sd_model_name"] == "tiny-sd" and result.info["denoising_strength"] == 0.5
    assert result.parameters["init_images"] is None and result.parameters["prompt"] == "a cat"
    # The PNG reads back with our reader, a third-party A1111 parser and A1111's png-info.
    ours = read_metadata(result.image)["parsed"]
    assert (ours["seed"], ours["steps"], ours["sampler"], ours["strength"]) == (
        5,
        4,
        "Euler a",
        0.5,
    )
    theirs = ParserManager().parse(result.image)
    assert theirs.generator.name == "AUTOMATIC1111"
    (sampler,) = theirs.samplers
    assert sampler.name == "Euler a" and sampler.parameters["seed"] == "5"
    assert theirs.full_prompt == "a cat" and sampler.model.name == "tiny-sd"
    info = api.png_info(result.image)
    assert info.parameters["Seed"] == "5" and info.parameters["Prompt"] == "a cat"
    assert info.parameters["Size-1"] == 64


def test_inpaint_with_a_lora_tag_changes_only_the_mask_and_names_the_lora(
    worker, tiny_model_dir, local_engine
):
    api = client(worker)
    picture, mask = make_image(64, 64, seed=3), square_mask()
    asked = {
        "denoising_strength": 0.9,
        "steps": 4,
        "cfg_scale": 1.0,
        "seed": 7,
        "width": 64,
        "height": 64,
        "mask_image": mask,
        "inpainting_fill": 1,
        "inpaint_full_res": False,
    }
    tagged = api.img2img(images=[picture], prompt=f"a cat <lora:{LORA}:0.8>", **asked)
    plain = api.img2img(images=[picture], prompt="a cat", **asked)

    inside = (slice(20, 44), slice(20, 44))
    assert not np.array_equal(pixels(tagged.image)[inside], pixels(plain.image)[inside])
    assert np.array_equal(pixels(tagged.image)[:4], pixels(picture)[:4])  # beyond mask and blur
    assert tagged.info["notes"] == []  # inpainting_fill 1 ("original") is what the engine does
    local = _local(
        local_engine,
        tiny_model_dir,
        image=picture,
        prompt=f"a cat <lora:{LORA}:0.8>",
        strength=0.9,
        steps=4,
        cfg=1.0,
        seed=7,
        scheduler="Euler a",
        width=64,
        height=64,
        mask=mask,
        mask_blur=4,
    )
    assert np.array_equal(pixels(tagged.image), local)
    meta = read_metadata(tagged.image)
    assert meta["record"]["loras"][0]["name"] == LORA and meta["record"]["kind"] == "inpaint"
    assert LORA in meta["parsed"]["lora_hashes"] and meta["parsed"]["mask_blur"] == 4
    theirs = ParserManager().parse(tagged.image)
    assert f"<lora:{LORA}:0.8>" in theirs.full_prompt


def test_a_controlnet_unit_becomes_a_control_layer(worker):
    api = client(worker)
    picture, lines = make_image(64, 64, seed=4), make_image(64, 64, seed=9)
    asked = {
        "prompt": "a cat",
        "denoising_strength": 1.0,
        "steps": 3,
        "cfg_scale": 1.0,
        "seed": 11,
        "width": 64,
        "height": 64,
    }
    unit = webuiapi.ControlNetUnit(
        image=lines,
        module="canny",
        model=f"{CONTROLNET} [0a1b2c3d]",
        threshold_a=50,
        threshold_b=150,
    )
    # A dict of our own: webuiapi adds the units to its (shared, mutable) default one.
    controlled = api.img2img(
        images=[picture], controlnet_units=[unit], alwayson_scripts={}, **asked
    )
    plain = api.img2img(images=[picture], **asked)

    assert not np.array_equal(pixels(controlled.image), pixels(plain.image))
    infotext = controlled.info["infotexts"][0]
    # The model is named as the client named it: no path of the worker's (issue 22).
    assert f'ControlNet 0: "Module: canny, Model: {CONTROLNET}, ' in infotext
    assert "Weight: 1, Threshold A: 50, Threshold B: 150" in infotext
    layer = read_metadata(controlled.image)["record"]["controls"][0]
    assert (layer["kind"], layer["low_threshold"], layer["high_threshold"]) == ("canny", 50, 150)


def _run_in_thread(call) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def run() -> None:
        try:
            box["result"] = call()
        except Exception as exc:  # surfaced by the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def _wait_for(api: webuiapi.WebUIApi, ready, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = api.get_progress()
        if ready(progress):
            return progress
        time.sleep(0.05)
    raise AssertionError(f"progress never got there: {progress}")


def test_progress_polls_a_running_pass_then_skip_and_interrupt_end_it(worker):
    api, poller = client(worker), client(worker)
    picture = make_image(64, 64, seed=5)
    long = {
        "prompt": "a cat",
        "denoising_strength": 1.0,
        "steps": 1000,
        "cfg_scale": 1.0,
        "seed": 40,
        "width": 64,
        "height": 64,
        "batch_size": 2,
    }
    thread, box = _run_in_thread(lambda: api.img2img(images=[picture], **long))

    def sampling(job_no: int):
        return lambda p: p["state"]["job_no"] == job_no and p["state"]["sampling_step"] >= 2

    progress = _wait_for(poller, lambda p: sampling(0)(p) and p["current_image"])
    state = progress["state"]
    assert state["job"] == "scripts_img2img" and state["job_count"] == 2
    assert state["sampling_steps"] == 1000 and 0 < progress["progress"] < 0.5
    assert progress["eta_relative"] > 0 and "Sampling step" in progress["textinfo"]
    preview = Image.open(io.BytesIO(base64.b64decode(progress["current_image"])))
    assert preview.format == "PNG" and preview.size[0] > 0

    assert poller.skip() == {}  # the first picture ends, the second starts
    progress = _wait_for(poller, sampling(1))
    assert progress["state"]["skipped"] is True and progress["progress"] > 0.5
    assert poller.interrupt() == {}
    thread.join(timeout=120)
    assert "error" not in box, box.get("error")
    result = box["result"]
    assert result.images == [] and "interrupted: 0 of 2 pictures finished" in result.info["notes"]
    idle = poller.get_progress()
    assert idle["progress"] == 0 and idle["state"]["job_count"] == 0
    assert idle["current_image"] is None


def test_listings_and_switching_the_model_through_options(worker):
    api = client(worker)
    assert api.util_get_model_names() == ["tiny-sd"]
    assert {"Euler a", "DPM++ 2M Karras"} <= set(api.util_get_sampler_names())
    assert api.util_get_scheduler_names() == ["automatic", "karras"]
    (lora,) = api.get_loras()
    assert lora["name"] == LORA and "/" not in lora["path"]  # no server path leaves the worker
    assert api.controlnet_model_list() == [CONTROLNET]
    api.util_set_model("tiny-sd")
    assert api.util_get_current_model() == "tiny-sd"
    refused = api.session.post(f"{api.baseurl}/options", json={"sd_model_checkpoint": "/etc"})
    assert refused.status_code == 422 and "does not offer" in refused.json()["detail"][0]["msg"]
