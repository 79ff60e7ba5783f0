"""A1111 infotext: the ``parameters`` text that AUTOMATIC1111, model sites and other tools read.

``build_infotext(record)`` writes a pass record the A1111 way (prompt, ``Negative prompt:``, then
``Key: value`` pairs); ``parse_infotext(text)`` reads any tool's infotext back into a dict, in
linear time and at most :data:`MAX_INFOTEXT_CHARS` of it (a longer text is refused in one line).
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import UserError
from core.metadata.infotext_scan import param_pairs

MAX_INFOTEXT_CHARS = 64 * 1024
"""Longest infotext read (64 Ki characters; A1111's own are a few hundred to a few thousand)."""

RE_IMAGESIZE = re.compile(r"^(\d+)x(\d+)$")
_RE_EDIT_REFERENCE = re.compile(r"^([0-9a-fA-F]{8,64})(?:\s+(\d{1,6})x(\d{1,6}))?$")
_NEGATIVE = "Negative prompt:"
APP_TAG = "img2img-studio"


def format_value(value: object) -> str:
    """A1111-style text for one value: 7.0 → "7", 0.45 → "0.45", True → "True"."""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def quote(value: object) -> str:
    """A1111's quoting: values containing , : " or a newline become JSON strings."""
    text = format_value(value)
    if any(ch in text for ch in ',:"\n'):
        return json.dumps(text, ensure_ascii=False)
    return text


def unquote(text: str) -> str:
    """Undo :func:`quote`; a value that is not valid JSON is returned as is."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def present(value: object) -> bool:
    return value is not None and value != ""


def build_infotext(record: dict) -> str:
    """The A1111 ``parameters`` text for a pass record (prompt / negative / params lines)."""
    params: list[tuple[str, object]] = []

    def add(key: str, value: object) -> None:
        if present(value):
            params.append((key, value))

    add("Steps", record.get("steps"))
    add("Sampler", sampler_name(record))
    add("CFG scale", record.get("cfg"))
    add("Seed", record.get("seed"))
    if record.get("work_size"):  # A1111's Size is the size the model generated at
        add("Size", record["work_size"])
    elif record.get("width") and record.get("height"):
        add("Size", f"{record['width']}x{record['height']}")
    model = record.get("model")
    if isinstance(model, dict):
        add("Model hash", model.get("hash"))
        add("Model", model.get("name"))
    elif present(model):
        add("Model", model)
    if record.get("kind") != "upscale":
        add("Denoising strength", record.get("strength"))
    if record.get("kind") == "inpaint" or record.get("inpaint_area"):
        add("Mask blur", record.get("mask_blur"))
        if record.get("inpaint_area") == "masked":
            add("Inpaint area", "Only masked")
            add("Masked area padding", record.get("padding"))
        if record.get("soft_inpaint"):
            add("Soft inpainting enabled", True)
    add("Color match", record.get("color_match"))
    add("Lora hashes", lora_hashes_text(record.get("loras")))
    add("Edit references", edit_references_text(record.get("edit_references")))
    for number, unit in enumerate(control_units(record)):
        add(f"ControlNet {number}", unit)
    if record.get("app_version"):
        add("Version", f"{APP_TAG} {record['app_version']}")

    lines = []
    prompt = str(record.get("prompt") or "")
    negative = str(record.get("negative_prompt") or "")
    if prompt:
        lines.append(prompt)
    if negative:
        lines.append(f"{_NEGATIVE} {negative}")
    lines.append(", ".join(f"{key}: {quote(value)}" for key, value in params))
    return "\n".join(lines).strip()


def sampler_name(record: dict) -> object:
    """The sampler that ran: flow-matching models run their own Euler whatever was asked."""
    ran = record.get("scheduler_ran")
    if isinstance(ran, str) and ran:
        return ran.removesuffix(" (flow matching)")
    return record.get("scheduler")


def control_units(record: dict) -> list[str]:
    """The sd-webui-controlnet unit texts (``Module: canny, Model: …, Weight: 1, …``) for a
    record's control layers, then its IP-Adapter references (which that extension also files as
    ControlNet units)."""
    units = []
    for layer in record.get("controls") or []:
        if not isinstance(layer, dict):
            continue
        kind = str(layer.get("kind") or "")
        parts = [
            ("Module", "none" if kind == "image" else kind),
            ("Model", layer.get("model")),
            ("Weight", layer.get("strength")),
        ]
        if kind == "canny":
            parts += [("Threshold A", layer.get("low_threshold"))]
            parts += [("Threshold B", layer.get("high_threshold"))]
        parts += [("Guidance Start", layer.get("start")), ("Guidance End", layer.get("end"))]
        units.append(_unit_text(parts))
    for reference in record.get("references") or []:
        if isinstance(reference, dict):
            mode = str(reference.get("mode") or "standard")
            module = "ip-adapter" if mode == "standard" else f"ip-adapter ({mode})"
            parts = [("Module", module), ("Model", reference.get("model"))]
            units.append(_unit_text([*parts, ("Weight", reference.get("scale"))]))
    return units


def _unit_text(parts: list[tuple[str, object]]) -> str:
    return ", ".join(f"{key}: {format_value(value)}" for key, value in parts if present(value))


def edit_references_text(references: object) -> str:
    """An edit model's reference pictures by their pixel hashes and sizes:
    ``hash1 48x40, hash2 64x64`` (the size left out when the record has none)."""
    if not isinstance(references, list):
        return ""
    items = []
    for ref in references:
        if isinstance(ref, dict) and ref.get("hash"):
            width, height = ref.get("width"), ref.get("height")
            sized = isinstance(width, int) and isinstance(height, int)
            size = f" {width}x{height}" if sized else ""
            items.append(f"{ref['hash']}{size}")
    return ", ".join(items)


def parse_edit_references(text: str) -> list[dict[str, Any]]:
    """``[{"hash", "width", "height"}]`` (as the pass record keeps them) from the ``Edit
    references`` value; an item that is not a hex hash with an optional ``WxH`` is skipped,
    and one without a size (as older versions wrote them) gives the hash alone."""
    references: list[dict[str, Any]] = []
    for item in text.split(","):
        match = _RE_EDIT_REFERENCE.match(item.strip())
        if match is None:
            continue
        reference: dict[str, Any] = {"hash": match.group(1).lower()}
        if match.group(2):
            reference["width"], reference["height"] = int(match.group(2)), int(match.group(3))
        references.append(reference)
    return references


def lora_hashes_text(loras: object) -> str:
    """A1111's ``Lora hashes`` value, ``name: hash, name2: hash2``, from a record's "loras"."""
    if not isinstance(loras, list):
        return ""
    pairs = []
    for lora in loras:
        if isinstance(lora, dict) and lora.get("hash"):
            name = str(lora.get("name") or "").replace(":", "").replace(",", "")
            pairs.append(f"{name}: {lora['hash']}")
    return ", ".join(pairs)


def parse_lora_hashes(text: str) -> dict[str, str]:
    """``{name: hash}`` from A1111's ``Lora hashes`` value."""
    hashes: dict[str, str] = {}
    for pair in text.split(","):
        name, sep, digest = pair.rpartition(":")
        if sep and name.strip() and digest.strip():
            hashes[name.strip()] = digest.strip()
    return hashes


def _typed(params: dict[str, str], key: str, kind: type) -> Any:
    try:
        return kind(params[key])
    except (KeyError, ValueError):
        return None


class InfotextTooLong(UserError):
    """An infotext over :data:`MAX_INFOTEXT_CHARS`: it is not read at all (one line)."""


def parse_infotext(text: str) -> dict:
    """Port of A1111's ``parse_generation_parameters``, in time linear in ``len(text)``.

    Returns ``{"prompt", "negative_prompt", "params": {key: raw str}}`` plus typed entries
    ``steps``, ``sampler``, ``cfg``, ``seed``, ``width``, ``height``, ``strength``, ``model``,
    ``model_hash``, ``mask_blur``, ``lora_hashes`` (``{name: hash}``), ``edit_references``
    (``[{"hash", "width", "height"}]``) when the text has them.
    The last line counts as parameters only when it holds at least three ``key: value`` pairs.
    Raises :class:`InfotextTooLong` for a text over :data:`MAX_INFOTEXT_CHARS` (any tool's is far
    shorter; reading only part of it would lose its last line, the parameters).
    """
    if len(text) > MAX_INFOTEXT_CHARS:
        raise InfotextTooLong(
            f"its parameters text ({len(text):,} characters) is over the"
            f" {MAX_INFOTEXT_CHARS:,}-character limit; it was not read"
        )
    *lines, lastline = text.strip().replace("\r\n", "\n").split("\n")
    pairs = param_pairs(lastline)
    if len(pairs) < 3:
        lines.append(lastline)
        pairs = []

    prompt, negative, done_with_prompt = "", "", False
    for line in lines:
        line = line.strip()
        if line.startswith(_NEGATIVE):
            done_with_prompt = True
            line = line[len(_NEGATIVE) :].strip()
        if done_with_prompt:
            negative += ("" if negative == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line

    params = {key: unquote(value.strip()) for key, value in pairs}
    result: dict = {"prompt": prompt, "negative_prompt": negative, "params": params}
    typed = {
        "steps": _typed(params, "Steps", int),
        "sampler": params.get("Sampler"),
        "cfg": _typed(params, "CFG scale", float),
        "seed": _typed(params, "Seed", int),
        "strength": _typed(params, "Denoising strength", float),
        "model": params.get("Model"),
        "model_hash": params.get("Model hash"),
        "mask_blur": _typed(params, "Mask blur", int),
    }
    if params.get("Lora hashes"):
        typed["lora_hashes"] = parse_lora_hashes(params["Lora hashes"]) or None
    if params.get("Edit references"):
        typed["edit_references"] = parse_edit_references(params["Edit references"]) or None
    size = RE_IMAGESIZE.match(params.get("Size", ""))
    if size:
        typed["width"], typed["height"] = int(size.group(1)), int(size.group(2))
    result.update({key: value for key, value in typed.items() if value is not None})
    return result
