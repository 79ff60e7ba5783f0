"""Reading a project archive defensively: names, file types and sizes are checked before any byte
is decompressed, members are read into memory only (nothing is ever extracted to disk), and PNGs
are decoded with pixel limits.
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
from core.project.schema import INDEX_NAME, MAX_RECORDS, MAX_UI_IMAGES, Damaged

MAX_INDEX_BYTES = 64 << 20
"""Largest ``project.json`` read (64 MiB)."""
MAX_MEMBER_BYTES = 512 << 20
"""Largest uncompressed PNG member (512 MiB; a 50 MP RGBA picture of noise is about 200 MiB)."""
MAX_TOTAL_BYTES = 16 << 30
"""Largest uncompressed total of all members (16 GiB)."""
MAX_TOTAL_PIXELS = 2_000_000_000
"""Most pixels of all images of one project together (about 6 GB as RGB)."""
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
        self.pixels = 0

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

    def image(self, name: str, mode: str | None = None) -> Image.Image:
        """Decode a PNG member (of ``mode`` if given) within the pixel limits."""
        data = self.read(name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
                    w, h = img.size
                    if w * h > MAX_PIXELS:
                        raise Damaged(f"image {name} is {w}×{h}, over the {MAX_PIXELS:,} limit")
                    self.pixels += w * h
                    if self.pixels > MAX_TOTAL_PIXELS:
                        raise Damaged(f"its images hold over {MAX_TOTAL_PIXELS:,} pixels")
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
