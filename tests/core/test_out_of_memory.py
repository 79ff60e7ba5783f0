"""Running out of memory in a pass: a one-line error with advice, the pass's memory given back,
the model and the engine kept, and the next pass works."""

from __future__ import annotations

import weakref

import pytest
import torch

import core.models.loading
from core.engine import Engine, OutOfMemory
from core.engine.memory import is_out_of_memory
from core.errors import UserError
from core.models import ModelSpec
from core.requests import PassRequest
from tests.tiny_models.images import make_image

OOM_ERRORS = [
    MemoryError(),
    RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total)"),
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:83] DefaultCPUAllocator: can't allocate memory"),
]


def _request(**kw) -> PassRequest:
    kw.setdefault("steps", 4)
    kw.setdefault("seed", 3)
    kw.setdefault("strength", 0.5)
    return PassRequest(make_image(64, 48), "x", **kw)


@pytest.fixture
def fresh_engine():
    return Engine(previews=False)


@pytest.mark.parametrize("error", OOM_ERRORS, ids=lambda e: type(e).__name__)
def test_out_of_memory_in_a_pass_is_one_line_and_the_next_pass_works(
    fresh_engine, tiny_model_dir, monkeypatch, error
):
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    model = fresh_engine.models.load(spec)
    pipe_class = type(model.img2img_pipe)
    real_call = pipe_class.__call__
    held: list = []
    emptied: list = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))

    def out_of_memory_once(self, *args, **kwargs):
        monkeypatch.setattr(pipe_class, "__call__", real_call)
        activations = torch.zeros(256, 256)  # what the failed pass was holding
        held.append(weakref.ref(activations))
        raise error

    monkeypatch.setattr(pipe_class, "__call__", out_of_memory_once)
    with pytest.raises(OutOfMemory) as caught:
        fresh_engine.run_pass(_request(work_size="input"), spec)
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert message.startswith("out of memory at 64×48 on cpu: try a smaller work size")
    assert "\n" not in message and "not available yet" in message
    assert held[0]() is None  # the failed pass's tensors are gone
    assert emptied  # the CUDA allocator's cache was emptied
    assert fresh_engine.models.loaded is model  # the model stays loaded

    result = fresh_engine.run_pass(_request(), spec)
    assert result.image.size == (64, 48) and result.effective_steps == 2
    assert fresh_engine.models.loaded is model


def test_out_of_memory_while_loading_says_so_and_the_next_load_works(
    fresh_engine, tiny_model_dir, monkeypatch
):
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    real_load = core.models.loading._load_folder

    def load_out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")

    monkeypatch.setattr(core.models.loading, "_load_folder", load_out_of_memory)
    with pytest.raises(OutOfMemory, match="^out of memory while loading the model on cpu"):
        fresh_engine.run_pass(_request(), spec)
    assert fresh_engine.models.loaded is None
    monkeypatch.setattr(core.models.loading, "_load_folder", real_load)
    assert fresh_engine.run_pass(_request(), spec).effective_steps == 2


def test_full_precision_on_a_gpu_suggests_fp16():
    from core.engine.memory import MemoryWatch

    watch = MemoryWatch()
    watch.reached("cuda", torch.float32, (1024, 1024))
    assert watch.message().startswith(
        "out of memory at 1024×1024 on cuda: try a smaller work size (or smaller tiles when "
        "upscaling), or fp16 precision; the model stays loaded"
    )
    watch.reached("cuda", torch.float16, (1024, 1024))
    assert "fp16" not in watch.message()


def test_other_errors_are_not_mistaken_for_out_of_memory():
    assert all(is_out_of_memory(error) for error in OOM_ERRORS)
    assert not is_out_of_memory(RuntimeError("expected scalar type Half but found Float"))
    assert not is_out_of_memory(ValueError("out of memory"))  # only allocation errors count


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_real_cuda_out_of_memory_gives_the_memory_back(tiny_model_dir):
    """Under a memory cap just above the loaded model, a 2048×2048 pass runs out of memory for
    real; the memory is given back and the next pass runs under the same cap."""
    engine = Engine(previews=False)
    spec = ModelSpec(str(tiny_model_dir), device="cuda", dtype="fp32")
    first = engine.run_pass(_request(), spec)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction((base + 256 * 2**20) / total)
    try:
        big = PassRequest(make_image(2048, 2048), "x", steps=4, seed=1, work_size="2048x2048")
        with pytest.raises(OutOfMemory, match="^out of memory at 2048×2048 on cuda"):
            engine.run_pass(big, spec)
        assert torch.cuda.memory_allocated() <= base + 8 * 2**20
        again = engine.run_pass(_request(), spec)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    assert again.image.tobytes() == first.image.tobytes()
