"""Regional prompts in the UNet: a cross-attention processor installed for one pipeline call.

Every cross-attention layer (``attn2``) of the UNet gets a :class:`RegionalAttnProcessor` that
wraps the layer's own processor: it attends once to the pipeline's (base) text embeddings and
once to each region's, then blends per query position,
``out = base + Σ_k w_k · (out_k − base)``, where ``w_k`` is region k's mask downsampled to the
layer's query grid (weights that add up past 1 are scaled to 1). Where no region covers a position
the base prompt's output is kept bit for bit, and a region whose prompt equals the base prompt
changes nothing. Under classifier-free guidance the unconditional half of the batch attends to
the region's negative prompt (the base negative when it has none). The processor only swaps the
text the layer attends to, so it works for SD 1.x (768-dim text) and SDXL (2048-dim; its pooled
``added_cond_kwargs`` pass through unchanged) alike. :func:`regional_prompts` puts the original
processors back when the call ends, however it ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image

from core.conditioning.regions import Region
from core.errors import InvalidRequest
from core.hashing import pixel_hash
from core.imaging import load_mask
from core.requests import PassRequest


def region_records(regions: tuple[Region, ...]) -> list[dict[str, str]]:
    """The pass record's ``regions``: each region's prompt, negative and mask pixel hash."""
    return [
        {"prompt": r.prompt, "negative": r.negative, "mask_hash": pixel_hash(r.mask)}
        for r in regions
    ]


def check_regions_supported(request: PassRequest, supported: bool, family_label: str) -> None:
    """Raise InvalidRequest (one line) when ``request`` has regions and the model's family
    (``family_label``) has no UNet cross-attention to apply them to."""
    if request.regions and not supported:
        raise InvalidRequest(
            f"regional prompts work with SD 1.x, SD 2.x and SDXL models, not {family_label}: "
            "remove the regions or choose another model"
        )


def grid_for(tokens: int, latent_hw: tuple[int, int]) -> tuple[int, int]:
    """The (h, w) query grid of a UNet block with ``tokens`` positions, from the latent size:
    each down block halves the size, rounding up (stride-2 convolutions with padding 1)."""
    h, w = latent_hw
    for _ in range(8):
        if h * w == tokens:
            return h, w
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    raise ValueError(f"{tokens} query positions fit no block of a {latent_hw} latent")


class RegionalAttnProcessor:
    """Wraps one cross-attention layer's processor; see the module docstring."""

    def __init__(
        self,
        inner: Any,
        masks: Any,
        embeds: list[tuple[Any, Any]],
        latent_hw: tuple[int, int],
    ) -> None:
        self.inner = inner
        self.masks = masks  # float tensor (K, 1, H, W) at the latent size, values 0..1
        self.embeds = embeds  # per region: (conditional, unconditional), each (1, tokens, dim)
        self.latent_hw = latent_hw
        self._weights: dict[tuple[int, int], Any] = {}

    def _weights_for(self, hidden_states: Any) -> Any:
        import torch.nn.functional as F

        if hidden_states.ndim == 4:
            h, w = hidden_states.shape[-2:]
        else:
            h, w = grid_for(hidden_states.shape[1], self.latent_hw)
        if (h, w) not in self._weights:
            small = F.adaptive_avg_pool2d(self.masks, (h, w)).flatten(1)  # (K, h*w)
            total = small.sum(0, keepdim=True).clamp(min=1.0)
            self._weights[(h, w)] = small / total
        weights = self._weights[(h, w)].to(hidden_states.dtype)
        return (
            weights[:, None, :, None] if hidden_states.ndim == 3 else weights.view(-1, 1, 1, h, w)
        )

    def _texts(self, index: int, like: Any) -> Any:
        """Region ``index``'s text for a batch shaped like the pipeline's: the pipelines run
        ``[unconditional, conditional]`` halves under guidance (one image per prompt), else one
        conditional row."""
        import torch

        cond, uncond = (t.to(like.device, like.dtype) for t in self.embeds[index])
        batch = like.shape[0]
        if batch % 2 == 0:
            half = batch // 2
            return torch.cat([uncond.expand(half, -1, -1), cond.expand(half, -1, -1)])
        return cond.expand(batch, -1, -1)

    def __call__(
        self,
        attn: Any,
        hidden_states: Any,
        encoder_hidden_states: Any = None,
        attention_mask: Any = None,
        temb: Any = None,
        **kwargs: Any,
    ) -> Any:
        base = self.inner(
            attn, hidden_states, encoder_hidden_states, attention_mask, temb, **kwargs
        )
        if encoder_hidden_states is None or not self.embeds:
            return base
        weights = self._weights_for(hidden_states)
        out = base
        for index in range(len(self.embeds)):
            texts = self._texts(index, encoder_hidden_states)
            region = self.inner(attn, hidden_states, texts, attention_mask, temb, **kwargs)
            out = out + weights[index] * (region - base)
        return out


def _encode(pipe: Any, prompt: str, negative: str) -> tuple[Any, Any]:
    """(conditional, unconditional) embeddings as the pipeline itself encodes them."""
    import torch

    with torch.no_grad():
        encoded = pipe.encode_prompt(
            prompt=prompt,
            device=pipe._execution_device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=True,
            negative_prompt=negative or None,
        )
    return encoded[0], encoded[1]


def _latent_masks(
    regions: tuple[Region, ...],
    picture: tuple[int, int],
    box: tuple[int, int, int, int] | None,
    latent_hw: tuple[int, int],
    device: Any,
) -> Any:
    import numpy as np
    import torch

    planes = []
    for region in regions:
        mask = load_mask(region.mask, picture)
        if box is not None:
            mask = mask.crop(box)
        mask = mask.resize((latent_hw[1], latent_hw[0]), Image.Resampling.BOX)
        planes.append(np.asarray(mask, dtype=np.float32) / 255.0)
    return torch.from_numpy(np.stack(planes)[:, None]).to(device)


@contextmanager
def regional_prompts(
    pipe: Any,
    request: PassRequest,
    work_size: tuple[int, int],
    box: tuple[int, int, int, int] | None = None,
) -> Iterator[None]:
    """Install the regional processor on ``pipe.unet``'s cross-attention layers while inside;
    a request without regions changes nothing. ``work_size`` (w, h) is the size of the picture
    the pipeline gets (it gives the latent size); ``box`` is the part of the request's picture
    it shows (inpainting the masked area only), None for all of it."""
    regions = request.regions
    if not regions:
        yield
        return
    unet = pipe.unet
    scale = int(getattr(pipe, "vae_scale_factor", 8))
    latent_hw = (work_size[1] // scale, work_size[0] // scale)
    negative = request.negative_prompt
    embeds = [_encode(pipe, r.prompt, r.negative or negative) for r in regions]
    masks = _latent_masks(regions, request.output_size(), box, latent_hw, embeds[0][0].device)
    originals = dict(unet.attn_processors)
    installed = {
        name: (
            RegionalAttnProcessor(proc, masks, embeds, latent_hw)
            if name.endswith("attn2.processor")
            else proc
        )
        for name, proc in originals.items()
    }
    unet.set_attn_processor(installed)
    try:
        yield
    finally:
        unet.set_attn_processor(dict(originals))


def regional_call(
    pipe: Any,
    request: PassRequest,
    work_size: tuple[int, int],
    box: tuple[int, int, int, int] | None = None,
) -> Any:
    """``pipe`` itself for a request without regions; else a function that calls it inside
    :func:`regional_prompts`."""
    if not request.regions:
        return pipe

    def call(**kwargs: Any) -> Any:
        with regional_prompts(pipe, request, work_size, box):
            return pipe(**kwargs)

    return call
