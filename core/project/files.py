"""Project files (``.i2i``): one zip of lossless PNGs plus the JSON index ``project.json``."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image

from core import __version__
from core.atomic import atomic_writer
from core.conditioning.regions import Region
from core.errors import ProjectError
from core.history import PassRecord, PassTree
from core.imaging import MAX_PIXELS
from core.project.archive import (
    MAX_DECODED_BYTES,
    ZIP_ERRORS,
    ProjectArchive,
    decoded_bytes,
    memory_size,
)
from core.project.schema import (
    INDEX_NAME,
    MASK_LAYER,
    MAX_UI_IMAGES,
    STRENGTH_LAYER,
    UI_IMAGE_NAME,
    Damaged,
    Index,
    Unsupported,
    build_index,
    control_member,
    member_name,
    parse_index,
    region_member,
    ui_image_member,
)
from core.project.session import Session

PROJECT_SUFFIX = ".i2i"
_PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I;16")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class UnreadableProject(ProjectError):
    """A project file whose content is damaged (not a zip, a broken index or picture): no later
    try will read it. Missing files, permissions, a newer format or the limits raise plain
    :class:`ProjectError`."""


# -- writing --------------------------------------------------------------------------------------
def is_project_file(path: str | Path) -> bool:
    """Whether ``path`` is a zip holding a ``project.json`` (damaged or not otherwise)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return INDEX_NAME in zf.namelist()
    except ZIP_ERRORS:
        return False


def _storable(image: Image.Image, layer: bool) -> Image.Image:
    if layer:
        return image if image.mode == "L" else image.convert("L")
    return image if image.mode in _PNG_MODES else image.convert("RGB")


def _write_member(zf: zipfile.ZipFile, name: str, image: Image.Image, level: int) -> None:
    info = zipfile.ZipInfo(name, time.localtime()[:6])
    info.external_attr = 0o100644 << 16
    info.compress_type = zipfile.ZIP_STORED  # PNG data is compressed already
    with zf.open(info, "w") as out:
        image.save(out, format="PNG", compress_level=level)


def _plan(session: Session) -> tuple[list[dict[str, Any]], list[tuple[str, Image.Image]]]:
    """The index entries of the records and the (member name, image) pairs to write."""
    entries: list[dict[str, Any]] = []
    images: list[tuple[str, Image.Image]] = []
    for position, record in enumerate(session.tree.records()):
        members: dict[str, str | None] = {}
        for kind in ("image", "mask", "strength_map"):
            image = getattr(record, kind)
            members[kind] = member_name(position, kind) if image is not None else None
            if image is not None:
                images.append((member_name(position, kind), _storable(image, kind != "image")))
        entry = _entry(record, members)
        if record.regions:
            entry["regions"] = []
            for number, region in enumerate(record.regions):
                name = region_member(position, number)
                entry["regions"].append(
                    {"prompt": region.prompt, "negative": region.negative, "mask": name}
                )
                images.append((name, _storable(region.mask, True)))
        if record.control_images:
            entry["controls"] = []
            for number, control in enumerate(record.control_images):
                name = control_member(position, number)
                entry["controls"].append(name)
                images.append((name, _storable(control, False)))
        entries.append(entry)
    for name, layer in ((MASK_LAYER, session.mask), (STRENGTH_LAYER, session.strength_map)):
        if layer is not None:
            images.append((name, _storable(layer, True)))
    for name, image in session.ui_images.items():
        images.append((ui_image_member(name), _storable(image, False)))
    total = 0
    for name, image in images:
        if image.width * image.height > MAX_PIXELS:
            raise ProjectError(f"too large to save: {name} is over {MAX_PIXELS:,} pixels")
        total += decoded_bytes(image.width, image.height, image.mode)
    if total > MAX_DECODED_BYTES:
        raise ProjectError(
            f"too large to save: its pictures take {memory_size(total)} of memory, over the"
            f" {memory_size(MAX_DECODED_BYTES)} a project may take"
        )
    return entries, images


def _entry(record: PassRecord, members: dict[str, str | None]) -> dict[str, Any]:
    return {
        "id": record.id,
        "parent_id": record.parent_id,
        "name": record.name,
        "params": record.params,
        "duration": float(record.duration),
        "created": float(record.created),
        "group": record.group,
        **members,
    }


def save_project(
    path: str | Path, session: Session, *, compress_level: int = 6, private: bool = False
) -> Path:
    """Write ``session`` to ``path`` atomically: ``path`` is the old file or the new one, never
    half of either. Returns the path.

    Raises :class:`ProjectError` (one line) if ``path`` exists and is not a project file (it is
    never overwritten), is a folder, cannot be written, or if the session cannot be stored
    (parameters that are not JSON, pictures over the pixel or memory limits). ``compress_level``
    (0-9) trades PNG size for speed; autosaves use 1. ``private`` makes the file readable by the
    user alone (0600 on POSIX) from its first byte on.
    """
    path = Path(path)
    if path.is_dir():
        raise ProjectError(f"cannot save project {path}: it is a folder")
    if path.exists() and not is_project_file(path):
        raise ProjectError(f"{path} is not an Img2Img Studio project; it was not overwritten")
    tree = session.tree
    bad_names = [n for n in session.ui_images if not UI_IMAGE_NAME.fullmatch(n)]
    if bad_names or len(session.ui_images) > MAX_UI_IMAGES:
        raise ProjectError(f"cannot save project {path}: the UI pictures' names are not allowed")
    entries, images = _plan(session)
    layers = {
        "mask": MASK_LAYER if session.mask is not None else None,
        "strength_map": STRENGTH_LAYER if session.strength_map is not None else None,
    }
    current = tree.current_id
    if current is None or current not in tree:  # never write a file that cannot be opened
        current = tree.root_id
    try:
        ui_images = {name: ui_image_member(name) for name in session.ui_images}
        index = build_index(
            entries, tree.root_id, current, layers, session.ui, __version__, ui_images
        )
    except (TypeError, ValueError, RecursionError) as exc:
        reason = f"not JSON data ({_one_line(exc)})"
        raise ProjectError(f"cannot save project {path}: {reason}") from None
    try:
        mode = 0o600 if private else None  # private: never readable by others, even for a moment
        with atomic_writer(path, mode=mode) as fh, zipfile.ZipFile(fh, "w") as zf:
            zf.writestr(INDEX_NAME, index, compress_type=zipfile.ZIP_DEFLATED)
            for name, image in images:
                _write_member(zf, name, image, compress_level)
    except OSError as exc:
        reason = _one_line(exc.strerror or exc)
        raise ProjectError(f"cannot save project {path}: {reason}") from None
    return path


# -- reading --------------------------------------------------------------------------------------
def _rebuild(archive: ProjectArchive, index: Index) -> Session:
    referenced = {INDEX_NAME}
    referenced.update(n for e in index.records for n in e.members.values() if n is not None)
    referenced.update(r.mask for e in index.records for r in e.regions)
    referenced.update(n for e in index.records for n in e.controls)
    referenced.update(n for n in index.layers.values() if n is not None)
    referenced.update(index.ui_images.values())
    unexpected = sorted(archive.names() - referenced)
    if unexpected:
        raise Damaged(f"unexpected member {ascii(unexpected[0])}")
    archive.check_budget(sorted(referenced - {INDEX_NAME}))  # before decoding any picture
    records = []
    for entry in index.records:
        image = archive.image(entry.members["image"] or "")
        images = {
            k: archive.image(n, "L") if n else None
            for k, n in entry.members.items()
            if k != "image"
        }
        records.append(
            PassRecord(
                id=entry.id,
                parent_id=entry.parent_id,
                image=image,
                name=entry.name,
                params=entry.params,
                duration=entry.duration,
                created=entry.created,
                group=entry.group,
                mask=images["mask"],
                strength_map=images["strength_map"],
                regions=tuple(
                    Region(archive.image(r.mask, "L"), r.prompt, r.negative) for r in entry.regions
                ),
                control_images=tuple(archive.image(name) for name in entry.controls),
            )
        )
    try:
        tree = PassTree.from_records(records, index.current_id)
    except ValueError as exc:
        raise Damaged(f"the pass tree is broken ({exc})") from None
    if tree.root_id != index.root_id:
        raise Damaged("the pass tree is broken (its root is not the first record)")
    layers = {k: archive.image(n, "L") if n else None for k, n in index.layers.items()}
    ui_images = {name: archive.image(member) for name, member in index.ui_images.items()}
    return Session(tree, layers["mask"], layers["strength_map"], index.ui, ui_images)


def load_project(path: str | Path) -> Session:
    """Read a project file written by :func:`save_project` back into an identical session.

    Raises :class:`ProjectError` (one line naming the file) for anything else: a missing file, not
    a zip, a missing or invalid ``project.json``, missing or unexpected members, unsafe member names
    or types, sizes over the limits, damaged PNGs, a project made by a newer version. Damaged
    content raises its subclass :class:`UnreadableProject`. The pictures' memory (width × height ×
    bytes per pixel of their modes) is counted from their headers and checked against
    :data:`~core.project.archive.MAX_DECODED_BYTES` before any is decoded.
    """
    path = Path(path)
    prefix = f"cannot open project {path}"
    if path.is_dir():
        raise ProjectError(f"{prefix}: it is a folder")
    try:
        with open(path, "rb") as fh:
            archive = ProjectArchive(fh)
            try:
                if INDEX_NAME not in archive.names():
                    raise Damaged(f"it has no {INDEX_NAME}; not an Img2Img Studio project")
                index = parse_index(archive.read(INDEX_NAME))
                return _rebuild(archive, index)
            finally:
                archive.close()
    except FileNotFoundError:
        raise ProjectError(f"{prefix}: no such file") from None
    except PermissionError:
        raise ProjectError(f"{prefix}: permission denied") from None
    except zipfile.BadZipFile as exc:
        reason = "not a zip archive" if "not a zip file" in str(exc) else _one_line(exc)
        raise UnreadableProject(f"{prefix}: not a project file or damaged ({reason})") from None
    except Unsupported as exc:
        raise ProjectError(f"{prefix}: {exc}") from None
    except Damaged as exc:
        raise UnreadableProject(f"{prefix}: {exc}") from None
    except OSError as exc:
        if exc.errno is None:  # zipfile's own OSErrors describe the data
            raise UnreadableProject(f"{prefix}: damaged file ({_one_line(exc)})") from None
        raise ProjectError(f"{prefix}: {_one_line(exc.strerror or exc)}") from None
    except ZIP_ERRORS as exc:
        reason = _one_line(exc) or type(exc).__name__
        raise UnreadableProject(f"{prefix}: damaged file ({reason})") from None
