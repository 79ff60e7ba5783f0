"""The generation worker on 127.0.0.1: a remote pass equals the local one, previews come as
binary frames, cancel, tokens, size limits, and no client-named server path."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import numpy as np
import pytest
from PIL import Image

from core.conditioning.specs import ControlLayer, LoraSpec
from core.engine import CancelToken, Engine
from core.errors import PassCancelled, UserError
from core.events import StepPreview
from core.metadata import read_metadata
from core.models import ModelSpec
from core.remote.client import WorkerClient, WorkerError
from core.remote.protocol import MAX_REQUEST_BYTES, encode_submission
from core.remote.server import worker_token
from core.requests import PassRequest
from tests.core.remote_helpers import running_worker
from tests.tiny_models.images import make_image

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def worker(tiny_model_dir):
    with running_worker(str(tiny_model_dir), TOKEN) as url:
        yield url


def _request(**changes) -> PassRequest:
    values = {"prompt": "a cat", "steps": 4, "strength": 0.5, "cfg": 1.0, "seed": 5}
    return PassRequest(make_image(64, 64), **{**values, **changes})


def _run(coro):
    return asyncio.run(coro)


async def _with_client(url, action, token=TOKEN):
    async with WorkerClient(url, token) as client:
        return await action(client)


def test_a_remote_pass_equals_the_local_one_and_streams_previews(worker, tiny_model_dir):
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    request = _request(mask=mask)
    events = []
    remote = _run(
        _with_client(worker, lambda c: c.run_pass(str(tiny_model_dir), request, events.append))
    )
    local = Engine(previews=False).run_pass(request, ModelSpec(str(tiny_model_dir), device="cpu"))
    assert np.array_equal(np.asarray(remote.image), np.asarray(local.image))
    assert remote.seed == local.seed == 5 and remote.effective_steps == local.effective_steps
    strip = ("duration", "model")
    assert {k: v for k, v in remote.record.items() if k not in strip} == {
        k: v for k, v in local.record.items() if k not in strip
    }
    previews = [e for e in events if isinstance(e, StepPreview)]
    assert previews and all(isinstance(e.image, np.ndarray) for e in previews)
    assert previews[-1].image.shape[2] == 3


def test_previews_come_as_binary_frames_after_their_step(worker, tiny_model_dir):
    async def frames(client: WorkerClient) -> list[str]:
        pass_id = await client.submit("default", _request())
        url = f"{worker}/v1/passes/{pass_id}/events?token={TOKEN}"
        kinds = []
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
            async for frame in socket:
                if frame.type == aiohttp.WSMsgType.BINARY:
                    Image.open(io.BytesIO(frame.data)).verify()  # a PNG
                    kinds.append("binary")
                else:
                    kinds.append(frame.json()["type"])
        return kinds

    kinds = _run(_with_client(worker, frames))
    assert kinds[0] == "queued" and kinds[-1] == "finished"
    assert "binary" in kinds
    assert all(kinds[i - 1] == "step" for i, kind in enumerate(kinds) if kind == "binary")


def test_cancel_stops_a_running_pass_and_empties_the_queue(worker):
    async def cancel_both(client: WorkerClient) -> tuple[str, str, str]:
        token = CancelToken()
        long = _request(steps=400, strength=1.0)
        started = asyncio.Event()

        def on_event(event):
            if isinstance(event, StepPreview):
                started.set()

        running = asyncio.create_task(client.run_pass("default", long, on_event, token))
        await started.wait()  # the long pass runs: the next one has to wait in the queue
        queued = await client.submit("default", _request())
        await client.cancel(queued)
        queued_state = (await client.status(queued))["state"]
        token.cancel()
        with pytest.raises(PassCancelled):
            await running
        with pytest.raises(WorkerError, match="409"):
            await client.result(queued)
        return queued_state, "ok", "ok"

    assert _run(_with_client(worker, cancel_both))[0] == "cancelled"


def test_a_missing_or_wrong_token_is_refused(worker):
    for token in (None, "wrong"):
        with pytest.raises(WorkerError, match="valid token"):
            _run(_with_client(worker, lambda c: c.models(), token))
    models = _run(_with_client(worker, lambda c: c.models()))
    assert models[0]["default"] is True
    assert len(worker_token("127.0.0.1", None)) >= 24  # a token on every start, loopback too
    assert worker_token("127.0.0.1", None) != worker_token("127.0.0.1", None)
    assert worker_token("127.0.0.1", None, no_token=True) == ""  # only when asked, on loopback
    with pytest.raises(UserError, match="loopback only"):
        worker_token("0.0.0.0", None, no_token=True)
    assert worker_token("0.0.0.0", "given") == "given"


def test_oversized_uploads_and_pictures_are_refused(worker):
    async def post(client: WorkerClient, files: dict[str, bytes]) -> None:
        form = aiohttp.FormData()
        form.add_field("params", '{"model": "default"}')
        for name, data in files.items():
            form.add_field(name, data, filename=f"{name}.png", content_type="image/png")
        async with client.session.post(f"{worker}/v1/passes", data=form) as response:
            raise WorkerError(f"{response.status} {await response.text()}")

    with pytest.raises(WorkerError, match="413"):
        _run(_with_client(worker, lambda c: post(c, {"image": b"\0" * (MAX_REQUEST_BYTES + 1)})))
    huge = io.BytesIO()
    Image.new("1", (8000, 7000)).save(huge, format="PNG")  # 56 MP in a few kB
    with pytest.raises(WorkerError, match="400.*pixel limit"):
        _run(_with_client(worker, lambda c: post(c, {"image": huge.getvalue()})))


@pytest.mark.parametrize(
    ("model", "changes", "message"),
    [
        ("/etc", {}, "does not offer the model '/etc'"),
        ("default", {"loras": (LoraSpec("../../x.safetensors"),)}, "not a path"),
        ("default", {"prompt": "<lora:/tmp/x:1>"}, "not a path"),
        ("default", {"controls": (ControlLayer("/tmp/cn"),)}, "no controlnet model '/tmp/cn'"),
    ],
)
def test_a_client_named_server_path_is_refused(worker, model, changes, message):
    with pytest.raises(WorkerError, match=f"400.*{message}"):
        _run(_with_client(worker, lambda c: c.submit(model, _request(**changes))))


def test_the_protocol_carries_every_picture(tiny_model_dir):
    from core.remote.protocol import decode_submission
    from core.remote.upload import part_name

    control = ControlLayer("org/cn", kind="image", image=make_image(64, 64, seed=3))
    edits = (make_image(48, 40, seed=4), make_image(32, 56, seed=6))
    request = _request(
        mask=Image.new("L", (64, 64), 255), controls=(control,), edit_references=edits
    )
    params, files = encode_submission("default", request)
    assert {"edit_reference.0", "edit_reference.1"} <= set(files)
    for name in files:
        part_name(name)  # every part the client sends is one the server takes
    decoded = decode_submission(params, files).request
    assert [np.asarray(p).tolist() for p in decoded.edit_references] == [
        np.asarray(p).tolist() for p in edits
    ]
    assert decoded.prompt == request.prompt and decoded.seed == 5
    assert np.array_equal(np.asarray(decoded.image), np.asarray(request.image))
    assert np.array_equal(np.asarray(decoded.controls[0].image), np.asarray(control.image))
    assert decoded.mask is not None and decoded.mask.getextrema() == (255, 255)


def test_what_the_worker_says_names_no_server_path(worker, tiny_model_dir):
    async def run(client: WorkerClient) -> tuple[list[dict], bytes, list[dict]]:
        pass_id = await client.submit("default", _request(steps=2))
        messages = [message.data async for message in client.messages(pass_id)]
        return messages, await client.result(pass_id), await client.models()

    messages, png, models = _run(_with_client(worker, run))
    secret = str(tiny_model_dir)
    assert secret not in str(messages) and secret.encode() not in png and secret not in str(models)
    loading = [m for m in messages if m["type"] == "loading"]
    assert all(m["reference"] == "default" for m in loading)  # when it loaded it here
    record = read_metadata(Image.open(io.BytesIO(png)))["record"]
    assert record["model"]["reference"] == "default" and record["model"]["hash"]
