"""The worker under attack, on 127.0.0.1: each test sends what a hostile page or client would and
checks the answer (one line of JSON), the memory, and that nothing was queued or lost."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import threading
import time

import aiohttp
import pytest

from core.errors import ModelError, PassCancelled
from core.remote.access import PROTECTIVE_HEADERS, AccessPolicy
from core.remote.jobs import JobQueue
from core.remote.offered import OfferedModels
from tests.core.remote_helpers import running_worker
from tests.security.check_worker import (
    BOMB_PICTURES,
    BOMB_SIDE,
    EVIL,
    bomb_params,
    form,
    small_png,
    zero_png,
)

TOKEN = "hardening-token"
SECRET_MODEL = "/secret/models/dream.safetensors"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class GatedEngine:
    """Stands in for the engine: each pass waits for ``gate``, then fails naming a server path."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.seen: list[object] = []

    def run_pass(self, request, spec, on_event=None, cancel=None):
        self.seen.append(request)
        self.started.set()
        deadline = time.monotonic() + 30
        while not self.gate.wait(0.02) and time.monotonic() < deadline:
            if cancel is not None and cancel.cancelled:
                raise PassCancelled
        raise ModelError(f"cannot load {spec.reference}: no such file")

    def cancel(self) -> None:
        self.gate.set()


@pytest.fixture
def engine():
    engine = GatedEngine()
    yield engine
    engine.gate.set()


@pytest.fixture
def queue(engine):
    return JobQueue(engine, max_waiting=1)  # type: ignore[arg-type]


@pytest.fixture
def worker(queue):
    with running_worker(SECRET_MODEL, TOKEN, queue=queue) as url:
        yield url


def _call(url: str, method: str, path: str, **kwargs) -> tuple[int, dict, str]:
    async def go() -> tuple[int, dict, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url + path, **kwargs) as response,
        ):
            return response.status, dict(response.headers), await response.text()

    return asyncio.run(go())


def _submit(url: str, params: object, parts=None, headers=None) -> tuple[int, dict, str]:
    text = params if isinstance(params, str) else json.dumps(params)
    parts = [("image", small_png())] if parts is None else parts
    return _call(url, "POST", "/v1/passes", data=form(text, parts), headers=headers or AUTH)


def _one_line_error(status: int, headers: dict, text: str) -> str:
    assert headers["Content-Type"].startswith("application/json"), (status, text)
    assert "\n" not in text.strip() and "Traceback" not in text
    return json.loads(text)["error"]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_a_cross_site_post_is_refused_and_nothing_is_queued(worker, queue, engine):
    for headers in ({"Origin": EVIL}, {"Origin": EVIL, **AUTH}, {"Origin": "null", **AUTH}):
        status, answer, text = _submit(worker, {"model": "default"}, headers=headers)
        assert status == 403 and "cross-site" in _one_line_error(status, answer, text)
        assert "Access-Control-Allow-Origin" not in answer
    # A fetch without an Origin still says where it comes from.
    status, _, _ = _call(
        worker, "GET", "/v1/models", headers={"Sec-Fetch-Site": "cross-site", **AUTH}
    )
    assert status == 403
    assert queue.jobs == {} and engine.seen == []
    # The worker's own origin (a page it served) is not cross-site.
    own = {"Origin": worker, **AUTH}
    assert _call(worker, "GET", "/v1/models", headers=own)[0] == 200


def test_a_cross_site_websocket_handshake_is_refused(worker):
    async def handshake(origin: str) -> int:
        url = f"{worker}/v1/passes/none/events?token={TOKEN}"
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(url, origin=origin):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(handshake(EVIL)) == 403
    assert asyncio.run(handshake(worker)) == 404  # same origin: past the checks, no such pass


def test_hostile_websocket_messages_leave_the_pass_alone(worker, queue, engine):
    status, _, text = _submit(worker, {"model": "default"})
    pass_id = json.loads(text)["id"]
    assert engine.started.wait(10)

    async def send(messages: list[str]) -> None:
        url = f"{worker}/v1/passes/{pass_id}/events"
        async with (
            aiohttp.ClientSession(headers=AUTH) as session,
            session.ws_connect(url) as socket,
        ):
            for message in messages:
                await socket.send_str(message)
            await asyncio.sleep(0.2)

    asyncio.run(send(["x" * 100_000]))  # over the message limit: that socket is closed
    asyncio.run(send(["[" * 2000 + "]" * 2000, "5", '{"type": 1}', "[]"]))
    assert queue.jobs[pass_id].state == "running"  # none of them cancelled it or broke the worker
    asyncio.run(send(["[" * 2000 + "]" * 2000, '{"type": "cancel"}']))  # still listening after
    deadline = time.monotonic() + 10
    while queue.jobs[pass_id].state == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert queue.jobs[pass_id].state == "cancelled"


def test_a_rebinding_host_is_refused_even_on_loopback(worker):
    port = _port(worker)
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}", "[::1"):
        status, headers, text = _call(worker, "GET", "/v1/models", headers={"Host": host, **AUTH})
        assert 400 <= status < 500 and "Host" in _one_line_error(status, headers, text)
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert _call(worker, "GET", "/v1/models", headers={"Host": host, **AUTH})[0] == 200


def test_allow_host_and_allow_origin_let_named_ones_in_and_only_those(tiny_model_dir):
    origin = "https://app.example"
    access = AccessPolicy(TOKEN, allowed_hosts=("gpu.lan",), allowed_origins=(origin,))
    with running_worker(str(tiny_model_dir), access=access) as url:
        ok = _call(url, "GET", "/v1/models", headers={"Host": "gpu.lan:8443", **AUTH})
        assert ok[0] == 200
        status, headers, _ = _call(url, "GET", "/v1/models", headers={"Origin": origin, **AUTH})
        assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
        preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        status, headers, _ = _call(url, "OPTIONS", "/v1/passes", headers=preflight)
        assert status == 204 and headers["Access-Control-Allow-Origin"] == origin
        status, headers, _ = _call(url, "GET", "/v1/models", headers={"Origin": EVIL, **AUTH})
        assert status == 403 and "Access-Control-Allow-Origin" not in headers


def test_no_token_is_401_basic_auth_works_and_the_query_token_only_on_the_websocket(
    tiny_model_dir,
):
    access = AccessPolicy(TOKEN, basic_auth="ann:pa55")
    with running_worker(str(tiny_model_dir), access=access) as url:
        status, headers, text = _call(url, "GET", "/v1/models")
        assert status == 401 and "token" in _one_line_error(status, headers, text)
        assert headers["WWW-Authenticate"].startswith("Basic")
        for credentials, expected in (("ann:pa55", 200), ("ann:x", 401), ("ann", 401)):
            basic = {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
            assert _call(url, "GET", "/v1/models", headers=basic)[0] == expected
        assert _call(url, "GET", "/v1/models", headers={"Authorization": "Basic %%%"})[0] == 401
        assert _call(url, "GET", "/v1/models", headers=AUTH)[0] == 200
        assert _call(url, "GET", f"/v1/models?token={TOKEN}")[0] == 401
        assert _call(url, "GET", "/v1/health")[0] == 200  # open: says only that it is there


def test_protective_headers_on_every_answer(worker):
    answers = [
        _call(worker, "GET", "/v1/health"),  # 200
        _call(worker, "GET", "/v1/models"),  # 401
        _call(worker, "GET", "/v1/nowhere", headers=AUTH),  # 404
        _call(worker, "PUT", "/v1/models", headers=AUTH),  # 405
        _submit(worker, "{"),  # 400
        _submit(worker, {"model": "default"}, headers={"Origin": EVIL}),  # 403
        _call(worker, "GET", "/v1/models", headers={"Host": "evil.example"}),  # 421
    ]
    assert [status for status, _, _ in answers] == [200, 401, 404, 405, 400, 403, 421]
    for status, headers, _ in answers:
        for name, value in PROTECTIVE_HEADERS.items():
            assert headers.get(name) == value, (status, name)
        assert "Access-Control-Allow-Origin" not in headers


@pytest.fixture
def decoded(monkeypatch):
    """The pictures the worker decoded (a spy on the decoder)."""
    from core.remote import server

    seen: list[str] = []
    real = server.decode_submission

    def spy(params, files):
        seen.extend(files)
        return real(params, files)

    monkeypatch.setattr(server, "decode_submission", spy)
    return seen


def test_a_many_part_bomb_is_refused_before_decoding(worker, queue, decoded):
    zeros = zero_png(4000, 4000)
    many = [(f"extra{i}", zeros) for i in range(300)]  # the attack in issue 22
    status, headers, text = _submit(worker, {"model": "default"}, many)
    assert status == 400 and "unknown part 'extra0'" in _one_line_error(status, headers, text)
    known = [(name, small_png()) for name in BOMB_PICTURES]
    too_many = [*known, ("image", small_png())] * 2
    status, headers, text = _submit(worker, bomb_params(), [*known, *too_many[:3]])
    assert status == 400 and "at most 24 parts" in _one_line_error(status, headers, text)
    twice = [("image", small_png()), ("image", small_png())]
    status, headers, text = _submit(worker, {"model": "default"}, twice)
    assert status == 400 and "sent twice" in _one_line_error(status, headers, text)
    unlisted = [("image", small_png()), ("control.0", small_png())]
    status, headers, text = _submit(worker, {"model": "default"}, unlisted)
    assert status == 400 and "params.controls" in _one_line_error(status, headers, text)
    assert decoded == [] and queue.jobs == {}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_pixel_budget_bomb_is_refused_with_little_memory(worker, queue, decoded):
    zeros = zero_png(BOMB_SIDE, BOMB_SIDE)  # 49 MP of zeros in ~140 kB; 23 of them decode to GBs
    parts = [(name, zeros) for name in BOMB_PICTURES]
    assert sum(len(data) for _, data in parts) < 4 * 2**20
    baseline, peak, done = _rss_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        status, headers, text = _submit(worker, bomb_params(), parts)
    finally:
        done.set()
        sampler.join()
    assert status == 400 and "pixel limit" in _one_line_error(status, headers, text)
    assert peak[0] - baseline < 200 * 2**20, f"grew {(peak[0] - baseline) / 2**20:.0f} MB"
    assert decoded == [] and queue.jobs == {}


def test_deep_json_is_a_400_in_one_line(worker, queue):
    deep_lists = "[" * 100_000 + "]" * 100_000
    status, headers, text = _submit(worker, deep_lists)
    assert status == 400 and "nests" in _one_line_error(status, headers, text)
    nested: dict = {}
    for _ in range(50):
        nested = {"a": nested}
    status, headers, text = _submit(worker, {"model": "default", "extra": nested})
    assert status == 400 and "nests deeper" in _one_line_error(status, headers, text)
    assert queue.jobs == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"loras": 5}, "loras must be a list"),
        ({"controls": [1]}, "controls[0] must be an object"),
        ({"extra": []}, "extra must be a JSON object"),
        ({"loras": [{"name": "x", "weight": "heavy"}]}, "loras[0].weight must be a number"),
        ({"loras": [{"weight": 1}]}, "loras[0].name is missing"),
        ({"controls": [{"model": "m", "invert": "yes"}]}, "controls[0].invert must be true"),
        ({"regions": [{"prompt": 3}]}, "regions[0].prompt must be a string"),
        ({"references": {"model": "m"}}, "references must be a list"),
        ({"steps": "30"}, "steps must be an integer"),
        ({"steps": 1.5}, "steps must be an integer"),
        ({"strength": True}, "strength must be a number"),
        ({"seed": "1"}, "seed must be an integer or null"),
        ({"color_match": "yes"}, "color_match must be true, false or null"),
        ({"prompt": ["a"]}, "prompt must be a string"),
        ({"model": 5}, "model must be a string"),
        ('{"model": "default", "cfg": 1e999}', "cfg must be a number"),
        ("NaN", "not JSON"),
        ('{"model": "default", "cfg": NaN}', "not JSON"),
        ("[]", "must be a JSON object"),
        ('{"prompt": "x"}', "has no model"),
        ("\udcff", "malformed"),
    ],
)
def test_wrong_types_anywhere_are_a_400_in_one_line(worker, queue, changes, message):
    params = changes if isinstance(changes, str) else {"model": "default", **changes}
    if params == "\udcff":  # not UTF-8 at all
        data = aiohttp.FormData()
        data.add_field("params", b"\xff\xfe{", filename="params.json")
        data.add_field("image", small_png(), filename="image.png", content_type="image/png")
        status, headers, text = _call(worker, "POST", "/v1/passes", data=data, headers=AUTH)
    else:
        status, headers, text = _submit(worker, params)
    assert status == 400 and message in _one_line_error(status, headers, text)
    assert queue.jobs == {}


def test_a_full_queue_is_a_429_and_an_ended_pass_drops_its_pictures(worker, queue, engine):
    first = _submit(worker, {"model": "default"})
    assert first[0] == 201, first
    assert engine.started.wait(10)  # running: the next one waits
    assert _submit(worker, {"model": "default"})[0] == 201
    status, headers, text = _submit(worker, {"model": "default"})
    assert status == 429 and "queue is full" in _one_line_error(status, headers, text)
    assert len(queue.jobs) == 2
    engine.gate.set()
    job = queue.jobs[json.loads(first[2])["id"]]
    deadline = time.monotonic() + 10
    while job.state != "failed" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.state == "failed" and job.request is None and job.pixels == 0
    # The error names the model by the client's id, never by the worker's path.
    status, _, text = _call(worker, "GET", f"/v1/passes/{job.id}", headers=AUTH)
    assert "secret" not in text and "default" in json.loads(text)["error"]


def test_ended_passes_are_forgotten_after_a_while_and_beyond_a_count():
    from core.remote.jobs import Job

    async def go() -> None:
        queue = JobQueue(GatedEngine(), max_kept=2, keep_s=60.0)  # type: ignore[arg-type]
        jobs: list[Job] = []
        for _ in range(4):
            job = queue.submit(object(), object(), "default")  # type: ignore[arg-type]
            queue.cancel(job)  # a queued pass ends at once
            jobs.append(job)
        assert all(job.request is None for job in jobs)
        queue.evict()
        assert list(queue.jobs) == [jobs[2].id, jobs[3].id]  # the newest two
        queue.keep_s = 0.0
        time.sleep(0.01)
        queue.evict()
        assert queue.jobs == {}

    asyncio.run(go())


def test_models_events_and_errors_show_no_server_path(worker, monkeypatch):
    status, _, text = _call(worker, "GET", "/v1/models", headers=AUTH)
    assert status == 200 and "secret" not in text
    assert json.loads(text)["models"][0] == {"id": "default", "name": "dream.safetensors",
                                             "default": True}  # fmt: skip
    from core.remote.jobs import Job

    job = Job("j", None, None, "default", {SECRET_MODEL: "default"})  # type: ignore[arg-type]
    loading = {"type": "loading", "reference": SECRET_MODEL, "fraction": None,
               "message": f"Loading {SECRET_MODEL}… (cache /home/ann/.cache/hub/x)"}  # fmt: skip
    public = job.public(loading)
    assert public["reference"] == "default" and "secret" not in json.dumps(public)
    assert "/home/ann" not in public["message"]
    # An unexpected failure: a 500 in one line, no traceback, no path.
    monkeypatch.setattr(OfferedModels, "listing", lambda self: 1 / 0)
    status, headers, text = _call(worker, "GET", "/v1/models", headers=AUTH)
    assert status == 500 and "internal error" in _one_line_error(status, headers, text)
    assert "ZeroDivision" not in text
