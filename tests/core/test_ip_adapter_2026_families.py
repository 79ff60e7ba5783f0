"""IP-Adapter references (the "references" column of the README's 2026 table for the families
that are not edit models): diffusers has no IP-Adapter for Z-Image, Chroma or Qwen-Image, so a
reference is refused in one line naming the family — before any adapter is looked up (the hub id
below would need the network) and with nothing returned."""

from __future__ import annotations

import pytest

from core.conditioning.specs import Reference
from core.engine import Engine
from core.errors import ModelError
from core.models import ModelSpec
from tests.core import family_helpers as fh
from tests.tiny_models.images import make_image
from tests.tiny_models.tiny_chroma import build_tiny_chroma
from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image
from tests.tiny_models.tiny_zimage import build_tiny_zimage

FAMILIES = {
    "Z-Image": build_tiny_zimage,
    "Chroma": build_tiny_chroma,
    "Qwen-Image": build_tiny_qwen_image,
}


@pytest.mark.parametrize("label", list(FAMILIES))
def test_an_ip_adapter_reference_is_refused_in_one_line(label, tmp_path):
    folder = FAMILIES[label](tmp_path / "model")
    reference = Reference("h94/IP-Adapter", make_image(32, 32), scale=0.6)
    with pytest.raises(ModelError) as refused:
        fh.run(
            Engine(previews=False), ModelSpec(str(folder), device="cpu"), references=(reference,)
        )
    text = str(refused.value)
    assert text == f"IP-Adapter references are not available for {label} models"
