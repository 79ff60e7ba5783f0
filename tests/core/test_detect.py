"""What a model file is, from its header alone: synthetic headers with the real key names and
shapes of each kind and family (the data is sparse zeros), and broken files."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ModelError
from core.library.detect import FileInfo, detect_file, read_header
from core.models.files import checkpoint_info
from tests.core.single_file_helpers import write_header_file

U = "model.diffusion_model."
F32 = "F32"


def _unet(cross: int, in_channels: int = 4, linear: bool = False, dtype: str = F32) -> dict:
    proj = [320, 320] if linear else [320, 320, 1, 1]
    return {
        U + "input_blocks.0.0.weight": (dtype, [320, in_channels, 3, 3]),
        U + "input_blocks.1.1.proj_in.weight": (dtype, proj),
        U + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (dtype, [320, cross]),
        "first_stage_model.decoder.conv_in.weight": (dtype, [512, 4, 3, 3]),
        "first_stage_model.encoder.conv_in.weight": (dtype, [128, 3, 3, 3]),
    }


SD1 = {
    **_unet(768),
    "cond_stage_model.transformer.text_model.final_layer_norm.weight": (F32, [768]),
}
SD2 = {**_unet(1024, linear=True), "cond_stage_model.model.ln_final.weight": (F32, [1024])}
SDXL = {
    **_unet(2048, linear=True),
    U + "label_emb.0.0.weight": (F32, [1280, 2816]),
    "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight": (F32, [768]),
    "conditioner.embedders.1.model.ln_final.weight": (F32, [1280]),
}
SD3 = {
    U + "joint_blocks.0.context_block.adaLN_modulation.1.bias": (F32, [9216]),
    U + "joint_blocks.0.x_block.attn2.qkv.weight": (F32, [4608, 1536]),
    U + "context_embedder.weight": (F32, [1536, 4096]),
}
SD35_LARGE_FULL = {
    U + "joint_blocks.37.x_block.mlp.fc1.weight": (F32, [9728, 2432]),
    U + "joint_blocks.0.context_block.adaLN_modulation.1.bias": (F32, [14592]),
    "first_stage_model.decoder.conv_in.weight": (F32, [512, 16, 3, 3]),
    "text_encoders.clip_l.transformer.text_model.final_layer_norm.weight": (F32, [768]),
    "text_encoders.clip_g.transformer.text_model.final_layer_norm.weight": (F32, [1280]),
}


def _flux(prefix: str = "", in_features: int = 64, guidance: bool = True) -> dict:
    keys = {
        prefix + "img_in.weight": ("BF16", [3072, in_features]),
        prefix + "double_blocks.0.img_attn.norm.key_norm.scale": ("BF16", [128]),
        prefix + "single_blocks.0.linear1.weight": ("BF16", [21504, 3072]),
    }
    if guidance:
        keys[prefix + "guidance_in.in_layer.weight"] = ("BF16", [3072, 256])
    return keys


CASES = {
    "sd1": (SD1, FileInfo("checkpoint", "sd1", notes=("pruned",))),
    "sd1-fp16-inpaint": (
        {**_unet(768, in_channels=9, dtype="F16")},
        FileInfo("checkpoint", "sd1", is_inpaint=True, notes=("fp16", "pruned")),
    ),
    "sd1-ema": (
        {**SD1, "model_ema.diffusion_modelinput_blocks00weight": (F32, [320, 4, 3, 3])},
        FileInfo("checkpoint", "sd1", notes=("EMA",)),
    ),
    "sd1-ema-only": (
        {
            "model_ema.diffusion_modelinput_blocks00weight": (F32, [320, 4, 3, 3]),
            "model_ema.diffusion_modelinput_blocks11transformer_blocks0attn2to_kweight": (
                F32,
                [320, 768],
            ),
            "first_stage_model.encoder.conv_in.weight": (F32, [128, 3, 3, 3]),
        },
        FileInfo("checkpoint", "sd1", notes=("EMA-only",)),
    ),
    "sd2": (SD2, FileInfo("checkpoint", "sd2", notes=("pruned",))),
    "sdxl": (SDXL, FileInfo("checkpoint", "sdxl", notes=("pruned",))),
    "sdxl-inpaint": (
        {**SDXL, **{k: v for k, v in _unet(2048, 9, linear=True).items() if "input_blocks.0" in k}},
        FileInfo("checkpoint", "sdxl", is_inpaint=True, notes=("pruned",)),
    ),
    "sdxl-vpred": (
        {**SDXL, "v_pred": (F32, [0]), "ztsnr": (F32, [0])},
        FileInfo("checkpoint", "sdxl", v_prediction=True, notes=("pruned", "ztsnr")),
    ),
    "sdxl-unet-alone": (
        {k: v for k, v in SDXL.items() if k.startswith(U)},
        FileInfo("unet", "sdxl", notes=("pruned",)),
    ),
    "sd3-medium-transformer": (SD3, FileInfo("unet", "sd3", notes=("medium",))),
    "sd35-large-no-t5": (
        SD35_LARGE_FULL,
        FileInfo("checkpoint", "sd3", notes=("large", "no T5")),
    ),
    "flux-dev": (_flux(), FileInfo("unet", "flux", notes=("bf16", "dev"))),
    "flux-schnell-prefixed": (
        _flux(U, guidance=False),
        FileInfo("unet", "flux", notes=("bf16", "schnell")),
    ),
    "flux-fill": (
        _flux(in_features=384),
        FileInfo("unet", "flux-fill", is_inpaint=True, notes=("bf16", "dev")),
    ),
    "flux-diffusers": (
        {
            "x_embedder.weight": (F32, [3072, 64]),
            "transformer_blocks.0.attn.add_q_proj.weight": (F32, [3072, 3072]),
            "single_transformer_blocks.0.proj_mlp.weight": (F32, [12288, 3072]),
        },
        FileInfo("unet", "flux", notes=("schnell", "diffusers layout")),
    ),
    "lora-sd1-kohya": (
        {
            "lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.lora_down.weight": (
                "F16",
                [8, 768],
            ),
            "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight": ("F16", [3072, 8]),
        },
        FileInfo("lora", "sd1", notes=("fp16",)),
    ),
    "lora-sdxl-te2": (
        {"lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": ("F16", [8, 1280])},
        FileInfo("lora", "sdxl", notes=("fp16",)),
    ),
    "lora-sdxl-peft-shape": (
        {
            "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": (
                F32,
                [4, 2048],
            )
        },
        FileInfo("lora", "sdxl"),
    ),
    "lora-flux-peft": (
        {"transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight": ("BF16", [16, 3072])},
        FileInfo("lora", "flux", notes=("bf16",)),
    ),
    "lycoris-sd1": (
        {"lora_unet_input_blocks_1_1_proj_in.hada_w1_a": (F32, [320, 4])},
        FileInfo("lora", ""),
    ),
    "controlnet-sd1-ldm": (
        {
            "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (
                F32,
                [320, 768],
            ),
            "control_model.time_embed.0.weight": (F32, [1280, 320]),
        },
        FileInfo("controlnet", "sd1"),
    ),
    "controlnet-sdxl-union": (
        {
            "controlnet_cond_embedding.conv_in.weight": ("F16", [16, 3, 3, 3]),
            "add_embedding.linear_1.weight": ("F16", [1280, 2816]),
            "task_embedding": ("F16", [8, 320]),
        },
        FileInfo("controlnet", "sdxl", notes=("fp16", "union")),
    ),
    "ip-adapter-sdxl": (
        {
            "image_proj.proj.weight": ("F16", [8192, 1280]),
            "ip_adapter.1.to_k_ip.weight": ("F16", [640, 2048]),
        },
        FileInfo("ip_adapter", "sdxl", notes=("fp16",)),
    ),
    "vae-16ch": (
        {
            "encoder.conv_in.weight": (F32, [128, 3, 3, 3]),
            "decoder.conv_in.weight": (F32, [512, 16, 3, 3]),
        },
        FileInfo("vae", "", notes=("16-channel latents",)),
    ),
    "clip_g": (
        {
            "text_model.embeddings.token_embedding.weight": ("F16", [49408, 1280]),
            "text_model.encoder.layers.0.mlp.fc1.weight": ("F16", [5120, 1280]),
        },
        FileInfo("text_encoder", "", notes=("fp16", "clip_g")),
    ),
    "t5xxl": (
        {
            "encoder.block.0.layer.0.SelfAttention.q.weight": ("F8_E4M3", [4096, 4096]),
            "shared.weight": ("F8_E4M3", [32128, 4096]),
        },
        FileInfo("text_encoder", "", notes=("fp8", "t5xxl")),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_detects_kind_family_and_variants(tmp_path, name):
    tensors, expected = CASES[name]
    assert detect_file(write_header_file(tmp_path / f"{name}.safetensors", tensors)) == expected


def test_kontext_is_told_by_its_name_only(tmp_path):
    kontext = write_header_file(tmp_path / "flux1-Kontext-dev.safetensors", _flux())
    assert detect_file(kontext).family == "flux-kontext"
    assert detect_file(write_header_file(tmp_path / "edit.safetensors", _flux())).family == "flux"


@pytest.mark.parametrize(
    "metadata",
    [{"modelspec.prediction_type": "v"}, {"ss_v_parameterization": "True"}],
)
def test_v_prediction_from_metadata(tmp_path, metadata):
    path = write_header_file(tmp_path / "sd2v.safetensors", SD2, metadata)
    assert detect_file(path).v_prediction
    assert not detect_file(write_header_file(tmp_path / "sd2.safetensors", SD2)).v_prediction


def test_read_header_returns_shapes_and_metadata(tmp_path):
    path = write_header_file(tmp_path / "m.safetensors", SD2, {"format": "pt"})
    header = read_header(path)
    assert header["__metadata__"] == {"format": "pt"}
    assert header[U + "input_blocks.0.0.weight"]["shape"] == [320, 4, 3, 3]


def test_a_header_length_that_looks_like_a_pickle_opcode_is_still_read(tmp_path):
    """0x80 starts a pickle stream, and also the length of a 384-byte header."""
    raw = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    raw += b" " * (384 - len(raw))
    path = tmp_path / "padded.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\x00" * 4)
    assert path.read_bytes()[0] == 0x80
    assert read_header(path)["a"]["shape"] == [1]


def _broken(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("empty.safetensors", b"", "is empty"),
        ("tiny.safetensors", b"\x01\x02", "truncated"),
        ("cut.safetensors", struct.pack("<Q", 500) + b"{", "truncated (header says 500 bytes"),
        ("junk.safetensors", struct.pack("<Q", 4) + b"\xff\xfe{]", "header is not JSON"),
        ("huge.safetensors", struct.pack("<Q", 1 << 40) + b"{}", "impossible"),
        ("zip.safetensors", b"PK\x03\x04" + b"\x00" * 60, "is a Python pickle"),
        ("model.ckpt", b"\x80\x02}q\x00.", "is a Python pickle (.ckpt file)"),
    ],
)
def test_broken_files_give_one_line_errors(tmp_path, name, data, needle):
    with pytest.raises(ModelError) as err:
        detect_file(_broken(tmp_path, name, data))
    message = str(err.value)
    assert needle in message and name in message and "\n" not in message


def test_interrupted_download_is_truncated(tmp_path):
    path = write_header_file(tmp_path / "partial.safetensors", SD1)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size - 1000)
    with pytest.raises(
        ModelError, match=r"partial.safetensors is truncated \(header says \d+ bytes"
    ):
        detect_file(path)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("lora-sd1-kohya", "is a LoRA, not a checkpoint: give it with --lora"),
        ("controlnet-sd1-ldm", "is a ControlNet, not a checkpoint: give it with --controlnet"),
        ("vae-16ch", "is a VAE alone"),
        ("sd1-ema-only", "only EMA training weights"),
        ("sdxl-unet-alone", "SDXL UNet alone"),
    ],
)
def test_files_that_are_not_checkpoints_say_what_they_are(tmp_path, name, needle):
    path = write_header_file(tmp_path / f"{name}.safetensors", CASES[name][0])
    with pytest.raises(ModelError, match=needle):
        checkpoint_info(path)


def test_unknown_file_names_its_first_keys(tmp_path):
    path = write_header_file(
        tmp_path / "odd.safetensors", {"alpha": (F32, [1]), "beta": (F32, [2])}
    )
    assert detect_file(path) == FileInfo("unknown", "")
    with pytest.raises(ModelError) as err:
        checkpoint_info(path)
    assert str(err.value) == (
        "odd.safetensors: no UNet or transformer keys found (first keys: alpha, beta)"
    )


def test_detection_imports_no_torch():
    code = "import sys, core.library.detect; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_native_size_follows_the_detected_family(tmp_path):
    from core.library.native_size import native_size_of

    def size(name: str, tensors: dict, metadata: dict | None = None) -> int:
        return native_size_of(str(write_header_file(tmp_path / name, tensors, metadata)))

    assert size("sd1.safetensors", SD1) == 512
    assert size("sd2.safetensors", SD2) == 512  # loads with the 2.1-base config
    assert size("sd2v.safetensors", SD2, {"modelspec.prediction_type": "v"}) == 768
    assert size("sdxl.safetensors", SDXL) == 1024
    assert size("sd35.safetensors", SD35_LARGE_FULL) == 1024
    assert size("flux.safetensors", _flux()) == 1024
    assert size("lora.safetensors", CASES["lora-sd1-kohya"][0]) == 512
    flux_folder = tmp_path / "flux-folder"
    (flux_folder / "vae").mkdir(parents=True)
    (flux_folder / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
    (flux_folder / "vae" / "config.json").write_text('{"sample_size": 1024}')
    assert native_size_of(str(flux_folder)) == 1024
    assert native_size_of("black-forest-labs/FLUX.1-schnell") == 1024
    assert native_size_of(str(tmp_path / "broken.safetensors")) == 512
