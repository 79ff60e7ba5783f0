"""PNG metadata that other tools read: A1111 ``parameters`` infotext plus the engine's JSON record.

The *pass record* is a JSON-able dict (``app``, ``app_version``, ``kind``, ``prompt``,
``negative_prompt``, ``strength``, ``steps``, ``cfg``, ``seed``, ``scheduler``, ``width``,
``height``, ``model`` {name, reference, hash}, ``mask_blur``, ``inpaint_area``, ``padding``, ...);
keys this module does not know pass through untouched.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

from PIL import Image, PngImagePlugin

from core.errors import UserError
from core.imaging import open_image

RECORD_CHUNK = "img2img-studio"
PARAMETERS_CHUNK = "parameters"
APP_TAG = "img2img-studio"

# A1111's modules/infotext_utils.py regexes.
RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
RE_IMAGESIZE = re.compile(r"^(\d+)x(\d+)$")
_NEGATIVE = "Negative prompt:"
_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286


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


def _present(value: object) -> bool:
    return value is not None and value != ""


def build_infotext(record: dict) -> str:
    """The A1111 ``parameters`` text for a pass record (prompt / negative / params lines)."""
    params: list[tuple[str, object]] = []

    def add(key: str, value: object) -> None:
        if _present(value):
            params.append((key, value))

    add("Steps", record.get("steps"))
    add("Sampler", record.get("scheduler"))
    add("CFG scale", record.get("cfg"))
    add("Seed", record.get("seed"))
    if record.get("width") and record.get("height"):
        add("Size", f"{record['width']}x{record['height']}")
    model = record.get("model")
    if isinstance(model, dict):
        add("Model hash", model.get("hash"))
        add("Model", model.get("name"))
    elif _present(model):
        add("Model", model)
    if record.get("kind") != "upscale":
        add("Denoising strength", record.get("strength"))
    if record.get("kind") == "inpaint" or record.get("inpaint_area"):
        add("Mask blur", record.get("mask_blur"))
        if record.get("inpaint_area") == "masked":
            add("Inpaint area", "Only masked")
            add("Masked area padding", record.get("padding"))
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


def _typed(params: dict[str, str], key: str, kind: type):
    try:
        return kind(params[key])
    except (KeyError, ValueError):
        return None


def parse_infotext(text: str) -> dict:
    """Port of A1111's ``parse_generation_parameters``.

    Returns ``{"prompt", "negative_prompt", "params": {key: raw str}}`` plus typed entries
    ``steps``, ``sampler``, ``cfg``, ``seed``, ``width``, ``height``, ``strength``, ``model``,
    ``model_hash``, ``mask_blur`` when the text has them. The last line counts as parameters
    only when it holds at least three ``key: value`` pairs.
    """
    *lines, lastline = text.strip().replace("\r\n", "\n").split("\n")
    if len(RE_PARAM.findall(lastline)) < 3:
        lines.append(lastline)
        lastline = ""

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

    params: dict[str, str] = {}
    for key, value in RE_PARAM.findall(lastline):
        params[key] = unquote(value.strip())

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
    size = RE_IMAGESIZE.match(params.get("Size", ""))
    if size:
        typed["width"], typed["height"] = int(size.group(1)), int(size.group(2))
    result.update({key: value for key, value in typed.items() if value is not None})
    return result


def write_png(
    path: str | Path, image: Image.Image, record: dict, *, overwrite: bool = False
) -> Path:
    """Write ``image`` as PNG with ``parameters`` (A1111 infotext) and RECORD_CHUNK (JSON) chunks.

    Atomic: written to a temporary file in the same folder, then moved into place, so ``path``
    never holds a partial file and no temporary file is left behind. Creates missing parent
    folders. Raises :class:`UserError` if ``path`` exists and ``overwrite`` is False, or if the
    file cannot be written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise UserError(f"{path} already exists (use --overwrite to replace it)")
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder")
    info = PngImagePlugin.PngInfo()
    info.add_text(PARAMETERS_CHUNK, build_infotext(record))
    info.add_text(RECORD_CHUNK, json.dumps(record, ensure_ascii=False, default=str))
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, 0o666)
        with os.fdopen(fd, "wb") as fh:
            image.save(fh, format="PNG", pnginfo=info)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists() and not overwrite:
            raise UserError(f"{path} already exists (use --overwrite to replace it)")
        os.replace(tmp, path)
    except OSError as exc:
        reason = " ".join((exc.strerror or str(exc)).split())
        raise UserError(f"cannot write {path}: {reason}") from None
    finally:
        if tmp.exists():
            tmp.unlink(missing_ok=True)
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
            if _present(record.get(key)):
                value = record[key]
                text = json.dumps(value) if isinstance(value, dict | list) else str(value)
                lines.append(f"{label}: {text}")
    return "\n".join(lines)
