"""Request bodies well-known A1111 clients send, replayed against a real worker, and the bodies
users get wrong: FastAPI-style 422 answers, pictures bounded before decoding, the token.

Replayed bodies (tests/core/fixtures/a1111/):
- ``open_webui_txt2img.json``: Open WebUI's image generation, ``image_generations`` in
  open-webui ``backend/open_webui/routers/images.py`` (prompt, batch_size, width, height, steps,
  negative_prompt, cfg_scale — a string in its settings form —, sampler_name, scheduler);
- ``gimpfusion_inpaint.json``: the GIMP plugin Stable-Gimpfusion's inpainting
  (ArtBIT/stable-gimpfusion ``stable_gimpfusion.py``, ``StableGimpfusionPlugin.inpainting``:
  raw base64 PNG layer and mask, ``sampler_index``, ``inpaint_full_res_padding`` 10).
"""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from sd_parsers import ParserManager

from core.engine import Engine
from core.metadata import read_metadata
from core.models import ModelSpec
from core.remote.a1111 import pictures
from core.remote.a1111.mapping import TXT2IMG_GREY, img2img_plan
from core.remote.a1111.schema import A1111Invalid
from core.remote.offered import OfferedModels
from core.remote.protocol import MAX_REQUEST_BYTES
from core.requests import PassRequest
from tests.core.a1111_helpers import TOKEN, b64_png, pixels, square_mask
from tests.core.remote_helpers import running_worker
from tests.tiny_models.images import make_image

FIXTURES = Path(__file__).parent / "fixtures" / "a1111"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def worker(tiny_model_dir):
    with running_worker(str(tiny_model_dir), TOKEN) as url:
        yield url


def _post(url: str, route: str, body: object, headers: dict | None = None) -> requests.Response:
    return requests.post(f"{url}/sdapi/v1/{route}", json=body, headers=AUTH | (headers or {}))


def _fixture(name: str, **pictures_b64: str) -> dict:
    text = (FIXTURES / name).read_text()
    for key, value in pictures_b64.items():
        text = text.replace("{{" + key + "}}", value)
    return json.loads(text)


def _image(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_open_webui_txt2img_body(worker, tiny_model_dir):
    answer = _post(worker, "txt2img", _fixture("open_webui_txt2img.json"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    info = json.loads(body["info"])  # Open WebUI stores res["info"] with each picture
    first, second = (_image(b64) for b64 in body["images"])
    assert first.size == second.size == (64, 64)
    assert info["all_seeds"] == [info["seed"], info["seed"] + 1]
    assert any("'karras' is not offered with Euler a" in note for note in info["notes"])
    record = read_metadata(first)["record"]
    assert record["strength"] == 1.0 and record["cfg"] == 1.5 and record["steps"] == 3
    assert ParserManager().parse(first).full_prompt == "a lighthouse at dusk"
    # txt2img is an img2img pass at strength 1 from a mid-grey picture (docs/API.md).
    grey = Image.new("RGB", (64, 64), TXT2IMG_GREY)
    local = Engine(previews=False).run_pass(
        PassRequest(
            grey,
            "a lighthouse at dusk",
            strength=1.0,
            steps=3,
            cfg=1.5,
            seed=info["seed"],
            scheduler="Euler a",
            width=64,
            height=64,
        ),
        ModelSpec(str(tiny_model_dir), device="cpu"),
    )
    assert np.array_equal(pixels(first), pixels(local.image))


def test_gimp_plugin_inpaint_body(worker):
    picture, mask = make_image(64, 64, seed=6), square_mask(box=(24, 24, 40, 40))
    body = _fixture("gimpfusion_inpaint.json", init_image=b64_png(picture), mask=b64_png(mask))
    answer = _post(worker, "img2img", body)
    assert answer.status_code == 200, answer.text
    info = json.loads(answer.json()["info"])
    assert info["all_seeds"] == [21] and info["infotexts"][0].startswith("a red door\n")
    result = _image(answer.json()["images"][0])
    record = read_metadata(result)["record"]
    assert (record["inpaint_area"], record["padding"], record["scheduler"]) == (
        "masked",
        10,
        "Euler a",
    )
    assert np.array_equal(pixels(result)[:10], pixels(picture)[:10])  # outside mask and blur
    assert info["notes"] == []  # inpainting_fill 0, "fill", is done (below)


@pytest.mark.parametrize(
    ("change", "loc", "message"),
    [
        ({"steps": "many"}, ["body", "steps"], "valid integer"),
        ({"init_images": []}, ["body", "init_images"], "at least 1 item"),
        ({"sampler_name": "Heun"}, ["body", "sampler_name"], "Sampler 'Heun' not found"),
        ({"init_images": ["not base64!!"]}, ["body", "init_images", 0], "not valid base64"),
        ({"init_images": ["https://example.com/a.png"]}, ["body", "init_images", 0], "no URL"),
        ({"prompt": "<lora:../../etc/x:1>"}, ["body"], "not a path"),
        ({"prompt": "<lora:missing:1>"}, ["body"], "no LoRA named 'missing'"),
        ({"denoising_strength": 1.5}, ["body"], "strength must be between 0 and 1"),
        (
            {"override_settings": {"sd_model_checkpoint": "/etc"}},
            ["body", "override_settings", "sd_model_checkpoint"],
            "does not offer",
        ),
        ({"script_name": "x/y/z plot"}, ["body", "script_name"], "Script 'x/y/z plot' not found"),
        (
            {"alwayson_scripts": {"ADetailer": {"args": [True]}}},
            ["body", "alwayson_scripts", "ADetailer"],
            "always on script ADetailer not found",
        ),
        (
            {"alwayson_scripts": {"controlnet": {"args": [{"module": "mlsd", "model": "x"}]}}},
            ["body", "alwayson_scripts", "controlnet", "args", 0],
            "module 'mlsd' is not supported",
        ),
        (
            {"alwayson_scripts": {"controlnet": {"args": [{"module": "canny", "model": "/x"}]}}},
            ["body"],
            "no controlnet model '/x'",
        ),
    ],
)
def test_a_bad_body_is_a_422_with_fastapi_detail(worker, change, loc, message):
    body = {"init_images": [b64_png(make_image(64, 64))], "steps": 2, **change}
    answer = _post(worker, "img2img", body)
    assert answer.status_code == 422, answer.text
    (detail,) = answer.json()["detail"]
    assert detail["loc"] == loc and message in detail["msg"] and detail["type"]


def test_not_json_and_no_token_are_refused(worker):
    answer = requests.post(f"{worker}/sdapi/v1/img2img", data=b"{nope", headers=AUTH)
    assert answer.status_code == 422 and answer.json()["detail"][0]["type"] == "json_invalid"
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = requests.get(f"{worker}/sdapi/v1/progress", headers=headers)
        assert answer.status_code == 401


def test_pictures_are_bounded_before_they_are_decoded(worker, monkeypatch):
    too_big = b'{"init_images": ["' + b"A" * MAX_REQUEST_BYTES + b'"]}'
    answer = requests.post(f"{worker}/sdapi/v1/img2img", data=too_big, headers=AUTH)
    assert answer.status_code == 413  # the JSON body is bounded as it is read
    huge = io.BytesIO()
    Image.new("1", (8000, 7000)).save(huge, format="PNG")  # 56 MP in a few kB
    body = {"init_images": [base64.b64encode(huge.getvalue()).decode()], "steps": 2}
    answer = _post(worker, "img2img", body)
    assert answer.status_code == 422 and "pixel limit" in answer.json()["detail"][0]["msg"]
    monkeypatch.setattr(pictures, "MAX_BASE64_CHARS", 1000)  # the worker runs in this process
    body = {"init_images": [b64_png(make_image(64, 64))], "steps": 2}
    answer = _post(worker, "img2img", body)
    assert answer.status_code == 422 and "MB limit" in answer.json()["detail"][0]["msg"]


# -- the mapping alone (no pass runs) ----------------------------------------------------------
def _plan(tiny_model_dir, **fields):
    body = {"init_images": [b64_png(fields.pop("picture", make_image(64, 64)))], **fields}
    return img2img_plan(json.dumps(body).encode(), "default", OfferedModels(str(tiny_model_dir)))


def test_resize_modes_crop_or_fill_the_picture_and_its_mask(tiny_model_dir):
    wide = Image.new("RGB", (128, 64), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 32, 64))  # a blue left quarter
    mask = b64_png(square_mask(64, (0, 0, 64, 64)).resize((128, 64)))
    crop = _plan(tiny_model_dir, picture=wide, resize_mode=1, width=64, height=64, mask=mask)
    fill = _plan(tiny_model_dir, picture=wide, resize_mode=2, width=64, height=64)
    cropped = pixels(crop.requests[0].image)
    assert cropped.shape == (64, 64, 3) and cropped[:, 0].tolist() == [[255, 0, 0]] * 64
    assert np.asarray(crop.requests[0].mask)[:, 0].max() == 255  # the mask cropped alike
    filled = pixels(fill.requests[0].image)
    assert filled[32, 0].tolist() == [0, 0, 255] and filled[32, 63].tolist() == [255, 0, 0]


def test_seeds_samplers_and_the_notes_of_what_is_ignored(tiny_model_dir):
    plan = _plan(
        tiny_model_dir,
        seed=-1,
        batch_size=2,
        n_iter=2,
        sampler_name="DPM++ 2M",
        scheduler="karras",
        subseed=3,
        subseed_strength=0.5,
        override_settings={"CLIP_stop_at_last_layers": 2},
        mask=b64_png(square_mask()),
        inpainting_mask_invert=1,
    )
    seeds = [request.seed for request in plan.requests]
    assert len(seeds) == 4 and seeds == list(range(seeds[0], seeds[0] + 4))
    assert plan.requests[0].scheduler == "DPM++ 2M Karras"
    assert np.asarray(plan.requests[0].mask)[32, 32] == 0  # inverted: the square is kept
    notes = " ".join(plan.notes)
    assert "subseed" in notes and "CLIP_stop_at_last_layers" in notes
    with pytest.raises(A1111Invalid, match="at most 8 pictures"):
        _plan(tiny_model_dir, batch_size=8, n_iter=2)


def test_inpainting_fill_paints_the_masked_area_over_and_keeps_the_rest(tiny_model_dir):
    picture, mask = Image.new("RGB", (64, 64), (0, 0, 200)), square_mask(box=(20, 20, 44, 44))
    picture.paste((255, 0, 0), (26, 26, 38, 38))  # something red under the mask
    fields = {"picture": picture, "mask": b64_png(mask), "width": 64, "height": 64}
    filled = pixels(_plan(tiny_model_dir, inpainting_fill=0, **fields).requests[0].image)
    original = pixels(_plan(tiny_model_dir, inpainting_fill=1, **fields).requests[0].image)
    hole = np.asarray(mask) > 0
    assert np.array_equal(filled[~hole], pixels(picture)[~hole])
    assert np.array_equal(original, pixels(picture))
    assert filled[hole][:, 0].max() < 60  # the red is gone: painted over from the blue around
    noted = _plan(tiny_model_dir, inpainting_fill=2, **fields)
    assert "'latent noise' is not offered" in " ".join(noted.notes)


def test_a_call_the_queue_refuses_in_part_queues_nothing(worker, monkeypatch):
    from core.remote.jobs import JobQueue
    from core.remote.protocol import ProtocolError

    real, queued = JobQueue.submit, []

    def submit(self, request, spec, *args, **kwargs):
        if queued:
            raise ProtocolError("the worker's queue is full")
        queued.append(real(self, request, spec, *args, **kwargs))
        return queued[-1]

    monkeypatch.setattr(JobQueue, "submit", submit)  # the worker runs in this process
    body = {"init_images": [b64_png(make_image(64, 64))], "steps": 200, "batch_size": 2}
    answer = _post(worker, "img2img", body)
    assert answer.status_code == 400 and "queue is full" in answer.text
    deadline = time.monotonic() + 60
    while queued[0].state not in ("cancelled", "failed", "done") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queued[0].state == "cancelled"  # the first picture does not run on alone


def test_a_worker_without_a_default_model_starts_on_its_first_library_model(
    tiny_model_dir, tmp_path
):
    from core.library.registry import ModelLibrary
    from core.remote.a1111.listing import checkpoint_title
    from core.remote.a1111.routes import STATE
    from core.remote.server import make_app

    library = ModelLibrary(tmp_path / "library.json")
    item = library.add_file(tiny_model_dir)
    offered = OfferedModels(None, library)
    app = make_app(offered, ModelSpec(str(tiny_model_dir), device="cpu"))
    assert app[STATE].model == item.id
    assert checkpoint_title(offered, app[STATE].model) == "tiny-sd"


def test_api_auth_as_a1111_clients_send_it(tiny_model_dir):
    """``serve --api-auth user:pass``: webuiapi's ``set_auth`` (HTTP Basic, as A1111's own
    ``--api-auth``) is let in, a wrong password and no credentials are 401."""
    import webuiapi

    from core.remote.access import AccessPolicy

    access = AccessPolicy(basic_auth="ann:pa55")
    with running_worker(str(tiny_model_dir), access=access) as url:
        host, port = url.removeprefix("http://").split(":")
        api = webuiapi.WebUIApi(host=host, port=int(port))
        api.set_auth("ann", "pa55")
        assert [m["title"] for m in api.get_sd_models()]
        api.set_auth("ann", "wrong")
        assert api.session.get(f"{api.baseurl}/sd-models", timeout=10).status_code == 401
        assert requests.get(f"{url}/sdapi/v1/sd-models", timeout=10).status_code == 401
