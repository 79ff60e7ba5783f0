"""The Control panel's state: LoRAs, ControlNet control layers, IP-Adapter references and edit
references (gui.params.edit_references).

Plain Python, observable, no Qt. Each list is a tuple of frozen entries, so an edit replaces the
whole tuple: the panel's undo commands keep the tuple before and after, and every field change
reaches the widgets through ``subscribe``. ``request_fields()`` turns the entries into the
``PassRequest`` fields; ``restore()`` reads them back from a PNG's pass record (without pictures:
metadata keeps only their hashes) and ``saved()`` / ``load_saved()`` keep them, pictures
included, in project files and autosaves.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from core.conditioning.lora_files import LORA_TAG
from core.conditioning.specs import (
    CONTROL_KINDS,
    MAX_CONTROLS,
    MAX_LORAS,
    MAX_REFERENCES,
    REFERENCE_MODES,
    ControlLayer,
    LoraSpec,
    Reference,
)
from core.errors import InvalidRequest
from core.observable import Observable
from gui.params.edit_references import (
    EditReferenceEntry,
    edit_reference_images,
    edit_references_from_record,
    load_edit_references,
    saved_edit_references,
)

CONDITIONING_FIELDS = ("loras", "controls", "references", "edit_references")
METADATA_NOTICE = (
    "Restored from the picture's metadata: it keeps no control or reference pictures. Control "
    "layers use the input picture; drop their own pictures and the references' again."
)


@dataclass(frozen=True)
class ControlEntry:
    """A control layer as the panel edits it: the layer and its picture's name."""

    layer: ControlLayer
    image_name: str = ""  # the control picture's file name; "" while it uses the input picture
    image_lost: bool = False  # restored from metadata, which does not keep the picture

    def replace_layer(self, **changes: Any) -> ControlEntry:
        return dataclasses.replace(self, layer=dataclasses.replace(self.layer, **changes))

    def with_changes(self, changes: dict[str, Any]) -> ControlEntry:
        """This entry with ``changes`` (layer fields, ``image_name``, ``image_lost``); a range
        edit moves the other end so that start < end stays true."""
        changes = dict(changes)
        own = {k: changes.pop(k) for k in ("image_name", "image_lost") if k in changes}
        if "image" in changes and "image_lost" not in own:
            own["image_lost"] = False
        layer = self.layer
        start, end = changes.get("start", layer.start), changes.get("end", layer.end)
        if start >= end:
            if "start" in changes:
                end = min(1.0, round(start + 0.05, 2))
                start = min(start, round(end - 0.05, 2))
            else:
                start = max(0.0, round(end - 0.05, 2))
                end = max(end, round(start + 0.05, 2))
            changes.update(start=start, end=end)
        return dataclasses.replace(self.replace_layer(**changes), **own)


@dataclass(frozen=True)
class ReferenceEntry:
    """An IP-Adapter reference as the panel edits it (the picture may still be missing)."""

    model: str = ""
    image: Image.Image | None = None
    image_name: str = ""
    scale: float = 0.6
    mode: str = "standard"
    image_lost: bool = False  # restored from metadata, which does not keep the picture


@dataclass(eq=False)
class ConditioningState(Observable):
    """LoRAs, control layers and references for the next passes."""

    loras: tuple[LoraSpec, ...] = ()
    controls: tuple[ControlEntry, ...] = ()
    references: tuple[ReferenceEntry, ...] = ()
    edit_references: tuple[EditReferenceEntry, ...] = ()  # an edit model's extra pictures
    shown_control: int = -1  # the layer whose control image the canvas shows (-1: none)
    notice: str = ""  # a line for the panel (e.g. what metadata could not restore)

    def request_fields(self) -> dict[str, tuple]:
        """``loras``, ``controls``, ``references`` and ``edit_references`` for a PassRequest.

        Raises :class:`InvalidRequest` (one line) for a reference without a picture.
        """
        for number, ref in enumerate(self.references, 1):
            if ref.image is None:
                raise InvalidRequest(
                    f"reference {number} has no picture: drop one on it in the Control panel"
                )
        references = tuple(
            Reference(ref.model, ref.image, ref.scale, ref.mode)
            for ref in self.references
            if ref.image is not None
        )
        return {
            "loras": self.loras,
            "controls": tuple(entry.layer for entry in self.controls),
            "references": references,
            "edit_references": edit_reference_images(self.edit_references),
        }

    def shown_layer(self) -> ControlLayer | None:
        """The control layer shown on the canvas, if any."""
        if 0 <= self.shown_control < len(self.controls):
            return self.controls[self.shown_control].layer
        return None

    # -- pass records (PNG metadata) ---------------------------------------------------------
    def restore(self, values: dict[str, Any]) -> None:
        """Replace the lists named in ``values`` by a pass record's entries (``"loras"``,
        ``"controls"``, ``"references"``, ``"edit_references"``: lists of dicts); unusable
        entries are left out."""
        if not any(name in values for name in CONDITIONING_FIELDS):
            return
        recorded = _without_prompt_tags(_dicts(values.get("loras")), _text(values, "prompt"))
        loras = tuple(filter(None, map(_lora_from_record, recorded)))
        controls = tuple(filter(None, map(_control_from_record, _dicts(values.get("controls")))))
        refs = tuple(filter(None, map(_reference_from_record, _dicts(values.get("references")))))
        edit_refs = edit_references_from_record(_dicts(values.get("edit_references")))
        self.shown_control = -1
        self.loras = loras[:MAX_LORAS]
        self.controls = controls[:MAX_CONTROLS]
        self.references = refs[:MAX_REFERENCES]
        self.edit_references = edit_refs
        self.notice = METADATA_NOTICE if controls or refs or edit_refs else ""

    # -- project files and autosaves ---------------------------------------------------------
    def saved(self) -> tuple[dict[str, Any], dict[str, Image.Image]]:
        """The state as JSON plus its pictures by name (``control-0``, ``reference-1``,
        ``edit-reference-0``…)."""
        images: dict[str, Image.Image] = {}
        controls = []
        for number, entry in enumerate(self.controls):
            fields = _layer_fields(entry.layer)
            fields["image_name"] = entry.image_name
            fields["image_lost"] = entry.image_lost
            if entry.layer.image is not None:
                fields["image"] = name = f"control-{number}"
                images[name] = entry.layer.image
            controls.append(fields)
        references = []
        for number, ref in enumerate(self.references):
            fields = {
                "model": ref.model,
                "scale": ref.scale,
                "mode": ref.mode,
                "image_name": ref.image_name,
                "image_lost": ref.image_lost,
            }
            if ref.image is not None:
                fields["image"] = name = f"reference-{number}"
                images[name] = ref.image
            references.append(fields)
        loras = [{"path": lora.path, "weight": lora.weight} for lora in self.loras]
        edit_references, edit_images = saved_edit_references(self.edit_references)
        images.update(edit_images)
        data = {
            "loras": loras,
            "controls": controls,
            "references": references,
            "edit_references": edit_references,
        }
        return data, images

    def load_saved(self, data: Any, images: dict[str, Image.Image]) -> None:
        """Replace everything by what :meth:`saved` returned (unusable entries are left out)."""
        data = data if isinstance(data, dict) else {}
        loras, controls, references = [], [], []
        for item in _dicts(data.get("loras")):
            lora = _lora_from_record(item)
            if lora is not None:
                loras.append(lora)
        for item in _dicts(data.get("controls")):
            control = _control_from_record(item, images.get(str(item.get("image"))))
            if control is not None:
                controls.append(control)
        for item in _dicts(data.get("references")):
            ref = _reference_from_record(item, images.get(str(item.get("image"))))
            if ref is not None:
                references.append(ref)
        self.shown_control = -1
        self.loras = tuple(loras[:MAX_LORAS])
        self.controls = tuple(controls[:MAX_CONTROLS])
        self.references = tuple(references[:MAX_REFERENCES])
        self.edit_references = load_edit_references(_dicts(data.get("edit_references")), images)
        self.notice = ""


def record_conditioning(record: Any) -> dict[str, list]:
    """The ``loras``, ``controls``, ``references`` and ``edit_references`` lists of a pass
    record (empty lists for a record of this app without them, so that restoring it clears the
    panel; {} without one)."""
    if not isinstance(record, dict):
        return {}
    return {name: list(_dicts(record.get(name))) for name in CONDITIONING_FIELDS}


def _layer_fields(layer: ControlLayer) -> dict[str, Any]:
    return {
        "model": layer.model,
        "kind": layer.kind,
        "strength": layer.strength,
        "start": layer.start,
        "end": layer.end,
        "low_threshold": layer.low_threshold,
        "high_threshold": layer.high_threshold,
        "invert": layer.invert,
        "enabled": layer.enabled,
    }


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _number(item: dict, key: str, default: float, low: float, high: float) -> float:
    try:
        value = float(item.get(key, default))
    except (TypeError, ValueError):
        return default
    return min(high, max(low, value)) if value == value else default  # NaN → default


def _text(item: dict, key: str) -> str:
    value = item.get(key)
    return value if isinstance(value, str) else ""


def _without_prompt_tags(loras: list[dict], prompt: str) -> list[dict]:
    """A record's LoRAs less the prompt's ``<lora:name:weight>`` tags: the record lists every
    LoRA a pass used (one per file, the weights of the panel and a tag summed), and the restored
    prompt brings its tags back itself."""
    tags: dict[str, float] = {}
    for match in LORA_TAG.finditer(prompt):
        try:
            weight = float(match.group(2) or 1.0)
        except ValueError:
            continue
        name = match.group(1).strip().lower()
        tags[name] = tags.get(name, 0.0) + weight
    kept = []
    for item in loras:
        names = {_text(item, "name").lower(), Path(_text(item, "path")).stem.lower()}
        tag_weight = sum(tags.pop(name, 0.0) for name in names if name)
        if tag_weight:
            rest = round(_number(item, "weight", 1.0, -8.0, 8.0) - tag_weight, 4)
            if abs(rest) < 1e-3:
                continue
            item = {**item, "weight": rest}
        kept.append(item)
    return kept


def _lora_from_record(item: dict) -> LoraSpec | None:
    """A recorded LoRA: its path when that file is here, else its name (the engine resolves
    names against the scanned LoRA folders)."""
    path, name = _text(item, "path"), _text(item, "name")
    reference = path if path and (Path(path).is_file() or not name) else name
    if not reference:
        return None
    return LoraSpec(reference, round(_number(item, "weight", 1.0, -4.0, 4.0), 2))


def _control_from_record(item: dict, image: Image.Image | None = None) -> ControlEntry | None:
    kind = _text(item, "kind")
    if kind not in CONTROL_KINDS:
        return None
    start = _number(item, "start", 0.0, 0.0, 1.0)
    end = _number(item, "end", 1.0, 0.0, 1.0)
    if start >= end:
        start, end = 0.0, 1.0
    layer = ControlLayer(
        model=_text(item, "model"),
        kind=kind,
        image=image,
        strength=_number(item, "strength", 1.0, 0.0, 2.0),
        start=start,
        end=end,
        low_threshold=int(_number(item, "low_threshold", 100, 0, 255)),
        high_threshold=int(_number(item, "high_threshold", 200, 0, 255)),
        invert=item.get("invert") is True,
        enabled=item.get("enabled") is not False,
    )
    was_lost = item.get("image_lost") is True
    lost = image is None and (kind == "image" or was_lost)
    name = _text(item, "image_name") if image is not None else ""
    return ControlEntry(layer, name, lost)


def _reference_from_record(item: dict, image: Image.Image | None = None) -> ReferenceEntry | None:
    mode = _text(item, "mode") or "standard"
    return ReferenceEntry(
        model=_text(item, "model"),
        image=image,
        image_name=_text(item, "image_name") if image is not None else "",
        scale=_number(item, "scale", 0.6, 0.0, 2.0),
        mode=mode if mode in REFERENCE_MODES else "standard",
        image_lost=image is None,
    )
