"""Memory modes: what auto picks (numbers), applying them on a CPU (tiling, offload falls back
with a note), fp8 storage for big transformers, the SDXL VAE kept from black, and a pass through
the CLI with --memory tiling."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from core.cli.main import main
from core.metadata import read_metadata
from core.models import ModelManager, ModelSpec
from core.models.memory_modes import (
    FP16_FIX_VAE,
    apply_memory_mode,
)

GB = 1_000_000_000


@pytest.fixture(scope="module")
def tiny_pipe(tiny_model_dir):
    from diffusers import StableDiffusionImg2ImgPipeline

    return StableDiffusionImg2ImgPipeline.from_pretrained(tiny_model_dir, safety_checker=None)


def test_tiling_turns_on_the_vaes_tiling_and_slicing(tiny_pipe):
    assert not tiny_pipe.vae.use_tiling
    assert apply_memory_mode(tiny_pipe, "tiling", "cpu", "sd1") == "tiling"
    assert tiny_pipe.vae.use_tiling and tiny_pipe.vae.use_slicing
    tiny_pipe.vae.disable_tiling()
    tiny_pipe.vae.disable_slicing()


@pytest.mark.parametrize("mode", ["offload", "group", "sequential"])
def test_offload_on_a_cpu_falls_back_to_none_with_a_note(tiny_pipe, monkeypatch, mode):
    def refuse(*args, **kwargs):
        raise AssertionError("offload must not be tried on a CPU")

    monkeypatch.setattr(tiny_pipe, "enable_model_cpu_offload", refuse, raising=False)
    monkeypatch.setattr(tiny_pipe, "enable_sequential_cpu_offload", refuse, raising=False)
    monkeypatch.setattr(tiny_pipe, "enable_group_offload", refuse, raising=False)
    notes: list[str] = []
    assert apply_memory_mode(tiny_pipe, mode, "cpu", "sd1", on_note=notes.append) == "none"
    assert len(notes) == 1 and "needs a CUDA GPU" in notes[0] and "\n" not in notes[0]


def test_auto_on_a_cpu_is_none(tiny_pipe):
    assert apply_memory_mode(tiny_pipe, "auto", "cpu", "sd1") == "none"
    assert not tiny_pipe.vae.use_tiling


def test_an_unknown_mode_is_refused(tiny_pipe):
    with pytest.raises(ValueError):
        apply_memory_mode(tiny_pipe, "turbo", "cpu", "sd1")


def _tiny_flux_transformer():
    from diffusers import FluxTransformer2DModel

    return FluxTransformer2DModel(
        patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
    )  # fmt: skip


def test_auto_keeps_a_flux_transformer_in_fp8_when_it_must_offload(monkeypatch):
    import torch

    from core.models import memory_modes

    transformer = _tiny_flux_transformer()
    offloaded: list[str] = []
    pipe = SimpleNamespace(
        transformer=transformer,
        enable_model_cpu_offload=lambda device: offloaded.append(device),
        enable_sequential_cpu_offload=lambda device: offloaded.append(f"sequential {device}"),
    )
    assert apply_memory_mode(pipe, "offload", "cuda", "flux") == "offload"  # as asked: no fp8
    assert {p.dtype for p in transformer.parameters()} == {torch.float32}
    monkeypatch.setattr(memory_modes, "_free_memory", lambda device: (16 * GB, 64 * GB))
    monkeypatch.setattr(memory_modes, "_pipe_bytes", lambda pipe: 34 * GB)  # FLUX.1 in bf16
    monkeypatch.setattr(memory_modes, "_biggest_bytes", lambda pipe: 24 * GB)
    mode = apply_memory_mode(pipe, "auto", "cuda", "flux")  # no GPU needed to set it up
    assert mode == "offload+fp8" and offloaded == ["cuda", "cuda"]
    assert torch.float8_e4m3fn in {p.dtype for p in transformer.parameters()}


def test_a_flux_size_model_on_a_simulated_12_gb_card_is_group_offloaded_in_fp8(monkeypatch):
    """The issue's "done when": FLUX.1 (12B, 24 GB in bf16, 34 GB with its encoders) gets a
    mode that fits 12 GB, set up the way diffusers documents it (CUDA streams)."""
    import torch

    from core.models import memory_modes

    transformer = _tiny_flux_transformer()
    calls: list[dict] = []
    pipe = SimpleNamespace(
        transformer=transformer, enable_group_offload=lambda **kw: calls.append(kw)
    )
    monkeypatch.setattr(memory_modes, "_free_memory", lambda device: (12 * GB, 32 * GB))
    monkeypatch.setattr(memory_modes, "_pipe_bytes", lambda pipe: 34 * GB)
    monkeypatch.setattr(memory_modes, "_biggest_bytes", lambda pipe: 24 * GB)
    notes: list[str] = []
    choice = memory_modes.apply_memory_choice(pipe, "auto", "cuda", "flux", notes.append)
    assert choice.label == "group+fp8"
    assert calls == [
        {
            "onload_device": torch.device("cuda"),
            "offload_device": torch.device("cpu"),
            "offload_type": "block_level",
            "num_blocks_per_group": 1,
            "use_stream": True,
        }
    ]
    assert torch.float8_e4m3fn in {p.dtype for p in transformer.parameters()}
    assert notes[0].startswith("memory auto: group+fp8 (") and "12.0 GB free" in notes[0]


def test_a_pipeline_left_on_the_cpu_is_placed_unless_it_is_offloaded():
    moved: list[str] = []
    pipe = SimpleNamespace(to=moved.append, enable_model_cpu_offload=lambda device: None)
    assert apply_memory_mode(pipe, "none", "cuda", "sd1") == "none" and moved == ["cuda"]
    assert apply_memory_mode(pipe, "offload", "cuda", "sd1") == "offload" and moved == ["cuda"]
    assert apply_memory_mode(pipe, "none", "cpu", "sd1") == "none" and moved == ["cuda"]


def _fp16_vae():
    import torch

    from tests.tiny_models.tiny_model import build_tiny_vae

    return build_tiny_vae(1).to(torch.float16)


def test_an_fp16_sdxl_vae_is_upcast_to_decode(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # no fix VAE cached
    vae = _fp16_vae()
    vae.register_to_config(force_upcast=False)
    pipe = SimpleNamespace(vae=vae)
    assert apply_memory_mode(pipe, "none", "cpu", "sdxl") == "none"
    assert pipe.vae is vae and vae.config.force_upcast is True


def test_the_fp16_fix_vae_is_swapped_in_when_cached(monkeypatch, tmp_path):
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    repo = cache / ("models--" + FP16_FIX_VAE.replace("/", "--"))
    _fp16_vae().save_pretrained(repo / "snapshots" / "abc")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    notes: list[str] = []
    original = _fp16_vae()
    pipe = SimpleNamespace(vae=original)
    apply_memory_mode(pipe, "none", "cpu", "sdxl", on_note=notes.append)
    assert pipe.vae is not original and pipe.vae.config.force_upcast is False
    assert notes == ["SDXL: using the fp16-fix VAE from the HF cache"]


def test_a_pass_with_memory_tiling_through_the_cli(tiny_model_dir, tmp_path, capsys):
    from tests.tiny_models.images import make_image

    picture = tmp_path / "in.png"
    make_image().save(picture)
    out = tmp_path / "out.png"
    argv = ["generate", str(picture), "-o", str(out), "--model", str(tiny_model_dir)]
    argv += ["--steps", "2", "--strength", "0.5", "--seed", "1", "--device", "cpu"]
    assert main([*argv, "--memory", "tiling", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["output"] == str(out)
    assert read_metadata(out)["record"]["model"]["memory"] == "tiling"


def test_the_loaded_message_says_the_mode(tiny_model_dir):
    events: list = []
    spec = ModelSpec(str(tiny_model_dir), device="cpu", memory="offload")
    model = ModelManager().load(spec, events.append)
    assert model.memory_mode == "none"
    messages = [e.message for e in events]
    assert any("needs a CUDA GPU" in m for m in messages)
    assert messages[-1].endswith("(memory: none)")
