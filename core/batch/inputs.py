"""Which files a batch reads and the output path of each.

Outputs are ``OUT_DIR/<stem>.png`` (``<stem>-<ext>.png`` when two inputs share a stem, e.g.
``a.jpg`` and ``a.png``). The input folder is never written to unless ``allow_in_place``; then
outputs are named ``<stem>_img2img.png`` and such files are never read as inputs. Folders and
files are compared by identity (device and inode), so a link, a hard link or another spelling on
a case-insensitive file system is the input too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from core.atomic_io import file_identity
from core.errors import UserError

SUPPORTED_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
IN_PLACE_SUFFIX = "_img2img"


def list_inputs(inputs: str | Path | Sequence[str | Path]) -> list[Path]:
    """The images of a folder (not recursive, supported extensions, outputs of an in-place run
    excluded) or of a list of paths, sorted by name. Raises UserError when there are none."""
    if isinstance(inputs, str | Path):
        folder = Path(inputs)
        if not folder.is_dir():
            raise UserError(
                f"{folder} is not a folder" if folder.exists() else f"no such folder: {folder}"
            )
        paths = [
            p
            for p in folder.iterdir()
            if p.is_file()
            and p.suffix.lower() in SUPPORTED_EXTENSIONS
            and not p.stem.endswith(IN_PLACE_SUFFIX)
        ]
        where = str(folder)
    else:
        paths = [Path(p) for p in inputs]
        where = "the list"
    if not paths:
        kinds = ", ".join(ext[1:] for ext in SUPPORTED_EXTENSIONS)
        raise UserError(f"no images ({kinds}) in {where}")
    return sorted(paths, key=lambda p: (p.name.lower(), str(p)))


def plan_outputs(sources: list[Path], out_dir: str | Path, allow_in_place: bool) -> list[Path]:
    """The output path of every source; refuses the input folder unless ``allow_in_place``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file, not a folder")
    input_folders = {file_identity(p.parent) for p in sources} - {None}
    in_place = out.resolve() in {p.parent.resolve() for p in sources} or (
        file_identity(out) in input_folders  # the same folder by another name or link
    )
    if in_place and not allow_in_place:
        raise UserError(
            f"refusing to write into the input folder {out} (originals are "
            "preserved; choose another folder or pass --in-place)"
        )
    suffix = IN_PLACE_SUFFIX if in_place else ""
    stems = Counter(p.stem for p in sources)
    outputs = []
    for source in sources:
        name = source.stem if stems[source.stem] == 1 else f"{source.stem}-{source.suffix[1:]}"
        outputs.append(out / f"{name}{suffix}.png")
    resolved = {p.resolve() for p in sources}
    identities = {file_identity(p) for p in sources} - {None}
    for output in outputs:
        if output.resolve() in resolved or file_identity(output) in identities:
            raise UserError(f"refusing to write over the input {output} (it is one of the inputs)")
    if len(set(outputs)) != len(outputs):
        raise UserError("two inputs would write the same output file; rename one of them")
    return outputs
