"""The one place that hashes things: pixels, files, and big weights files (cached)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from PIL import Image

from core.user_dirs import user_cache_dir


def pixel_hash(img: Image.Image) -> str:
    """First 16 hex digits of the sha256 of the image's mode, size and raw pixel bytes."""
    digest = hashlib.sha256(f"{img.mode}:{img.width}x{img.height}:".encode())
    digest.update(img.tobytes())
    return digest.hexdigest()[:16]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Full sha256 hex digest of a file, read in ``chunk``-byte pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cached_file_hash(path: str | Path) -> str:
    """sha256 of a (large) weights file, remembered by path, size and mtime."""
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{int(stat.st_mtime)}"
    cache_file = user_cache_dir() / "hashes.json"
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    if key not in cache:
        cache[key] = file_sha256(path)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(tmp, cache_file)
    return str(cache[key])
