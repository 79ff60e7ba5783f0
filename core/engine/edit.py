"""Instruction edits confined to a mask, aligned with the input and pasted back exactly.

An edit model (Qwen-Image-Edit-Plus) repaints the whole picture it is given from an
instruction, and moves its output by a few pixels. With a mask, an edit model without an inpaint
pipeline of its own (``Family.runs_without_strength(masked=True)``; Qwen-Image-Edit and FLUX.2
Klein have one and inpaint as other families do, with a strength) goes through this module, and
the engine:

1. edits the crop around the mask (the mask's box plus the context padding) at the crop's work
   size;
2. measures how the edit moved the crop against the input, from the crop's unmasked area
   (``core.imaging.align``), and undoes it — or, when it cannot be measured, pastes the edit as
   it came and says why;
3. pastes the crop back and blends it through the full-size blurred mask (colour-matched to the
   picture around it, as every masked pass is), so every pixel outside the blurred mask keeps
   the input's bytes.

The measured correction (or the reason there is none) goes into the pass record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image

from core.errors import InvalidRequest
from core.imaging import blur_mask, crop_box, resize_to
from core.imaging.align import apply_alignment, estimate_alignment
from core.models.families import FAMILIES, Family
from core.work_size import crop_work_size

if TYPE_CHECKING:
    from core.engine.pass_run import PassRun


def check_edit_request(family: Family, has_strength_map: bool, references: int = 0) -> None:
    """Refuse (one line) what an edit model cannot do: a per-pixel strength, or more reference
    pictures than it takes (any on a family that takes none)."""
    if family.edit and has_strength_map:
        raise InvalidRequest(
            f"{family.label} edits from an instruction: a strength map (or soft inpainting) "
            "does not apply; paint a mask to confine the edit instead"
        )
    if references > family.max_references:
        if family.max_references:
            raise InvalidRequest(
                f"{family.label} takes at most {family.max_references} reference pictures, "
                f"got {references}"
            )
        takers = ", ".join(f.label for f in FAMILIES.values() if f.max_references)
        raise InvalidRequest(
            f"{family.label} takes no reference pictures (edit models that do: {takers}); "
            "for an IP-Adapter reference give --ip-adapter MODEL before --reference"
        )


def run_masked_edit(run: PassRun, source: Image.Image, mask: Image.Image) -> Image.Image:
    """The edit of ``run`` confined to ``mask``, aligned and pasted back."""
    # 1. Edit the crop around the mask at its work size.
    request, model = run.request, run.model
    blurred = blur_mask(mask, request.mask_blur)
    box = crop_box(blurred, source.size, request.padding)
    crop_size = (box[2] - box[0], box[3] - box[1])
    work = crop_work_size(crop_size, request.work_size, model.native_size, model.size_multiple)
    crop = source.crop(box)
    run.context.region_box = box
    edited = resize_to(run.call(model.img2img_pipe, image=resize_to(crop, work)), crop_size)
    # 2. Undo the edit's movement, measured outside the (blurred) mask.
    alignment = estimate_alignment(crop, edited, blurred.crop(box))
    run.context.record_extra.update(alignment.record())
    if not alignment.estimated:
        run.context.record_extra["alignment_note"] = (
            f"the edit could not be aligned with the picture ({alignment.reason}): "
            "it was pasted back as the model returned it"
        )
    aligned = apply_alignment(edited, alignment)
    # 3. Paste the crop back; the blurred mask decides every pixel.
    full = source.copy()
    full.paste(aligned, box[:2])
    return run.paste_back(source, full, blurred)
