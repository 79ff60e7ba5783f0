"""The JSON index of a project file (``project.json``): its layout, checks and migrations.

Schema version 1::

    {"format": "img2img-studio-project", "schema_version": 1, "app_version": "0.1.0",
     "root_id": "root" | null, "current_id": "p3" | null,
     "records": [{"id", "parent_id", "name", "params", "duration", "created", "group",
                  "image": "images/00000.png", "mask": "masks/00000.png" | null,
                  "strength_map": "strength_maps/00000.png" | null,
                  "regions": [{"prompt", "negative", "mask": "regions/00000-0.png"}, ...]
                             (optional: absent when the pass had no regional prompts),
                  "controls": ["controls/00000-0.png", ...]
                             (optional: absent when the pass had no control layers)}, ...],
     "layers": {"mask": "layers/mask.png" | null, "strength_map": "layers/strength_map.png" | null},
     "ui": {...},
     "ui_images": {"control-0": "ui_images/control-0.png", ...}
                  (optional: absent when the front end keeps no pictures)}

Records are listed root first, parents before their children, children in order (the order of
:meth:`PassTree.records`); a record's members are named after its position in that list. Older
indexes are brought up to date by :data:`MIGRATIONS` (``{version: upgrade to version + 1}``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.conditioning.regions import MAX_REGIONS
from core.conditioning.specs import MAX_CONTROLS

FORMAT = "img2img-studio-project"
SCHEMA_VERSION = 1
INDEX_NAME = "project.json"
MASK_LAYER = "layers/mask.png"
STRENGTH_LAYER = "layers/strength_map.png"
MAX_RECORDS = 100_000
MAX_UI_IMAGES = 16
UI_IMAGE_NAME = re.compile(r"[a-z0-9-]{1,40}")
_FOLDERS = {"image": "images", "mask": "masks", "strength_map": "strength_maps"}
_KINDS = tuple(_FOLDERS)


class Damaged(Exception):
    """The archive or its index is not what the writer writes; the message is one line."""


class Unsupported(Damaged):
    """A file this version will not open though it may be sound: a newer project format, or
    pictures over the memory limits; the message is one line."""


def member_name(position: int, kind: str) -> str:
    """The member holding record number ``position``'s ``kind`` (image, mask, strength_map)."""
    return f"{_FOLDERS[kind]}/{position:05d}.png"


def region_member(position: int, number: int) -> str:
    """The member holding the mask of record number ``position``'s region ``number``."""
    return f"regions/{position:05d}-{number}.png"


def control_member(position: int, number: int) -> str:
    """The member holding record number ``position``'s control image ``number``."""
    return f"controls/{position:05d}-{number}.png"


def ui_image_member(name: str) -> str:
    """The member holding the front end's picture ``name``."""
    return f"ui_images/{name}.png"


@dataclass(frozen=True)
class RegionEntry:
    prompt: str
    negative: str
    mask: str  # member name


@dataclass(frozen=True)
class RecordEntry:
    id: str
    parent_id: str | None
    name: str
    params: dict
    duration: float
    created: float
    group: str | None
    members: dict[str, str | None]  # kind → member name or None
    regions: tuple[RegionEntry, ...] = ()  # optional in the index: older files have none
    controls: tuple[str, ...] = ()  # control image members; optional like regions


@dataclass(frozen=True)
class Index:
    app_version: str
    root_id: str | None
    current_id: str | None
    records: list[RecordEntry]
    layers: dict[str, str | None]  # "mask" / "strength_map" → member name or None
    ui: dict
    ui_images: dict[str, str] = field(default_factory=dict)  # name → member name


def _upgrade_v0(index: dict) -> dict:
    """Version 0 (synthetic, never released): no ``layers`` and no ``ui``."""
    return {**index, "layers": {"mask": None, "strength_map": None}, "ui": {}, "schema_version": 1}


MIGRATIONS: dict[int, Callable[[dict], dict]] = {0: _upgrade_v0}


# -- checks -------------------------------------------------------------------------------------
def _type_name(value: object) -> str:
    return {type(None): "null", bool: "boolean", str: "text", dict: "object", list: "list"}.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__
    )


def _field(obj: dict, key: str, kind: str, where: str) -> Any:
    if key not in obj:
        raise Damaged(f"{where} has no {key!r}")
    value = obj[key]
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None and nullable:
        return None
    ok = {
        "text": isinstance(value, str),
        "object": isinstance(value, dict),
        "list": isinstance(value, list),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value),
    }[kind]
    if not ok:
        wanted = f"{kind} or null" if nullable else kind
        raise Damaged(f"{where}: {key!r} should be {wanted}, not {_type_name(value)}")
    return value


def _member(obj: dict, key: str, expected: str, where: str, optional: bool) -> str | None:
    name = _field(obj, key, "text?" if optional else "text", where)
    if name is not None and name != expected:
        raise Damaged(f"{where}: {key!r} names {name!r}, expected {expected!r}")
    return name


def _record(obj: object, position: int) -> RecordEntry:
    where = f"record {position}"
    if not isinstance(obj, dict):
        raise Damaged(f"{where} should be an object, not {_type_name(obj)}")
    members = {
        kind: _member(obj, kind, member_name(position, kind), where, optional=kind != "image")
        for kind in _KINDS
    }
    return RecordEntry(
        id=_field(obj, "id", "text", where),
        parent_id=_field(obj, "parent_id", "text?", where),
        name=_field(obj, "name", "text", where),
        params=_field(obj, "params", "object", where),
        duration=float(_field(obj, "duration", "number", where)),
        created=float(_field(obj, "created", "number", where)),
        group=_field(obj, "group", "text?", where),
        members=members,
        regions=_regions(obj, position, where),
        controls=_controls(obj, position, where),
    )


def _regions(obj: dict, position: int, where: str) -> tuple[RegionEntry, ...]:
    if obj.get("regions") is None:
        return ()
    items = _field(obj, "regions", "list", where)
    if len(items) > MAX_REGIONS:
        raise Damaged(f"{where}: {len(items)} regions, over the limit of {MAX_REGIONS}")
    entries = []
    for number, item in enumerate(items):
        place = f"{where} region {number}"
        if not isinstance(item, dict):
            raise Damaged(f"{place} should be an object, not {_type_name(item)}")
        entries.append(
            RegionEntry(
                prompt=_field(item, "prompt", "text", place),
                negative=_field(item, "negative", "text", place),
                mask=_member(item, "mask", region_member(position, number), place, False) or "",
            )
        )
    return tuple(entries)


def _controls(obj: dict, position: int, where: str) -> tuple[str, ...]:
    if obj.get("controls") is None:
        return ()
    items = _field(obj, "controls", "list", where)
    if len(items) > MAX_CONTROLS:
        raise Damaged(f"{where}: {len(items)} control images, over the limit of {MAX_CONTROLS}")
    names = []
    for number, name in enumerate(items):
        if name != control_member(position, number):
            raise Damaged(
                f"{where} control image {number}: expected {control_member(position, number)!r}"
            )
        names.append(name)
    return tuple(names)


def _ui_images(index: dict) -> dict[str, str]:
    if index.get("ui_images") is None:
        return {}
    items = _field(index, "ui_images", "object", "the index")
    if len(items) > MAX_UI_IMAGES:
        raise Damaged(f"{len(items)} UI pictures, over the limit of {MAX_UI_IMAGES}")
    members = {}
    for name in items:
        if not UI_IMAGE_NAME.fullmatch(name):
            raise Damaged(f"the UI picture name {ascii(name)} is not allowed")
        members[name] = _member(items, name, ui_image_member(name), "ui_images", False) or ""
    return members


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _migrate(index: dict) -> dict:
    version = _field(index, "schema_version", "integer", "the index")
    if version > SCHEMA_VERSION:
        raise Unsupported(
            f"made by a newer Img2Img Studio (project format {version}, this version reads up to"
            f" {SCHEMA_VERSION}); update to open it"
        )
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise Damaged(f"project format {version} is not supported")
        index = MIGRATIONS[version](index)
        version += 1
    return index


def parse_index(data: bytes) -> Index:
    """Check and migrate a ``project.json``; raises :class:`Damaged` for anything else."""
    try:
        index = json.loads(data.decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise Damaged(f"{INDEX_NAME} is not valid JSON ({' '.join(str(exc).split())})") from None
    if not isinstance(index, dict):
        raise Damaged(f"{INDEX_NAME} should hold an object, not {_type_name(index)}")
    if index.get("format") != FORMAT:
        raise Damaged(f"{INDEX_NAME} is not an Img2Img Studio project index")
    index = _migrate(index)
    raw_records = _field(index, "records", "list", "the index")
    if len(raw_records) > MAX_RECORDS:
        raise Damaged(f"{len(raw_records)} records, over the limit of {MAX_RECORDS}")
    layers = _field(index, "layers", "object", "the index")
    return Index(
        app_version=_field(index, "app_version", "text", "the index"),
        root_id=_field(index, "root_id", "text?", "the index"),
        current_id=_field(index, "current_id", "text?", "the index"),
        records=[_record(obj, n) for n, obj in enumerate(raw_records)],
        layers={
            "mask": _member(layers, "mask", MASK_LAYER, "layers", optional=True),
            "strength_map": _member(layers, "strength_map", STRENGTH_LAYER, "layers", True),
        },
        ui=_field(index, "ui", "object", "the index"),
        ui_images=_ui_images(index),
    )


def build_index(
    records: list[dict[str, Any]],
    root_id: str | None,
    current_id: str | None,
    layers: dict[str, str | None],
    ui: dict,
    app_version: str,
    ui_images: dict[str, str] | None = None,
) -> bytes:
    """The ``project.json`` bytes (ASCII JSON); raises TypeError / ValueError if not JSON-able."""
    index = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "app_version": app_version,
        "root_id": root_id,
        "current_id": current_id,
        "records": records,
        "layers": layers,
        "ui": ui,
    }
    if ui_images:
        index["ui_images"] = ui_images
    return json.dumps(index, ensure_ascii=True, allow_nan=False, indent=1).encode("ascii")
