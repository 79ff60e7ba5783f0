"""A pipeline call fitted to the model's family: only arguments the pipeline accepts, and a note
in the pass record for every request value that did not apply.

- Flow-matching pipelines (SD 3.5, FLUX.1) turn ``strength`` into a start step with float
  arithmetic (``int(steps − steps × strength)``), which can run one step more than the
  ``int(steps × strength)`` the engine counts; they get the strength that runs exactly the
  engine's count.
- FLUX's guidance is distilled (embedded): the negative prompt is not used (noted, not an error).
- Qwen-Image's CFG is ``true_cfg_scale`` and applies only with a negative prompt: the scale goes
  there, with a blank negative prompt when none is given (as Qwen's own examples do).
- FLUX.1 Kontext edits the whole picture from the instruction: it has no strength (noted), gets
  the work size as its area and keeps it (no snapping to its preferred resolutions); its inpaint
  pipeline takes the picture itself as the reference.
- Edit models that take reference pictures (Qwen-Image-Edit-Plus) get ``image`` as a list: the
  picture being edited first ("image 1" in the instruction), then the references; the output
  keeps the edited picture's size. FLUX.2 Klein's inpaint pipeline takes the picture as its
  first reference itself: the others go to its ``image_reference``.
- Qwen-Image-Edit's inpaint pipeline picks its own size (about 1 MP at the picture's aspect
  ratio) whatever width and height say: :func:`pipeline_size` tells it (previews unpack its
  latents at that size) and the record says so when it is not the work size.
- The record names the pipeline class that ran (``pipeline``).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

from core.models.families import Family

_ACCEPTED: dict[type, frozenset[str] | None] = {}
# Pipelines that resize the picture to this area (px²) at its aspect ratio, by their module's
# ``calculate_dimensions``, and generate at that size whatever width and height say.
OWN_AREA = {"QwenImageEditInpaintPipeline": 1024 * 1024}


def accepted_args(pipe: Any) -> frozenset[str] | None:
    """The keyword arguments ``pipe``'s ``__call__`` accepts (None: any), read once per class."""
    cls = type(pipe)
    if cls not in _ACCEPTED:
        parameters = inspect.signature(cls.__call__).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            _ACCEPTED[cls] = None
        else:
            _ACCEPTED[cls] = frozenset(p.name for p in parameters)
    return _ACCEPTED[cls]


def accepts(pipe: Any, name: str) -> bool:
    """Whether ``pipe``'s call takes the keyword argument ``name``."""
    names = accepted_args(pipe)
    return names is None or name in names


def pipeline_size(pipe: Any, size: tuple[int, int]) -> tuple[int, int]:
    """The size (w, h) ``pipe`` generates at from a picture of ``size``: that size, except for a
    pipeline in :data:`OWN_AREA`, which computes its own as its ``__call__`` does."""
    area = OWN_AREA.get(type(pipe).__name__)
    if area is None:
        return size
    module = sys.modules[type(pipe).__module__]  # read at call time, as the pipeline reads it
    width, height, _ = module.calculate_dimensions(area, size[0] / size[1])
    multiple = int(pipe.vae_scale_factor) * 2
    return (int(width) // multiple * multiple, int(height) // multiple * multiple)


def flow_strength(steps: int, steps_to_run: int) -> float:
    """The strength that makes a flow-matching pipeline run exactly ``steps_to_run`` of
    ``steps`` (a quarter step below the boundary, safe from float rounding either way)."""
    if steps_to_run >= steps:
        return 1.0
    return (steps_to_run - 0.25) / steps


def fit_call(
    pipe: Any, family: Family, steps: int, steps_to_run: int, kwargs: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``kwargs`` fitted to ``pipe`` of ``family``, and the notes for the pass record."""
    fitted = dict(kwargs)
    notes: dict[str, str] = {"pipeline": type(pipe).__name__}  # what ran
    image = fitted.get("image")
    edit_references = tuple(fitted.pop("edit_references", None) or ())
    if family.embedded_guidance and fitted.get("negative_prompt"):
        notes["negative_prompt_note"] = (
            f"{family.label} uses distilled guidance: the negative prompt was not used"
        )
    if family.embedded_guidance:
        fitted.pop("negative_prompt", None)
    if family.true_cfg and "guidance_scale" in fitted:
        fitted["true_cfg_scale"] = fitted.pop("guidance_scale")
        if fitted["true_cfg_scale"] > 1.0 and not fitted.get("negative_prompt"):
            fitted["negative_prompt"] = " "
    if "strength" in fitted and not accepts(pipe, "strength"):
        fitted.pop("strength")
        notes["strength_note"] = (
            f"{family.label} edits the whole picture from the prompt: strength did not apply"
        )
    elif "strength" in fitted and family.flow_matching:
        fitted["strength"] = flow_strength(steps, steps_to_run)
    if image is not None and hasattr(image, "size"):
        width, height = image.size
        own = pipeline_size(pipe, image.size)
        if own != image.size:
            notes["work_size_note"] = (
                f"{type(pipe).__name__} works at {own[0]}x{own[1]} (about 1 MP at the "
                f"picture's aspect ratio, its own rule), not at {width}x{height}"
            )
        for name, value in (("width", width), ("height", height)):
            if accepts(pipe, name):
                fitted.setdefault(name, value)
        if accepts(pipe, "max_area"):  # Kontext: keep the work size, no preferred resolutions
            fitted.setdefault("max_area", width * height)
            fitted.setdefault("_auto_resize", False)
        if accepts(pipe, "image_reference") and not family.edit:  # Kontext's inpaint
            fitted.setdefault("image_reference", image)
    if edit_references and image is not None:
        if accepts(pipe, "image_reference"):  # Klein's inpaint: the picture is already one
            fitted["image_reference"] = list(edit_references)
        else:
            fitted["image"] = [image, *edit_references]
    names = accepted_args(pipe)
    if names is not None:
        fitted = {k: v for k, v in fitted.items() if k in names}
    return fitted, notes
