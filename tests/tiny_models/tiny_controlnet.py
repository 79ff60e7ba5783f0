"""Build tiny random-weight ControlNets offline, matching the tiny SD 1.x, SDXL, FLUX.1,
Qwen-Image and Z-Image models.

The ControlNet copies the tiny UNet's configuration (``ControlNetModel.from_unet``); its zero
convolutions (which a real ControlNet learns away from zero) get small random weights, so a
control image really changes the output. ``union=True`` builds a union ControlNet for SDXL.
``build_tiny_flux_controlnet`` does the same for the tiny FLUX.1 transformer
(``FluxControlNetModel.from_transformer``, one double and one single block),
``build_tiny_qwen_controlnet`` for the tiny Qwen-Image transformer
(``QwenImageControlNetModel.from_transformer``, one block) and ``build_tiny_zimage_controlnet``
for the tiny Z-Image one (a ``ZImageControlNetModel`` of its width: one control block, one
refiner block); ``zero=True`` keeps diffusers' zero projections.

Usage: ``python -m tests.tiny_models.tiny_controlnet OUT_DIR [--sdxl] [--union]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

CONDITIONING_CHANNELS = (8, 8, 16, 16)  # the control image is brought down 8× (the VAE's factor)


def tiny_unet(sdxl: bool = False, seed: int = 0, model_dir: str | Path | None = None) -> Any:
    """The UNet of the tiny model in ``model_dir`` (loaded), else a freshly built tiny one."""
    if model_dir is not None:
        from diffusers import UNet2DConditionModel

        return UNet2DConditionModel.from_pretrained(Path(model_dir) / "unet", use_safetensors=True)
    if sdxl:
        from tests.tiny_models.tiny_sdxl import build_sdxl_components

        return build_sdxl_components(seed)["unet"]
    from tests.tiny_models.tiny_model import build_components

    return build_components(seed=seed)["unet"]


def build_controlnet(
    sdxl: bool = False, union: bool = False, seed: int = 0, model_dir: str | Path | None = None
) -> Any:
    """A seeded tiny ControlNet (or union ControlNet) for the tiny SD 1.x or SDXL UNet (the one
    in ``model_dir`` when given: much faster than building one)."""
    import torch
    from diffusers import ControlNetModel, ControlNetUnionModel

    unet = tiny_unet(sdxl, seed, model_dir)
    controlnet = ControlNetModel.from_unet(
        unet, conditioning_embedding_out_channels=CONDITIONING_CHANNELS
    )
    if union:  # its control-type transformer is as wide as the UNet's first block
        width = controlnet.config.block_out_channels[0]
        config = {**controlnet.config, "num_trans_channel": width, "num_proj_channel": width}
        controlnet = ControlNetUnionModel.from_config(config)
    generator = torch.Generator().manual_seed(seed + 10)
    zero_convs = [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block]
    zero_convs.append(controlnet.controlnet_cond_embedding.conv_out)
    if union:
        zero_convs.append(controlnet.spatial_ch_projs)
    with torch.no_grad():
        for conv in zero_convs:
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * 0.1)
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator) * 0.1)
    return controlnet


def build_tiny_controlnet(
    out: str | Path,
    sdxl: bool = False,
    union: bool = False,
    seed: int = 0,
    model_dir: str | Path | None = None,
) -> Path:
    """Write a tiny ControlNet folder (config.json + safetensors weights) and return its path."""
    folder = Path(out)
    controlnet = build_controlnet(sdxl, union, seed, model_dir)
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_qwen_controlnet(
    out: str | Path,
    model_dir: str | Path,
    seed: int = 0,
    zero: bool = False,
    extra_condition_channels: int = 0,
) -> Path:
    """Write a tiny ``QwenImageControlNetModel`` for the tiny Qwen-Image model in ``model_dir``
    (one block, its transformer's width and weights) and return its folder. Its output
    projections get small random weights unless ``zero`` (diffusers starts them at zero: such a
    ControlNet adds exactly nothing); ``extra_condition_channels`` makes an inpainting one."""
    import torch
    from diffusers import QwenImageControlNetModel, QwenImageTransformer2DModel

    transformer = QwenImageTransformer2DModel.from_pretrained(
        Path(model_dir) / "transformer", use_safetensors=True
    )
    config = transformer.config
    controlnet = QwenImageControlNetModel.from_transformer(
        transformer,
        num_layers=1,
        attention_head_dim=config.attention_head_dim,
        num_attention_heads=config.num_attention_heads,
        extra_condition_channels=extra_condition_channels,
    )
    if not zero:
        generator = torch.Generator().manual_seed(seed + 10)
        with torch.no_grad():
            for linear in [*controlnet.controlnet_blocks, controlnet.controlnet_x_embedder]:
                linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator) * 0.1)
                linear.bias.copy_(torch.randn(linear.bias.shape, generator=generator) * 0.1)
    folder = Path(out)
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_flux_controlnet(
    out: str | Path, model_dir: str | Path, seed: int = 0, zero: bool = False, hint: bool = False
) -> Path:
    """Write a tiny ``FluxControlNetModel`` for the tiny FLUX.1 model in ``model_dir`` (one
    double and one single block, its transformer's width and weights) and return its folder.
    By default an InstantX-style one (the pipeline gives it the control image's VAE latents);
    ``hint`` makes an XLabs-style one (its own ``input_hint_block`` reads the pixels). Its output
    projections get small random weights unless ``zero`` (diffusers starts them at zero)."""
    import torch
    from diffusers import FluxControlNetModel, FluxTransformer2DModel

    transformer = FluxTransformer2DModel.from_pretrained(
        Path(model_dir) / "transformer", use_safetensors=True
    )
    config = transformer.config
    torch.manual_seed(seed)
    if hint:
        # The hint block brings the pixels down 8× to 16 channels; patch size 2 packs them 2×2
        # into the 64 channels of the packed latents (as XLabs' converted configs do).
        values = {k: v for k, v in config.items() if k != "out_channels"}
        values.update(num_layers=1, num_single_layers=1, conditioning_embedding_channels=16)
        controlnet: Any = FluxControlNetModel.from_config({**values, "patch_size": 2})
    else:
        controlnet = FluxControlNetModel.from_transformer(
            transformer,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=config.attention_head_dim,
            num_attention_heads=config.num_attention_heads,
        )
    projections = [*controlnet.controlnet_blocks, *controlnet.controlnet_single_blocks]
    projections.append(controlnet.controlnet_x_embedder)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed + 10)
        for linear in projections:
            scale = 0.0 if zero else 0.1
            linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator) * scale)
            linear.bias.copy_(torch.randn(linear.bias.shape, generator=generator) * scale)
    folder = Path(out)
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_sd3_controlnet(
    out: str | Path, model_dir: str | Path, seed: int = 0, zero: bool = False
) -> Path:
    """Write a tiny ``SD3ControlNetModel`` for the tiny SD 3.5 model in ``model_dir`` (one
    block, its transformer's width and weights) and return its folder. Its output projections
    get small random weights unless ``zero`` (diffusers starts them at zero)."""
    import torch
    from diffusers import SD3ControlNetModel, SD3Transformer2DModel

    transformer = SD3Transformer2DModel.from_pretrained(
        Path(model_dir) / "transformer", use_safetensors=True
    )
    # Its one block is not the transformer's last (which has no context output): fresh weights.
    torch.manual_seed(seed)
    config = {**transformer.config, "num_layers": 1, "extra_conditioning_channels": 0}
    controlnet: Any = SD3ControlNetModel.from_config(config)
    if zero:
        with torch.no_grad():
            for linear in controlnet.controlnet_blocks:
                linear.weight.zero_()
                linear.bias.zero_()
    if not zero:
        generator = torch.Generator().manual_seed(seed + 10)
        with torch.no_grad():
            for linear in controlnet.controlnet_blocks:
                linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator) * 0.1)
                linear.bias.copy_(torch.randn(linear.bias.shape, generator=generator) * 0.1)
            projection = controlnet.pos_embed_input.proj
            projection.weight.copy_(torch.randn(projection.weight.shape, generator=generator) * 0.1)
    folder = Path(out)
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_zimage_controlnet(
    out: str | Path, model_dir: str | Path, seed: int = 0, zero: bool = False
) -> Path:
    """Write a tiny ``ZImageControlNetModel`` for the tiny Z-Image model in ``model_dir`` (its
    width and heads; the pipeline gives it the transformer's embedders) and return its folder.
    Its projections get small random weights unless ``zero`` (diffusers starts them at zero)."""
    import torch
    from diffusers import ZImageControlNetModel, ZImageTransformer2DModel

    transformer = ZImageTransformer2DModel.from_pretrained(
        Path(model_dir) / "transformer", use_safetensors=True
    )
    config = transformer.config
    torch.manual_seed(seed)
    controlnet: Any = ZImageControlNetModel(
        control_layers_places=[0],
        control_refiner_layers_places=[0],
        control_in_dim=config.in_channels,
        all_patch_size=tuple(config.all_patch_size),
        all_f_patch_size=tuple(config.all_f_patch_size),
        dim=config.dim,
        n_refiner_layers=config.n_refiner_layers,
        n_heads=config.n_heads,
        n_kv_heads=config.n_kv_heads,
        norm_eps=config.norm_eps,
        qk_norm=config.qk_norm,
    )
    if not zero:
        generator = torch.Generator().manual_seed(seed + 10)
        with torch.no_grad():
            for name, parameter in controlnet.named_parameters():
                if "before_proj" in name or "after_proj" in name:
                    values = torch.randn(parameter.shape, generator=generator) * 0.1
                    parameter.copy_(values)
    folder = Path(out)
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_depth_estimator(folder: str | Path) -> Path:
    """A tiny random-weight DPT depth estimator (safetensors + image-processor config), laid
    out as the ``depth`` preprocessor (``core.conditioning.annotator_files.detector_folder``)."""
    import torch
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    torch.manual_seed(0)
    config = DPTConfig(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=32,
        patch_size=16,
        backbone_out_indices=[0, 1, 2, 3],
        neck_hidden_sizes=[16, 16, 32, 32],
        fusion_hidden_size=16,
        reassemble_factors=[4, 2, 1, 0.5],
        is_hybrid=False,
    )
    out = Path(folder)
    DPTForDepthEstimation(config).save_pretrained(out, safe_serialization=True)
    processor = DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False)
    processor.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_controlnet", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the ControlNet into")
    parser.add_argument("--sdxl", action="store_true", help="for the tiny SDXL model")
    parser.add_argument("--union", action="store_true", help="a union ControlNet (SDXL)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    folder = build_tiny_controlnet(args.out_dir, args.sdxl, args.union, args.seed)
    print(f"tiny ControlNet: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
