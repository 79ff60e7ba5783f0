"""Work-arounds for known faults in diffusers' pipelines, applied once when a model loads.

Each one is a configuration shim (never model code), named after the fault it avoids, and
removable once the installed diffusers no longer has the fault.

- ``ChromaInpaintPipeline`` (diffusers 0.42) reads ``transformer.config.guidance_embeds``,
  which ``ChromaTransformer2DModel``'s config does not have (Chroma has no distilled guidance),
  so every Chroma inpaint call failed with an AttributeError. The transformer's config is given
  ``guidance_embeds=False``: the value the pipeline means (no guidance embedding).
"""

from __future__ import annotations

from typing import Any


def fix_known_pipeline_faults(pipe: Any, family: str) -> None:
    """Apply the work-arounds that ``family``'s pipelines need to ``pipe``'s modules."""
    transformer = getattr(pipe, "transformer", None)
    if (
        family == "chroma"
        and transformer is not None
        and "guidance_embeds" not in transformer.config
    ):
        transformer.register_to_config(guidance_embeds=False)
