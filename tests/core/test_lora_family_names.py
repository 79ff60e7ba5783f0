"""A LoRA's family read from its tensor names alone (``core.library.key_rules.lora_family``), in
the layouts each family's LoRAs come in: diffusers/peft, kohya (``lora_unet_…``) and the original
(``diffusion_model.…``) ones; and which model families each may load on."""

from __future__ import annotations

import pytest

from core.conditioning.lora_files import LORA_FITS
from core.library.key_rules import Keys, lora_family
from core.models.families import FAMILIES


def _family(*names: str) -> str:
    return lora_family(Keys({name: {"shape": [4, 16], "dtype": "BF16"} for name in names}))


@pytest.mark.parametrize(
    ("names", "family"),
    [
        (["transformer.layers.0.attention.to_q.lora_A.weight"], "zimage"),
        (["diffusion_model.layers.3.attention.qkv.lora_A.weight",
          "diffusion_model.noise_refiner.0.attention.out.lora_A.weight"], "zimage"),
        (["lora_unet_layers_0_attention_to_q.lora_down.weight"], "zimage"),
        (["transformer.transformer_blocks.0.img_mlp.net.2.lora_A.weight"], "qwen-image"),
        (["lora_unet_transformer_blocks_0_txt_mlp_net_0_proj.lora_down.weight"], "qwen-image"),
        (["transformer.single_transformer_blocks.0.attn.to_qkv_mlp_proj.lora_A.weight"],
         "flux2-klein"),
        # FLUX.1's original layout also has img_mlp / img_mod: it stays FLUX
        (["diffusion_model.double_blocks.0.img_mlp.0.lora_A.weight"], "flux"),
        (["lora_unet_double_blocks_0_img_mod_lin.lora_down.weight"], "flux"),
        # SD 1.x's attention modules are "attentions", not Z-Image's "attention"
        (["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight"],
         ""),
        (["transformer.transformer_blocks.0.attn.to_q.lora_A.weight"], ""),  # attention only
    ],
)  # fmt: skip
def test_the_family_from_the_names(names, family):
    assert _family(*names) == family


def test_what_each_lora_family_may_load_on_is_a_family():
    for lora_family_key, model_families in LORA_FITS.items():
        assert lora_family_key in FAMILIES
        assert lora_family_key in model_families  # a family always takes its own LoRAs
        assert set(model_families) <= set(FAMILIES)
