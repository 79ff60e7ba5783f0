"""A submitted pass read off the wire so that no request can exhaust the machine.

The multipart stream is read part by part (never buffered whole by aiohttp): a part whose name
the protocol does not know, one part too many, a repeated name or a body over the request limit
is refused as soon as it is seen, before anything is decoded. Pictures are then sized from their
PNG headers (read here, without Pillow) against one pixel budget for the whole request, and
handed on stripped to the chunks that make the picture (no text, profile or animation chunks:
a PNG's metadata cannot make the worker allocate either).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping
from typing import Any

from aiohttp import BodyPartReader, web

from core.conditioning.regions import MAX_REGIONS
from core.conditioning.specs import MAX_CONTROLS, MAX_REFERENCES
from core.imaging import MAX_PIXELS
from core.remote.protocol import MAX_REQUEST_BYTES, PARAMS_PART, ProtocolError
from core.requests import MAX_EDIT_REFERENCES

MAX_PARAMS_BYTES = 256 * 1024  # the params JSON
REQUEST_PIXEL_BUDGET = 2 * MAX_PIXELS  # every picture of one request together
LAYER_PARTS = {
    "control": MAX_CONTROLS,
    "reference": MAX_REFERENCES,
    "region": MAX_REGIONS,
    "edit_reference": MAX_EDIT_REFERENCES,
}
LAYER_LISTS = {
    "control": "controls",
    "reference": "references",
    "region": "regions",
    "edit_reference": "edit_references",
}
MAX_PARTS = 1 + 3 + sum(LAYER_PARTS.values())
CHUNK_BYTES = 64 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PICTURE_CHUNKS = (b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND")
_LAYER_PART = re.compile(rf"^({'|'.join(LAYER_PARTS)})\.(0|[1-9][0-9]?)$")


class RequestTooLarge(ProtocolError):
    """A request over the byte limit (HTTP 413)."""


def too_large() -> RequestTooLarge:
    return RequestTooLarge(f"the request is over the {MAX_REQUEST_BYTES // 2**20} MB limit")


async def read_parts(request: web.Request) -> tuple[str, dict[str, bytes]]:
    """The ``params`` text and the picture parts of a submitted pass (ProtocolError, or
    RequestTooLarge, as soon as something is wrong)."""
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        raise too_large()
    if request.content_type != "multipart/form-data":
        raise ProtocolError("a pass is submitted as multipart/form-data")
    try:
        reader = await request.multipart()
        params: str | None = None
        files: dict[str, bytes] = {}
        total, count = 0, 0
        while (part := await reader.next()) is not None:
            count += 1
            if count > MAX_PARTS:
                raise ProtocolError(f"a pass has at most {MAX_PARTS} parts")
            if not isinstance(part, BodyPartReader):
                raise ProtocolError("nested multipart parts are refused")
            name = part_name(part.name)
            if name in files or (name == PARAMS_PART and params is not None):
                raise ProtocolError(f"the part '{name}' is sent twice")
            if name == PARAMS_PART:
                data = await _read(part, MAX_PARAMS_BYTES, "params is over its 256 kB limit")
                params = data.decode("utf-8")
            else:
                data = await _read(part, MAX_REQUEST_BYTES - total, "")
                files[name] = data
            total += len(data)
    except (ValueError, AssertionError, RuntimeError, UnicodeDecodeError) as exc:
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(f"malformed multipart body ({type(exc).__name__})") from None
    if params is None:
        raise ProtocolError(f"the pass has no {PARAMS_PART} part")
    return params, files


def part_name(name: str | None) -> str:
    """``name`` when the protocol knows it (ProtocolError otherwise)."""
    name = name or ""
    if name in (PARAMS_PART, "image", "mask", "strength_map"):
        return name
    match = _LAYER_PART.match(name)
    if match and int(match.group(2)) < LAYER_PARTS[match.group(1)]:
        return name
    shown = name if len(name) <= 40 and name.isprintable() else f"{name[:40]!r}…"
    raise ProtocolError(f"unknown part '{shown}' (see docs/API.md)")


def check_pictures(
    params: Mapping[str, Any], files: Mapping[str, bytes]
) -> tuple[dict[str, bytes], int]:
    """Every picture part named by ``params`` and within the pixel budget, from the PNG headers:
    the pictures stripped to their picture chunks, and their pixels (nothing is decoded)."""
    if "image" not in files:
        raise ProtocolError("the pass has no image part")
    budget = 0
    pictures = {}
    for name, data in files.items():
        kind, _, index = name.partition(".")
        if index and int(index) >= _listed(params, LAYER_LISTS[kind]):
            raise ProtocolError(f"the part '{name}' has no entry in params.{LAYER_LISTS[kind]}")
        width, height, stripped = picture_chunks(data, name)
        if width * height > MAX_PIXELS:
            raise ProtocolError(f"{name}: {width}×{height} is over the {MAX_PIXELS} pixel limit")
        budget += width * height
        if budget > REQUEST_PIXEL_BUDGET:
            raise ProtocolError(
                f"the pictures are over the {REQUEST_PIXEL_BUDGET} pixel limit of one request"
            )
        pictures[name] = stripped
    return pictures, budget


def picture_chunks(data: bytes, name: str) -> tuple[int, int, bytes]:
    """(width, height, the PNG with only its picture chunks), read from the chunk headers."""
    if not data.startswith(PNG_SIGNATURE):
        raise ProtocolError(f"{name}: not a PNG")
    kept = [PNG_SIGNATURE]
    size: tuple[int, int] | None = None
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if end > len(data):
            break
        if kind == b"IHDR":
            if length != 13 or size is not None:
                raise ProtocolError(f"{name}: a malformed PNG header")
            size = struct.unpack(">II", data[position + 8 : position + 16])
        if kind in PICTURE_CHUNKS:
            kept.append(data[position:end])
        position = end
        if kind == b"IEND":
            break
    if size is None or not size[0] or not size[1]:
        raise ProtocolError(f"{name}: not a readable PNG (no header)")
    if kept[-1][4:8] != b"IEND":  # truncated: let the decoder say so in one line
        kept.append(struct.pack(">I4sI", 0, b"IEND", zlib.crc32(b"IEND")))
    return size[0], size[1], b"".join(kept)


def _listed(params: Mapping[str, Any], key: str) -> int:
    value = params.get(key)
    return len(value) if isinstance(value, list) else 0


async def _read(part: BodyPartReader, limit: int, message: str) -> bytes:
    """The part's raw bytes, refused as soon as they pass ``limit``."""
    chunks, size = [], 0
    while chunk := await part.read_chunk(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise ProtocolError(message) if message else too_large()
        chunks.append(chunk)
    return b"".join(chunks)
