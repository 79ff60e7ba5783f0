"""Cancel wherever a pass waits: before it starts, loading, downloading, VAE work; one pass per
engine at a time, and ``Engine.cancel`` reaches the pass that runs."""

from __future__ import annotations

import threading
import time

import pytest
from PIL import Image

import core.engine.latent_hold
import core.models.loading
from core.engine import CancelToken, Engine
from core.errors import PassCancelled
from core.events import ModelLoading, StepPreview
from core.models import ModelSpec
from core.requests import PassRequest
from tests.core.fake_hub import FakeHub
from tests.tiny_models.images import make_image


def _request(**kw) -> PassRequest:
    kw.setdefault("steps", 4)
    kw.setdefault("seed", 3)
    return PassRequest(make_image(64, 64), "x", **kw)


@pytest.mark.parametrize("strength", [0.5, 0.0])
def test_a_pass_cancelled_before_it_starts_does_nothing(tiny_model_dir, strength):
    engine = Engine(previews=False)
    token = CancelToken()
    token.cancel()
    with pytest.raises(PassCancelled):
        engine.run_pass(_request(strength=strength), ModelSpec(str(tiny_model_dir)), cancel=token)
    assert engine.models.loaded is None


def test_a_cancel_during_the_model_load_keeps_no_model(tiny_model_dir, monkeypatch):
    engine = Engine(previews=False)
    token = CancelToken()
    real_load = core.models.loading._load_folder

    def slow_load(*args, **kwargs):
        model = real_load(*args, **kwargs)
        token.cancel()  # pressed while from_pretrained ran
        return model

    monkeypatch.setattr(core.models.loading, "_load_folder", slow_load)
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    with pytest.raises(PassCancelled):
        engine.run_pass(_request(), spec, cancel=token)
    assert engine.models.loaded is None
    monkeypatch.setattr(core.models.loading, "_load_folder", real_load)
    assert engine.run_pass(_request(), spec).effective_steps == 2


def test_a_cancel_during_a_download_stops_it_between_chunks(tiny_model_dir, tmp_path, monkeypatch):
    import core.library.download as download

    hub = FakeHub(tiny_model_dir, tmp_path / "hub").install(monkeypatch)
    monkeypatch.setattr(download, "CHUNK_BYTES", 1024)
    token = CancelToken()

    def cancel_early(event) -> None:
        if isinstance(event, ModelLoading) and (event.fraction or 0.0) > 0.2:
            token.cancel()

    engine = Engine(previews=False)
    spec = ModelSpec("tester/tiny-sd", device="cpu")
    try:
        with pytest.raises(PassCancelled):
            engine.run_pass(_request(), spec, on_event=cancel_early, cancel=token)
        partial = list(hub.snapshot().parent.parent.glob("blobs/*.incomplete"))
        assert partial, "the download went on after the cancel (no partial file was kept)"
        assert engine.models.loaded is None
        assert engine.run_pass(_request(), spec).effective_steps == 2
    finally:
        hub.close()


def test_a_cancel_during_the_vae_encode_runs_no_step(tiny_model_dir, monkeypatch):
    engine = Engine(previews=False)
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    engine.models.load(spec)
    token = CancelToken()
    real_encode = core.engine.latent_hold.encode
    unet_calls: list[int] = []

    def encode(pipe, image):
        pipe.unet.register_forward_hook(lambda *a: unet_calls.append(1))
        latents = real_encode(pipe, image)
        token.cancel()
        return latents

    monkeypatch.setattr(core.engine.latent_hold, "encode", encode)
    events: list = []
    with pytest.raises(PassCancelled):
        engine.run_pass(
            _request(strength_map=Image.new("L", (64, 64), 200)),
            spec,
            on_event=events.append,
            cancel=token,
        )
    assert not unet_calls and not any(isinstance(e, StepPreview) for e in events)


def test_a_cancel_during_the_vae_decode_gives_no_result(tiny_model_dir):
    engine = Engine(previews=False)
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    vae = engine.models.load(spec).base_pipe.vae
    token = CancelToken()
    real_decode = vae.decode

    def decode(*args, **kwargs):
        token.cancel()
        return real_decode(*args, **kwargs)

    vae.decode = decode
    try:
        with pytest.raises(PassCancelled):
            engine.run_pass(_request(), spec, cancel=token)
    finally:
        del vae.decode
    assert engine.run_pass(_request(), spec).effective_steps == 2


def test_engine_cancel_reaches_the_running_pass_and_passes_do_not_overlap(tiny_model_dir):
    engine = Engine(previews=False)
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    engine.models.load(spec)
    in_step, release = threading.Event(), threading.Event()
    log: list[tuple[str, str]] = []
    outcome: dict[str, object] = {}

    def events_of(name: str):
        def on_event(event) -> None:
            if isinstance(event, StepPreview):
                log.append((name, "step"))
                if name == "first" and event.step == 1:
                    in_step.set()
                    release.wait(10)

        return on_event

    def run(name: str) -> None:
        try:
            outcome[name] = engine.run_pass(_request(), spec, on_event=events_of(name))
        except Exception as exc:  # PassCancelled, or what overlapping passes break
            outcome[name] = exc
        finally:
            log.append((name, "end"))

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert in_step.wait(30)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    time.sleep(0.5)
    engine.cancel()  # the pass in progress is the first one
    release.set()
    first.join(30)
    second.join(30)
    assert isinstance(outcome["first"], PassCancelled)
    assert not isinstance(outcome["second"], PassCancelled)
    assert log.index(("first", "end")) < log.index(("second", "step")), log
