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
from core.metadata.infotext import build_infotext, parse_infotext, present

RECORD_CHUNK = "img2img-studio"
PARAMETERS_CHUNK = "parameters"

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
    record = None
    raw_record = _as_text(info.get(RECORD_CHUNK))
    if raw_record:
        try:
            record = json.loads(raw_record)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            record = None
    return {
        "parameters": parameters or None,
        "record": record,
        "parsed": parse_infotext(parameters) if parameters else None,
        "comfyui": "prompt" in info or "workflow" in info,
    }


def read_metadata(path_or_image: str | Path | Image.Image) -> dict:
    """Generation metadata of a file or image.

    Returns ``{"parameters": str | None, "record": dict | None, "parsed": dict | None,
    "comfyui": bool}``. Unreadable files raise :class:`ImageError` (one line).
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
    if parsed is None and record:
        parsed = parse_infotext(build_infotext(record))
    if not parsed:
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
    return "\n".join(lines)
