"""SD 1.x, 2.x and SDXL single files: tiny LDM exports load offline with every weight in place,
v-prediction is honoured, inpainting files get the inpaint pipeline, and the CLI runs them."""

from __future__ import annotations

import pytest

from core.cli.main import main
from core.library.detect import FileInfo, detect_file
from core.metadata import read_metadata
from core.models import ModelManager, ModelSpec
from tests.core.single_file_helpers import build_sdxl_for_single_file, state_dicts_equal
from tests.tiny_models.images import make_image
from tests.tiny_models.ldm_export import export_single_file


@pytest.fixture(scope="module")
def exports(tmp_path_factory, tiny_inpaint_dir):
    """Tiny diffusers folders and their single-file exports: {name: (folder, file)}."""
    import torch

    from tests.tiny_models.tiny_sd2 import build_tiny_sd2

    root = tmp_path_factory.mktemp("single-sd")
    sd2 = build_tiny_sd2(root / "sd2", v_prediction=True)
    sdxl = build_sdxl_for_single_file(root / "sdxl")
    marker = {"v_pred": torch.zeros(0), "ztsnr": torch.zeros(0)}
    return {
        "sd2-v": (
            sd2,
            export_single_file(sd2, root / "sd2-v.safetensors", v_pred=marker["v_pred"]),
        ),
        "sd2-unmarked": (sd2, export_single_file(sd2, root / "sd2.safetensors")),
        "sdxl": (sdxl, export_single_file(sdxl, root / "sdxl.safetensors")),
        "sdxl-vpred": (sdxl, export_single_file(sdxl, root / "sdxl-vpred.safetensors", **marker)),
        "sd1-inpaint": (
            tiny_inpaint_dir,
            export_single_file(tiny_inpaint_dir, root / "sd1-inpaint.safetensors"),
        ),
    }


@pytest.fixture(scope="module")
def manager():
    return ModelManager()


def test_detection_on_each_export(exports, tiny_single_file):
    assert detect_file(tiny_single_file) == FileInfo("checkpoint", "sd1", notes=("pruned",))
    assert detect_file(exports["sd2-v"][1]) == FileInfo(
        "checkpoint", "sd2", v_prediction=True, notes=("pruned",)
    )
    assert detect_file(exports["sd2-unmarked"][1]).v_prediction is False  # 768-v can't tell
    assert detect_file(exports["sdxl"][1]) == FileInfo("checkpoint", "sdxl", notes=("pruned",))
    vpred = detect_file(exports["sdxl-vpred"][1])
    assert vpred.v_prediction and "ztsnr" in vpred.notes
    assert detect_file(exports["sd1-inpaint"][1]).is_inpaint


@pytest.mark.parametrize("name", ["sd2-v", "sdxl", "sd1-inpaint"])
def test_single_file_loads_every_weight_of_its_folder(exports, manager, name):
    import diffusers

    folder, file = exports[name]
    model = manager.load(ModelSpec(str(file), config=str(folder), device="cpu"))
    reference = diffusers.DiffusionPipeline.from_pretrained(folder)
    for component in ("unet", "vae", "text_encoder", "text_encoder_2"):
        if hasattr(reference, component):
            mine = getattr(model.base_pipe, component)
            assert state_dicts_equal(mine, getattr(reference, component)) == [], component
    assert model.family == name.split("-")[0] and model.weights_file == file
    assert model.is_inpaint_model == name.endswith("inpaint")
    expected = "StableDiffusionInpaintPipeline" if name.endswith("inpaint") else None
    assert expected is None or type(model.base_pipe).__name__ == expected


def test_v_prediction_files_get_a_v_prediction_scheduler(exports, manager):
    sd2 = manager.load(
        ModelSpec(str(exports["sd2-v"][1]), config=str(exports["sd2-v"][0]), device="cpu")
    )
    assert sd2.base_pipe.scheduler.config.prediction_type == "v_prediction"
    folder, file = exports["sdxl-vpred"]
    config = manager.load(
        ModelSpec(str(file), config=str(folder), device="cpu")
    ).base_pipe.scheduler.config
    assert config.prediction_type == "v_prediction"
    assert config.rescale_betas_zero_snr and config.timestep_spacing == "trailing"
    plain = manager.load(ModelSpec(str(exports["sdxl"][1]), config=str(folder), device="cpu"))
    assert plain.base_pipe.scheduler.config.prediction_type == "epsilon"


def test_an_fp16_file_loads_in_the_run_precision(tiny_model_dir, tiny_single_file, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    half = tmp_path / "tiny-fp16.safetensors"
    save_file({k: v.half() for k, v in load_file(tiny_single_file).items()}, half)
    assert "fp16" in detect_file(half).notes
    model = ModelManager().load(ModelSpec(str(half), config=str(tiny_model_dir), device="cpu"))
    weights = load_file(half)
    unet = model.base_pipe.unet.state_dict()
    assert unet["conv_in.weight"].dtype == torch.float32
    ldm = weights["model.diffusion_model.input_blocks.0.0.weight"].float()
    assert torch.equal(unet["conv_in.weight"], ldm)


def test_generate_on_an_sdxl_single_file(exports, tmp_path, capsys):
    folder, file = exports["sdxl"]
    picture, out = tmp_path / "in.png", tmp_path / "out.png"
    make_image(64, 64).save(picture)
    args = ["generate", str(picture), "-o", str(out), "--model", str(file)]
    args += ["--model-config", str(folder), "--steps", "2", "--strength", "0.5", "--seed", "1"]
    assert main(args) == 0, capsys.readouterr().err
    assert read_metadata(out)["record"]["model"]["family"] == "sdxl"


def test_a_lora_given_as_model_says_where_it_goes(tmp_path, capsys):
    from tests.core.single_file_helpers import write_header_file

    lora = write_header_file(
        tmp_path / "style.safetensors",
        {"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": ("F16", [4, 320])},
    )
    picture = tmp_path / "in.png"
    make_image(64, 64).save(picture)
    assert main(["generate", str(picture), "-o", str(tmp_path / "o.png"), "--model", str(lora)])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("error: style.safetensors is a LoRA, not a checkpoint: give it with --lora"), err


def test_weights_that_do_not_fit_the_config_give_one_line(tiny_single_file):
    from core.errors import ModelError

    with pytest.raises(ModelError) as err:  # tiny weights, the real SD 1.5 config
        ModelManager().load(ModelSpec(str(tiny_single_file), device="cpu"))
    message = str(err.value)
    assert message.startswith(f"cannot load {tiny_single_file.name}: ") and "\n" not in message
