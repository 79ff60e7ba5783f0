"""``serve --ray``: the worker's front door over a Ray Serve pool of two CPU replicas on one shared
local Ray instance (2 CPUs, no dashboard) with the tiny model — two clients served side by side,
pixels equal to a local pass, cancel, a killed replica (the pass retried once, then one line), a
hung replica (the pass abandoned, the replica replaced) and routing by model."""

from __future__ import annotations

import asyncio
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import webuiapi

from core.cli.main import main
from core.engine import CancelToken, Engine
from core.errors import PassCancelled
from core.events import PassEvent, PassStarted, StepPreview
from core.models import ModelSpec
from core.remote.client import WorkerClient, WorkerError
from core.remote.jobs import JobQueue
from core.remote.offered import OfferedModels
from core.remote.server import make_app
from core.requests import PassRequest
from tests.core.pool_helpers import HANG_PROMPT, HangingEngine, local_pool
from tests.core.remote_helpers import running_app, running_worker
from tests.tiny_models.images import make_image

ray = pytest.importorskip("ray")
pytest.importorskip("ray.serve")

from core.scaleout.pool_executor import HUNG, RETRIED, STOPPED  # noqa: E402
from core.scaleout.serve_pool import PoolSettings, parse_replicas  # noqa: E402

LONG_STEPS = 400  # a pass that runs for seconds: long enough to cancel or kill mid-pass


def test_a_range_of_replicas_autoscales_on_ongoing_passes_and_a_count_is_fixed():
    ranged = PoolSettings(*parse_replicas("1-4"), gpus_per_replica=0.5).deployment_options()
    assert ranged["autoscaling_config"] == {
        "min_replicas": 1,
        "max_replicas": 4,
        "target_ongoing_requests": 1,
    }
    assert ranged["ray_actor_options"] == {"num_cpus": 1.0, "num_gpus": 0.5}
    assert ranged["max_ongoing_requests"] == 1  # one engine runs one pass at a time
    fixed = PoolSettings(*parse_replicas("3")).deployment_options()
    assert fixed["num_replicas"] == 3 and "autoscaling_config" not in fixed


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--replicas", "2"], "need --ray"),
        (["--ray", "--replicas", "3-1"], "MIN no more than MAX"),
        (["--ray", "--replicas", "two"], "N or MIN-MAX"),
        (["--ray", "--models-per-replica", "0"], "at least 1"),
        (["--replica-timeout", "60"], "need --ray"),
        (["--ray", "--replica-timeout", "-1"], "0 (never) or more"),
    ],
)
def test_bad_pool_options_exit_2_before_ray_starts(options, message, capsys):
    started = ray.is_initialized()
    assert main(["serve", "--no-token", *options]) == 2
    assert message in capsys.readouterr().err
    assert ray.is_initialized() == started


def test_without_ray_serve_the_flag_exits_2_with_the_install_hint(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray.serve", None)  # from ray import serve: ImportError
    assert main(["serve", "--no-token", "--ray"]) == 2
    assert "pip install 'img2img-studio[ray]'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def pool() -> Iterator[Any]:
    """Two one-CPU replicas on a fresh local Ray instance (their engines hang on a pass prompted
    HANG_PROMPT)."""
    with local_pool(HangingEngine) as executor:
        yield executor


@pytest.fixture(scope="module")
def worker(pool, tiny_model_dir) -> Iterator[tuple[str, JobQueue]]:
    """The front door (no token, loopback) over the pool; yields its URL and queue."""
    queue = JobQueue(executor=pool)
    queue.close = lambda: None  # type: ignore[method-assign]  # the pool outlives the app
    model = str(tiny_model_dir)
    app = make_app(OfferedModels(model), ModelSpec(model, device="cpu"), "", queue=queue)
    with running_app(app) as url:
        yield url, queue


def _request(steps: int = 8, seed: int = 3) -> PassRequest:
    image = make_image(32, 32, seed=seed)
    return PassRequest(
        image, prompt="a cat", steps=steps, strength=1.0, cfg=1.0, seed=seed, work_size="input"
    )


async def _run(url: str, request: PassRequest) -> tuple[str, np.ndarray, float, float]:
    """One pass through the front door: (replica, pixels, first step time, end time)."""
    async with WorkerClient(url) as client:
        pass_id = await client.submit("default", request)
        first_step = 0.0
        async for message in client.messages(pass_id):
            kind = message.data["type"]
            if kind == "step" and not first_step:
                first_step = time.perf_counter()
            if kind == "failed":
                raise WorkerError(message.data["message"])
        ended = time.perf_counter()
        status = await client.status(pass_id)
        png = await client.result(pass_id)
    from core.remote.protocol import read_png

    return status["replica"], np.asarray(read_png(png, "result")), first_step, ended


def test_two_clients_at_once_run_side_by_side_on_two_replicas(worker, pool):
    url, _ = worker

    async def both(steps: int) -> list[tuple[str, np.ndarray, float, float]]:
        passes = (_run(url, _request(steps, 1)), _run(url, _request(steps, 2)))
        return list(await asyncio.gather(*passes))

    asyncio.run(both(1))  # each replica loads the model (one pass at a time: one pass each)
    (replica_a, _, start_a, end_a), (replica_b, _, start_b, end_b) = asyncio.run(both(150))
    assert replica_a and replica_b and replica_a != replica_b
    assert start_a < end_b and start_b < end_a  # both passes were stepping at the same time
    assert [pool.replicas[r]["threads"] for r in (replica_a, replica_b)] == [1, 1]  # one CPU each


def test_a_pool_pass_equals_a_local_pass_pixel_for_pixel(worker, tiny_model_dir):
    url, _ = worker
    _, pooled, _, _ = asyncio.run(_run(url, _request(4, 7)))
    assert np.array_equal(pooled, _local_pixels(_request(4, 7), tiny_model_dir))


def _local_pixels(request: PassRequest, model_dir: Any) -> np.ndarray:
    """The request's picture from a local pass, on one thread as in a one-CPU replica (which
    runs torch on its CPU share)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = Engine(previews=False).run_pass(request, ModelSpec(str(model_dir), device="cpu"))
    finally:
        torch.set_num_threads(threads)
    return np.asarray(local.image.convert("RGB"))


async def _until_stepping(client: WorkerClient, pass_id: str, after: str = "") -> str:
    """Wait for the pass's first step (on a replica other than ``after``); its replica id."""
    replica = ""
    async for message in client.messages(pass_id):
        if message.data["type"] == "replica":
            replica = message.data["replica"]
        if message.data["type"] == "step" and replica and replica != after:
            return replica
    raise AssertionError("the pass ended before its first step")


def test_cancel_reaches_the_replica_and_it_serves_the_next_pass(worker):
    url, _ = worker

    async def scenario() -> tuple[dict[str, Any], float, list[str]]:
        async with WorkerClient(url) as client:
            pass_id = await client.submit("default", _request(LONG_STEPS))
            await _until_stepping(client, pass_id)
            started = time.perf_counter()
            await client.cancel(pass_id)
            kinds = [message.data["type"] async for message in client.messages(pass_id)]
            return await client.status(pass_id), time.perf_counter() - started, kinds

    status, waited, kinds = asyncio.run(scenario())
    assert status["state"] == "cancelled" and waited < 10
    assert "retried" not in kinds  # a cancelled pass is never run again
    assert asyncio.run(_run(url, _request(2)))[0]


def test_a_pass_whose_replica_dies_is_retried_once_and_equals_a_local_pass(worker, tiny_model_dir):
    url, _ = worker
    request = _request(60, 5)  # killed at its first step, a few seconds before its end

    async def scenario() -> tuple[str, list[dict[str, Any]], dict[str, Any], bytes]:
        async with WorkerClient(url) as client:
            pass_id = await client.submit("default", request)
            killed = await _until_stepping(client, pass_id)
            _kill_replica(killed)
            messages = [message.data async for message in client.messages(pass_id)]
            return killed, messages, await client.status(pass_id), await client.result(pass_id)

    killed, messages, status, png = asyncio.run(scenario())
    assert status["state"] == "done", status
    assert status["replica"] != killed  # the retry ran on another replica (or its replacement)
    assert [m["message"] for m in messages if m["type"] == "retried"] == [RETRIED]
    assert RETRIED in messages[-1]["note"]  # the finished message says so too
    from core.remote.protocol import read_png

    pixels = np.asarray(read_png(png, "result"))
    assert np.array_equal(pixels, _local_pixels(request, tiny_model_dir))


def test_a1111_progress_restarts_a_retried_pass_and_its_info_says_so(worker, pool, monkeypatch):
    """/sdapi/v1/progress between a replica's death and the retry's first step: the pass is at
    its start again (no step, no preview of the dead replica's pass), and the line says why."""
    url, queue = worker
    retrying, go_on = threading.Event(), threading.Event()
    attempt = pool._attempt

    async def held_retry(job: Any) -> dict[str, Any]:
        if any(m["type"] == "retried" for m, _ in job.messages):
            retrying.set()
            await asyncio.to_thread(go_on.wait, 60)
        return await attempt(job)

    monkeypatch.setattr(pool, "_attempt", held_retry)
    api, poller = webuiapi.WebUIApi(port=_port(url)), webuiapi.WebUIApi(port=_port(url))
    picture = make_image(64, 64, seed=6)
    body = {"prompt": "a cat", "denoising_strength": 1.0, "steps": 60, "cfg_scale": 1.0}
    body.update(seed=6, width=64, height=64)
    box: dict[str, Any] = {}

    def img2img() -> None:
        try:
            box["result"] = api.img2img([picture], **body)
        except Exception as exc:  # surfaced below
            box["error"] = exc

    call = threading.Thread(target=img2img)
    call.start()
    try:
        stepping = _poll(poller, lambda p: p["state"]["sampling_step"] >= 1 or "error" in box)
        assert "error" not in box and stepping["current_image"], box
        (job,) = [job for job in queue.jobs.values() if job.state == "running"]
        _kill_replica(job.replica)
        assert retrying.wait(60)
        progress = poller.get_progress()
    finally:
        go_on.set()
        call.join(timeout=120)
    assert progress["state"]["sampling_step"] == 0 and progress["current_image"] is None
    assert progress["textinfo"] == RETRIED and progress["progress"] == pytest.approx(0.01)
    assert progress["state"]["job_count"] == 1 and progress["state"]["job"] == "scripts_img2img"
    assert "error" not in box and f"picture 1: {RETRIED}" in box["result"].info["notes"]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _poll(api: Any, ready: Any, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = api.get_progress()
        if ready(progress):
            return progress
        time.sleep(0.05)
    raise AssertionError(f"progress never got there: {progress}")


def test_a_second_death_costs_one_clear_line_and_the_next_pass_works(worker):
    url, _ = worker

    async def scenario() -> dict[str, Any]:
        async with WorkerClient(url) as client:
            pass_id = await client.submit("default", _request(LONG_STEPS))
            first = await _until_stepping(client, pass_id)
            _kill_replica(first)
            second = await _until_stepping(client, pass_id, after=first)
            _kill_replica(second)
            async for _ in client.messages(pass_id):
                pass
            return await client.status(pass_id)

    status = asyncio.run(scenario())
    assert status["state"] == "failed" and status["error"] == STOPPED
    assert asyncio.run(_run(url, _request(2)))[0]  # another replica (or its replacement)


def test_a_hung_replica_fails_its_pass_and_gets_no_more_passes(worker, pool, monkeypatch):
    url, _ = worker
    monkeypatch.setattr(pool, "replica_timeout_s", 1.5)
    status, waited = asyncio.run(_hung_pass(url, cancel=False))
    assert status["state"] == "failed" and status["error"] == HUNG.format(seconds=1.5)
    assert waited < 15
    # Two passes at once: with the hung replica still routed to, one would hang again.
    monkeypatch.setattr(pool, "replica_timeout_s", 30.0)
    replicas = [replica for replica, *_ in asyncio.run(_two_passes(url))]
    assert status["replica"] not in replicas and all(replicas)


def test_a_pass_sent_to_a_replica_stuck_in_a_cancelled_pass_is_retried(worker, pool, monkeypatch):
    url, _ = worker
    status, _ = asyncio.run(_hung_pass(url, cancel=True))  # its replica's thread stays stuck
    assert status["state"] == "cancelled"
    monkeypatch.setattr(pool, "replica_timeout_s", 8.0)
    # Two passes at once: one goes to the stuck replica, never starts there, and is retried.
    replicas = [replica for replica, *_ in asyncio.run(_two_passes(url))]
    assert status["replica"] not in replicas and all(replicas)


async def _hung_pass(url: str, cancel: bool) -> tuple[dict[str, Any], float]:
    """A pass that hangs in its first step, cancelled there or followed to its end: its status
    and the seconds from its first step to its end."""
    hang = PassRequest(make_image(32, 32), prompt=HANG_PROMPT, steps=4, work_size="input")
    async with WorkerClient(url) as client:
        pass_id = await client.submit("default", hang)
        await _until_stepping(client, pass_id)
        started = time.perf_counter()
        if cancel:
            await client.cancel(pass_id)
        async for _ in client.messages(pass_id):
            pass
        return await client.status(pass_id), time.perf_counter() - started


async def _two_passes(url: str) -> list[tuple[str, np.ndarray, float, float]]:
    return list(await asyncio.gather(_run(url, _request(2, 1)), _run(url, _request(2, 2))))


def test_the_windows_client_runs_and_cancels_pool_passes_with_previews(pool, tiny_model_dir):
    """The calls the window's remote worker makes (gui.run.remote_worker): models, then
    run_pass with its event callback and cancel flag, on a pool behind a token."""
    queue = JobQueue(executor=pool)
    queue.close = lambda: None  # type: ignore[method-assign]  # the pool outlives the app
    events: list[PassEvent] = []
    cancel = CancelToken()

    def cancel_at_step_3(event: PassEvent) -> None:
        if isinstance(event, StepPreview) and event.step >= 3:
            cancel.cancel()

    async def scenario(url: str) -> tuple[list[dict[str, Any]], Any]:
        async with WorkerClient(url, "pool-token") as client:
            listing = await client.models()
            result = await client.run_pass("default", _request(4, 9), events.append)
            with pytest.raises(PassCancelled):
                await client.run_pass("default", _request(LONG_STEPS), cancel_at_step_3, cancel)
            return listing, result

    with running_worker(str(tiny_model_dir), "pool-token", queue=queue) as url:
        listing, result = asyncio.run(scenario(url))
    assert [model["id"] for model in listing] == ["default"]
    assert any(isinstance(event, PassStarted) for event in events)
    previews = [e.image for e in events if isinstance(e, StepPreview) and e.image is not None]
    assert previews and previews[-1].shape[2] == 3  # decoded pictures, as the window shows them
    assert result.seed == 9 and result.record["model"]["reference"] == "default"
    assert str(tiny_model_dir) not in str(result.record)  # no server path
    assert np.array_equal(np.asarray(result.image), _local_pixels(_request(4, 9), tiny_model_dir))


def _kill_replica(replica: str) -> None:
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["name"].endswith(f"#{replica}"):
            ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=True)
            return
    raise AssertionError(f"no actor for replica {replica}")


def test_a_second_model_goes_to_the_replica_that_has_it(pool, tiny_model_dir, tmp_path):
    second = shutil.copytree(tiny_model_dir, tmp_path / "tiny-second")

    async def replicas() -> list[str]:
        queue = JobQueue(executor=pool)
        runner = asyncio.create_task(queue.run())
        seen = []
        try:
            for seed in range(4):
                job = queue.submit(_request(2, seed), ModelSpec(str(second), device="cpu"))
                async for _ in job.follow():
                    pass
                assert job.state == "done", job.error
                seen.append(job.replica)
                # Replicas tell Serve's router which models they hold within a second or so.
                await asyncio.sleep(1.5 if seed == 0 else 0.3)
        finally:
            runner.cancel()
        return seen

    seen = asyncio.run(replicas())
    assert len(set(seen)) == 1, seen
