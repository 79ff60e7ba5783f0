"""PNG metadata that other tools read: A1111 ``parameters`` infotext plus the engine's JSON record.

The *pass record* is a JSON-able dict (``app``, ``app_version``, ``kind``, ``prompt``,
``negative_prompt``, ``strength``, ``steps``, ``cfg``, ``seed``, ``scheduler``, ``width``,
``height``, ``model`` {name, reference, hash}, ``mask_blur``, ``inpaint_area``, ``padding``, ...);
keys this module does not know pass through untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, PngImagePlugin

from core.atomic import atomic_writer
from core.atomic_io import write_error
from core.errors import UserError
from core.imaging import open_image
from core.metadata.infotext import InfotextTooLong, build_infotext, parse_infotext, present

RECORD_CHUNK = "img2img-studio"
PARAMETERS_CHUNK = "parameters"
MAX_RECORD_CHARS = 1 << 20
"""Longest pass record read (1 Mi characters; ours are a few kilobytes)."""
MAX_RECORD_DEPTH = 32
"""Deepest nesting of lists and objects read in a pass record (ours nest four levels)."""

_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286


def write_png(
    path: str | Path, image: Image.Image, record: dict, *, overwrite: bool = False
) -> Path:
    """Write ``image`` as PNG with ``parameters`` (A1111 infotext) and RECORD_CHUNK (JSON) chunks.

    Atomic (:func:`core.atomic.atomic_writer`): ``path`` keeps its previous content until the new
    file is complete and synced, and no temporary file is left behind. Creates missing parent
    folders. Raises :class:`UserError` if ``path`` exists and ``overwrite`` is False, or if the
    file cannot be written (one line naming the file, e.g. "No space left on device").
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise UserError(f"{path} already exists (use --overwrite to replace it)")
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder")
    info = PngImagePlugin.PngInfo()
    info.add_text(PARAMETERS_CHUNK, build_infotext(record))
    info.add_text(RECORD_CHUNK, json.dumps(record, ensure_ascii=False, default=str))
    try:
        with atomic_writer(path) as fh:
            image.save(fh, format="PNG", pnginfo=info)
            if path.exists() and not overwrite:  # appeared while this one was written
                raise UserError(f"{path} already exists (use --overwrite to replace it)")
    except OSError as exc:
        raise write_error(path, exc) from None
    return path


def decode_user_comment(raw: bytes | str | None) -> str | None:
    """Text of an EXIF UserComment: 8-byte charset prefix ("UNICODE\\0", "ASCII\\0\\0\\0")."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw.strip("\0") or None
    prefix, body = raw[:8], raw[8:]
    if prefix == b"UNICODE\0":
        if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
            text = body.decode("utf-16", errors="replace")
        elif len(body) >= 2 and body[0] != 0 and body[1] == 0:
            text = body.decode("utf-16-le", errors="replace")  # some writers ignore the spec
        else:
            text = body.decode("utf-16-be", errors="replace")
    elif prefix in (b"ASCII\0\0\0", b"\0" * 8):
        text = body.decode("utf-8", errors="replace")
    else:
        text = raw.decode("utf-8", errors="ignore")
    return text.strip("\0").strip() or None


def _as_text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else None


def _depth(value: object) -> int:
    """How deeply JSON lists and objects nest in ``value`` (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def read_record(text: str | None) -> tuple[dict | None, str | None]:
    """The pass record of a RECORD_CHUNK text and, when it cannot be read, one line saying why.

    Texts over :data:`MAX_RECORD_CHARS`, nested deeper than :data:`MAX_RECORD_DEPTH`, not JSON
    or not a JSON object are not read (``(None, reason)``).
    """
    if not text:
        return None, None
    what = f"its {RECORD_CHUNK} record"
    if len(text) > MAX_RECORD_CHARS:
        return None, (
            f"{what} ({len(text):,} characters) is over the {MAX_RECORD_CHARS:,}-character"
            " limit; it was not read"
        )
    try:
        record = json.loads(text)
    except RecursionError:
        return None, f"{what} is nested too deeply to read"
    except ValueError:
        return None, f"{what} is not valid JSON"
    if not isinstance(record, dict):
        return None, f"{what} is not a JSON object"
    if _depth(record) > MAX_RECORD_DEPTH:
        return None, f"{what} is nested too deeply to read (over {MAX_RECORD_DEPTH} levels)"
    return record, None


def _extract(img: Image.Image) -> dict:
    info: dict = dict(img.info or {})
    if img.format == "PNG":
        info.update(getattr(img, "text", None) or {})
    parameters = _as_text(info.get(PARAMETERS_CHUNK))
    if parameters is None:
        exif = img.getexif()
        parameters = decode_user_comment(exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT))
    if parameters is None and img.format in ("JPEG", "MPO", "WEBP"):
        parameters = _as_text(info.get("comment"))
    notes = []
    parsed = None
    if parameters:
        try:
            parsed = parse_infotext(parameters)
        except InfotextTooLong as exc:
            notes.append(str(exc))
    record, problem = read_record(_as_text(info.get(RECORD_CHUNK)))
    if problem:
        notes.append(problem)
    return {
        "parameters": parameters if parameters and parsed is not None else None,
        "record": record,
        "parsed": parsed,
        "comfyui": "prompt" in info or "workflow" in info,
        "notes": notes,
    }


def read_metadata(path_or_image: str | Path | Image.Image) -> dict:
    """Generation metadata of a file or image, read within limits and in linear time.

    Returns ``{"parameters": str | None, "record": dict | None, "parsed": dict | None,
    "comfyui": bool, "notes": [str]}``; ``notes`` holds one line for each text that was present
    but not read (too long, too deeply nested, not JSON). Pillow itself reads at most
    ``PngImagePlugin.MAX_TEXT_MEMORY`` (64 MiB) of text chunks and 1 MiB of each compressed one.
    Unreadable files raise :class:`ImageError` (one line).
    """
    if isinstance(path_or_image, Image.Image):
        return _extract(path_or_image)
    with open_image(path_or_image, max_pixels=None) as img:
        return _extract(img)


_SUMMARY_KEYS = (("kind", "Kind"), ("parent", "Parent"), ("workflow", "Workflow"))


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def format_summary(meta: dict) -> str:
    """Human-readable multi-line text of the generation parameters (for ``main.py info``)."""
    parsed = meta.get("parsed")
    record = meta.get("record")
    notes = list(meta.get("notes") or [])
    if parsed is None and record:
        try:
            parsed = parse_infotext(build_infotext(record))
        except InfotextTooLong as exc:
            notes.append(str(exc))
    if not parsed:
        if notes:
            return f"no generation parameters found ({'; '.join(notes)})"
        if meta.get("comfyui"):
            return "no generation parameters found (ComfyUI workflow present)"
        return "no generation parameters found"
    lines = [f"Prompt: {_indent(parsed.get('prompt', ''))}"]
    if parsed.get("negative_prompt"):
        lines.append(f"Negative prompt: {_indent(parsed['negative_prompt'])}")
    lines.extend(f"{key}: {value}" for key, value in parsed.get("params", {}).items())
    if record:
        for key, label in _SUMMARY_KEYS:
            if present(record.get(key)):
                value = record[key]
                text = json.dumps(value) if isinstance(value, dict | list) else str(value)
                lines.append(f"{label}: {text}")
    lines.extend(f"Not read: {note}" for note in notes)
    return "\n".join(lines)
