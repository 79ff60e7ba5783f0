"""--compile: regional compilation is for CUDA; on a CPU the model loads as it is, with a note."""

from __future__ import annotations

import os
from types import SimpleNamespace

from core.models import ModelManager, ModelSpec
from core.models.compile import compile_repeated_blocks


def test_on_a_cpu_compile_is_off_with_a_note(tiny_model_dir):
    events: list = []
    model = ModelManager().load(
        ModelSpec(str(tiny_model_dir), device="cpu", compile=True), events.append
    )
    assert model.compiled == "off"
    assert any(
        e.message == "compile: off on cpu (regional compilation is for CUDA GPUs)" for e in events
    )


def test_on_cuda_the_repeated_blocks_compile_with_a_kept_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    calls: list[dict] = []
    denoiser = SimpleNamespace(
        _repeated_blocks=["FluxTransformerBlock"],
        compile_repeated_blocks=lambda **kw: calls.append(kw),
    )
    assert compile_repeated_blocks(SimpleNamespace(transformer=denoiser), "cuda") == "regional"
    assert calls == [{"fullgraph": True}]
    cache = os.environ["TORCHINDUCTOR_CACHE_DIR"]
    assert cache.endswith("torchinductor") and os.path.isdir(cache)
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")


def test_a_model_without_repeated_blocks_is_left_as_it_is():
    notes: list[str] = []
    plain = SimpleNamespace(transformer=SimpleNamespace(_repeated_blocks=[]))
    assert compile_repeated_blocks(plain, "cuda", notes.append) == "off" and len(notes) == 1
