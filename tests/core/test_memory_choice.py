"""``--memory auto``: the mode chosen from (free memory, the model's measured size), and why."""

from __future__ import annotations

import pytest

from core.models.memory_choice import GB, choose_memory_mode

# (whole pipeline, biggest component) in bf16/fp16 bytes, as measured on the real models.
SD15 = (2 * GB, int(1.7 * GB))
SDXL = (7 * GB, int(5.2 * GB))
FLUX = (34 * GB, 24 * GB)  # FLUX.1-dev: 12B transformer, T5-XXL, CLIP, VAE
QWEN = (57 * GB, 41 * GB)  # Qwen-Image: 20B transformer, Qwen2.5-VL 7B encoder


@pytest.mark.parametrize(
    ("device", "size", "free_vram", "quantize", "expected"),
    [
        ("cpu", FLUX, None, "none", "none"),  # a CPU never offloads
        ("cpu", SD15, None, "int8", "none"),
        ("cuda", SD15, 24 * GB, "none", "none"),
        ("cuda", SD15, None, "none", "none"),  # unknown: leave it
        ("cuda", SDXL, 24 * GB, "none", "none"),
        ("cuda", SDXL, int(8.8 * GB), "none", "tiling"),  # weights fit, decode tight
        ("cuda", SDXL, 8 * GB, "none", "offload"),  # the UNet fits alone
        ("cuda", SDXL, 4 * GB, "none", "group"),
        ("cuda", SDXL, 1 * GB, "none", "sequential"),
        ("cuda", FLUX, 80 * GB, "none", "none"),  # an H100
        ("cuda", FLUX, 37 * GB, "none", "tiling"),
        ("cuda", FLUX, 30 * GB, "none", "offload"),
        ("cuda", FLUX, 16 * GB, "none", "offload+fp8"),  # a 16 GB card
        ("cuda", FLUX, 12 * GB, "none", "group+fp8"),  # the 12 GB budget
        ("cuda", FLUX, 16 * GB, "int8", "offload"),  # int8 halves it: no fp8 on top
        ("cuda", FLUX, 12 * GB, "int8", "group"),
        ("cuda", FLUX, 24 * GB, "nf4", "none"),  # 4-bit: the transformer is 6.7 GB
        ("cuda", QWEN, 12 * GB, "none", "group+fp8"),
        ("cuda", QWEN, 24 * GB, "none", "offload+fp8"),
        ("cuda", QWEN, 12 * GB, "fp8", "group"),
        ("cuda", QWEN, 2 * GB, "none", "sequential+fp8"),
        ("mps", SDXL, None, "none", "none"),
    ],
)
def test_auto_chooses_from_free_memory_and_the_model_size(
    device, size, free_vram, quantize, expected
):
    whole, biggest = size
    choice = choose_memory_mode(free_vram, 64 * GB, whole, device, quantize, biggest)
    assert choice.label == expected
    assert choice.reason and "\n" not in choice.reason


def test_the_reason_names_the_sizes_and_the_free_memory():
    choice = choose_memory_mode(12 * GB, 32 * GB, *FLUX[:1], "cuda", "none", FLUX[1])
    assert "34.0 GB" in choice.reason and "12.0 GB free" in choice.reason
    assert "CUDA stream" in choice.reason


def test_mps_tiles_when_unified_memory_is_short():
    assert choose_memory_mode(None, 16 * GB, *FLUX[:1], "mps", "none", FLUX[1]).mode == "tiling"


def test_sizes_measured_on_quantized_weights_are_not_shrunk_again():
    once = choose_memory_mode(16 * GB, None, 22 * GB, "cuda", "int8", 12 * GB, True)
    assert once.label == "offload" and "22.0 GB" in once.reason
