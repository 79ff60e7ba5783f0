"""Step previews: the linear latent projection and the optional local TAESD decoder."""

from __future__ import annotations

import numpy as np
import torch

from core.sampling.previews import LatentPreviewer, make_previewer


def test_linear_preview_maps_latents_to_rgb():
    latents = torch.zeros(1, 4, 8, 12)
    latents[0, 3] = -2.0  # the 4th SD channel pushes towards blue
    image = LatentPreviewer("sd1")(latents)
    assert image.shape == (8, 12, 3) and image.dtype == np.uint8
    assert image[..., 2].mean() > image[..., 0].mean()


def test_taesd_is_used_when_its_weights_are_local(tmp_path, monkeypatch):
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    tiny = AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1),
    )
    tiny.save_pretrained(tmp_path / "taesd")
    monkeypatch.setenv("IMG2IMG_STUDIO_TAESD", str(tmp_path / "taesd"))
    previewer = make_previewer("sd1", "cpu", torch.float32)
    assert previewer.kind == "taesd"
    image = previewer(torch.randn(1, 4, 8, 12))
    assert image.shape == (64, 96, 3) and image.dtype == np.uint8


def test_missing_taesd_falls_back_to_linear(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG2IMG_STUDIO_TAESD", str(tmp_path / "nothing"))
    assert make_previewer("sd1", "cpu", torch.float32).kind == "linear"
