"""The bundled configs are the real architectures (built on the meta device: no memory), they are
assembled with the shared CLIP tokenizer files, and the LDM layout of a real-size SD 2.x / SDXL
checkpoint converts onto exactly the UNet and text encoders they describe."""

from __future__ import annotations

import json

import pytest

from core.models.files import bundled_config_for

# (family, inpaint, variant) → (pipeline class name, {component: parameter count})
BUNDLED = {
    ("sd2", False, ""): ("StableDiffusionPipeline", {"unet": 865_910_724}),
    ("sd2", False, "v"): ("StableDiffusionPipeline", {"unet": 865_910_724}),
    ("sd2", True, ""): ("StableDiffusionInpaintPipeline", {"unet": 865_925_124}),
    ("sdxl", False, ""): (
        "StableDiffusionXLPipeline",
        {"unet": 2_567_463_684, "text_encoder_2": 694_659_840, "vae": 83_653_863},
    ),
    ("sdxl", True, ""): ("StableDiffusionXLInpaintPipeline", {"unet": 2_567_478_084}),
    ("sd3", False, "medium"): ("StableDiffusion3Pipeline", {"transformer": 2_243_171_520}),
    ("sd3", False, "large"): ("StableDiffusion3Pipeline", {"transformer": 8_056_627_520}),
    ("flux", False, "dev"): ("FluxPipeline", {"transformer": 11_901_408_320, "vae": 83_819_683}),
    ("flux", False, "schnell"): ("FluxPipeline", {"transformer": 11_891_178_560}),
    ("flux-fill", True, ""): ("FluxFillPipeline", {"transformer": 11_902_391_360}),
}


def _meta_model(folder, component):
    import diffusers
    import torch
    import transformers

    library, class_name = json.loads((folder / "model_index.json").read_text())[component]
    cls = getattr(diffusers if library == "diffusers" else transformers, class_name)
    with torch.device("meta"):  # no memory, and no work to initialise the weights
        if library == "diffusers":
            return cls.from_config(cls.load_config(folder / component))
        return cls(cls.config_class.from_pretrained(folder / component))


@pytest.mark.parametrize("key", sorted(BUNDLED), ids=lambda k: "-".join(map(str, k)).strip("-"))
def test_bundled_configs_build_the_real_architectures(key):
    from transformers import CLIPTokenizer

    folder = bundled_config_for(*key)
    pipeline, counts = BUNDLED[key]
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == pipeline
    for component, expected in counts.items():
        model = _meta_model(folder, component)
        assert sum(p.numel() for p in model.parameters()) == expected, component
    for tokenizer in ("tokenizer", "tokenizer_2"):
        if index.get(tokenizer, [None, None])[1] == "CLIPTokenizer":
            ids = CLIPTokenizer.from_pretrained(folder / tokenizer)("a photo of a cat").input_ids
            assert ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_sd2_v_config_predicts_v_and_sdxl_tokenizer_2_pads_with_bang():
    sd2_v = bundled_config_for("sd2", False, "v")
    scheduler = json.loads((sd2_v / "scheduler" / "scheduler_config.json").read_text())
    assert scheduler["prediction_type"] == "v_prediction"
    assert json.loads((sd2_v / "unet" / "config.json").read_text())["sample_size"] == 96
    sdxl = bundled_config_for("sdxl", False)
    assert (
        json.loads((sdxl / "tokenizer_2" / "tokenizer_config.json").read_text())["pad_token"] == "!"
    )


@pytest.mark.parametrize("family", ["sd2", "sdxl"])
def test_real_size_ldm_checkpoint_converts_onto_the_bundled_unet(family):
    """The key set of a real-layout checkpoint (built from the bundled model itself, on meta
    tensors) converts back through diffusers onto exactly the model's own keys."""
    from diffusers.loaders.single_file_utils import (
        convert_ldm_unet_checkpoint,
        convert_open_clip_checkpoint,
    )

    from tests.tiny_models.ldm_export import text_to_open_clip, unet_key_to_ldm

    folder = bundled_config_for(family, False)
    unet = _meta_model(folder, "unet")
    checkpoint = {
        "model.diffusion_model." + unet_key_to_ldm(k, dict(unet.config)): v
        for k, v in unet.state_dict().items()
    }
    converted = convert_ldm_unet_checkpoint(checkpoint, dict(unet.config))
    assert set(converted) == set(unet.state_dict())
    encoder = "text_encoder" if family == "sd2" else "text_encoder_2"
    prefix = "cond_stage_model.model." if family == "sd2" else "conditioner.embedders.1.model."
    text = _meta_model(folder, encoder)
    open_clip = {prefix + k: v for k, v in text_to_open_clip(text.state_dict()).items()}
    converted = convert_open_clip_checkpoint(text, open_clip, prefix=prefix)
    converted = {k if k.startswith(("text_model.", "text_projection")) else k for k in converted}
    expected = {k if k.startswith(("text_model.", "text_projection")) else "text_model." + k
                for k in text.state_dict()}  # fmt: skip
    assert set(converted) == expected
