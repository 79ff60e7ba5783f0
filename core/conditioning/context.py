"""What conditioning (LoRAs, ControlNet layers, IP-Adapter references) sees of a running pass.

The engine's :class:`~core.engine.pass_run.PassRun` holds one :class:`PassContext` and hands it,
never itself, to :func:`core.conditioning.apply.prepare_call`: conditioning reads the request,
the loaded model, the crop being generated and the event callback, and writes only the declared
outputs, which the engine reads back into the pass record and the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from core.events import EventCallback
from core.models import LoadedModel
from core.requests import PassRequest


@dataclass
class PassContext:
    """One pass as conditioning sees it: inputs it reads, outputs it writes."""

    # Read by conditioning.
    model: LoadedModel
    request: PassRequest
    emit: EventCallback  # reports loads (a ControlNet, an image encoder) as ModelLoading
    region_box: tuple[int, int, int, int] | None = None  # the crop an only-masked pass generates
    # Written by conditioning (and by the engine's own notes), read back by the engine.
    record_extra: dict[str, Any] = field(default_factory=dict)  # added to the pass record
    control_images: tuple[Image.Image, ...] = ()  # one per enabled ControlNet layer, work size
