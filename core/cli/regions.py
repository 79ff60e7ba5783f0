"""``--region MASK.png:PROMPT[|NEGATIVE]``: regional prompts on the command line."""

from __future__ import annotations

from core.conditioning.regions import Region
from core.errors import UserError
from core.imaging import load_mask_file

REGION_HELP = (
    "a regional prompt: MASK.png:PROMPT or MASK.png:PROMPT|NEGATIVE (white in the mask, or its "
    "opaque pixels, follow PROMPT instead of --prompt); repeat for up to 8 regions"
)
_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def parse_region(spec: str) -> Region:
    """One ``--region`` value as a Region; raises UserError (one line) for bad syntax or a mask
    file that is missing or not a picture. The mask is the text before the first ``:`` that
    follows a picture file name (so ``C:\\masks\\a.png:sky`` works); the negative follows ``|``."""
    for at, char in enumerate(spec):
        if char == ":" and spec[:at].lower().endswith(_SUFFIXES):
            path, text = spec[:at], spec[at + 1 :]
            break
    else:
        raise UserError(
            f"--region {spec!r}: expected MASK.png:PROMPT (a picture file, a colon, the prompt)"
        )
    prompt, _, negative = text.partition("|")
    if not prompt.strip():
        raise UserError(f"--region {spec!r}: the prompt after the colon is empty")
    return Region(load_mask_file(path), prompt.strip(), negative.strip())


def parse_regions(specs: list[str] | None) -> tuple[Region, ...]:
    """Every ``--region`` value, in order."""
    return tuple(parse_region(spec) for spec in specs or ())
