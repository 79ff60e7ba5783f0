"""The compile warm-up: after a model loads with regional compilation (``--compile`` on CUDA),
one throw-away pass of one step at the size the user is about to run compiles the repeated
blocks there, so the first Generate starts from compiled kernels instead of paying the compile.

The warm pass keeps what sets the shapes the kernels are compiled for (the picture's size, the
work size, the guidance — CFG doubles the batch — and the edit references) and drops the rest
(prompt, mask, regions, LoRAs, control layers, IP-Adapter references): it is a plain img2img
pass of a grey picture at strength 1, its result discarded and nothing filed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PIL import Image

from core.engine.cancel import CancelToken
from core.model_spec import ModelSpec
from core.requests import PassRequest

if TYPE_CHECKING:
    from core.engine.engine import Engine

GREY = (128, 128, 128)


def compile_warm_request(request: PassRequest) -> PassRequest:
    """The one-step pass that compiles the kernels ``request`` will use."""
    return PassRequest(
        image=Image.new("RGB", request.image.size, GREY),
        strength=1.0,
        steps=1,
        cfg=request.cfg,
        seed=0,
        scheduler=request.scheduler,
        width=request.width,
        height=request.height,
        work_size=request.work_size,
        edit_references=request.edit_references,
    )


def warm_compiled(
    engine: Engine, request: PassRequest, spec: ModelSpec, cancel: CancelToken | None = None
) -> str:
    """Run the compile warm-up for ``request`` when the loaded model was compiled; returns one
    line saying what it did ("" when the model is not compiled: nothing to warm). Raises what a
    pass raises (PassCancelled, a UserError); a caller warming up ignores those."""
    loaded = engine.models.loaded
    if not spec.compile or loaded is None or loaded.compiled != "regional":
        return ""
    warm = compile_warm_request(request)
    start = time.perf_counter()
    engine.run_pass(warm, spec, cancel=cancel)
    width, height = warm.output_size()
    return f"compiled for {width}×{height} in {time.perf_counter() - start:.1f} s"
