"""Reading a project archive defensively: names, file types and sizes are checked before any byte
is decompressed, members are read into memory only (nothing is ever extracted to disk), and the
memory all its pictures would take is counted from their PNG headers before any is decoded.
"""

from __future__ import annotations

import io
import re
import stat
import struct
import warnings
import zipfile
import zlib
from typing import BinaryIO

from PIL import Image

from core.imaging import MAX_PIXELS
from core.project.schema import INDEX_NAME, MAX_RECORDS, MAX_UI_IMAGES, Damaged, Unsupported

MAX_INDEX_BYTES = 64 << 20
"""Largest ``project.json`` read (64 MiB)."""
MAX_MEMBER_BYTES = 512 << 20
"""Largest uncompressed PNG member (512 MiB; a 50 MP RGBA picture of noise is about 200 MiB)."""
MAX_TOTAL_BYTES = 16 << 30
"""Largest uncompressed total of all members (16 GiB)."""
MAX_DECODED_BYTES = 8 << 30
"""Most memory the pictures of one project may take once decoded (8 GiB): width × height × the
bytes Pillow keeps per pixel of each picture's mode, summed over all pictures."""
BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "LA": 4, "RGB": 4, "RGBA": 4}
"""What Pillow keeps in memory per pixel of the modes a PNG decodes to (RGB takes four)."""
_PNG_START = struct.Struct(">8sI4sIIBB")  # signature, IHDR length and type, width, height, ...
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_MEMBERS = 3 * MAX_RECORDS + 3 + MAX_UI_IMAGES

ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    zlib.error,
    NotImplementedError,
    RuntimeError,
    ValueError,
    struct.error,
    KeyError,
    IndexError,
    OverflowError,
)
"""What :mod:`zipfile` raises for damaged archives."""

_DRIVE = re.compile(r"^[A-Za-z]:")
_ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def decoded_bytes(width: int, height: int, mode: str) -> int:
    """The memory Pillow takes for a ``width`` × ``height`` picture of ``mode`` (unknown modes
    count eight bytes a pixel)."""
    return width * height * BYTES_PER_PIXEL.get(mode, 8)


def memory_size(size: int) -> str:
    """``size`` bytes for a message: "8 GiB", "12.5 GiB", "3.8 MiB", "3,840 bytes"."""
    for unit, shift in (("GiB", 30), ("MiB", 20)):
        if size >= 1 << shift:
            return f"{size / (1 << shift):.3g} {unit}"
    return f"{size:,} bytes"


def _check_pixels(name: str, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise Unsupported(f"image {name} is {width}×{height}, over the {MAX_PIXELS:,} limit")


def _png_mode(bit_depth: int, colour_type: int) -> str | None:
    """The mode Pillow decodes a PNG of this IHDR to (None: not a PNG colour type)."""
    if colour_type == 0:
        return "1" if bit_depth == 1 else "I;16" if bit_depth == 16 else "L"
    return {2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}.get(colour_type)


def _check_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    shown = ascii(info.orig_filename)
    if (
        info.orig_filename != name
        or "\\" in name
        or name.startswith("/")
        or _DRIVE.match(name)
        or ".." in name.split("/")
        or any(ord(c) < 32 for c in name)
    ):
        raise Damaged(f"unsafe member name {shown}")
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type == stat.S_IFLNK:
        raise Damaged(f"member {shown} is a symbolic link")
    if info.is_dir() or file_type not in (0, stat.S_IFREG):
        raise Damaged(f"member {shown} is not a plain file")
    if info.flag_bits & 0x1:
        raise Damaged(f"member {shown} is encrypted")
    if info.compress_type not in _ALLOWED_METHODS:
        raise Damaged(f"member {shown} uses an unsupported compression method")


class ProjectArchive:
    """The members of an open project zip, checked up front; read each with :meth:`read`."""

    def __init__(self, fh: BinaryIO) -> None:
        self._zip = zipfile.ZipFile(fh)
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise Damaged(f"{len(infos)} members, over the limit of {MAX_MEMBERS}")
        self._infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            _check_name(info)
            if info.filename in self._infos:
                raise Damaged(f"member {ascii(info.filename)} appears twice")
            limit = MAX_INDEX_BYTES if info.filename == INDEX_NAME else MAX_MEMBER_BYTES
            if info.file_size > limit:
                raise Damaged(f"member {ascii(info.filename)} is larger than {limit >> 20} MiB")
            total += info.file_size
            self._infos[info.filename] = info
        if total > MAX_TOTAL_BYTES:
            raise Damaged(f"its members hold over {MAX_TOTAL_BYTES >> 20} MiB")
        self.decoded = 0  # bytes of the pictures decoded so far

    def names(self) -> set[str]:
        return set(self._infos)

    def read(self, name: str) -> bytes:
        """A member's bytes (its size was checked; reads stop at the declared size anyway)."""
        info = self._infos.get(name)
        if info is None:
            raise Damaged(f"member {ascii(name)} is missing")
        with self._zip.open(info) as member:
            data = member.read(info.file_size + 1)
        if len(data) != info.file_size:
            raise Damaged(f"member {ascii(name)} is truncated")
        return data

    def header(self, name: str) -> tuple[int, int, str]:
        """A PNG member's width, height and decoded mode, from its first 33 bytes only."""
        info = self._infos.get(name)
        if info is None:
            raise Damaged(f"member {ascii(name)} is missing")
        with self._zip.open(info) as member:
            start = member.read(_PNG_START.size)
        if len(start) < _PNG_START.size:
            raise Damaged(f"image {name} is damaged (not a PNG)")
        signature, length, kind, width, height, depth, colour = _PNG_START.unpack(start)
        mode = _png_mode(depth, colour)
        if signature != _PNG_SIGNATURE or (length, kind) != (13, b"IHDR") or mode is None:
            raise Damaged(f"image {name} is damaged (not a PNG)")
        return width, height, mode

    def check_budget(self, names: list[str]) -> None:
        """Refuse pictures that would take more than :data:`MAX_DECODED_BYTES` together (or one
        over :data:`MAX_PIXELS`), counted from their headers: nothing is decoded yet."""
        total = 0
        for name in names:
            width, height, mode = self.header(name)
            _check_pixels(name, width, height)
            total += decoded_bytes(width, height, mode)
        if total > MAX_DECODED_BYTES:
            raise Unsupported(
                f"its pictures would take {memory_size(total)} of memory, over the"
                f" {memory_size(MAX_DECODED_BYTES)} a project may take; nothing was decoded"
            )

    def image(self, name: str, mode: str | None = None) -> Image.Image:
        """Decode a PNG member (of ``mode`` if given) within the pixel and memory limits."""
        data = self.read(name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
                    w, h = img.size
                    _check_pixels(name, w, h)
                    self.decoded += decoded_bytes(w, h, img.mode)
                    if self.decoded > MAX_DECODED_BYTES:
                        limit = memory_size(MAX_DECODED_BYTES)
                        raise Unsupported(f"its pictures take over the {limit} a project may take")
                    if mode is not None and img.mode != mode:
                        raise Damaged(f"image {name} should be of mode {mode}, not {img.mode}")
                    img.load()
                    return img.copy()
        except Damaged:
            raise
        except Exception as exc:  # Pillow raises many types for damaged data
            reason = _one_line(exc) or type(exc).__name__
            raise Damaged(f"image {name} is damaged ({reason})") from None

    def close(self) -> None:
        self._zip.close()
