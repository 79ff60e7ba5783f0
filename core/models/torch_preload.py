"""torch's main native library loaded ahead of ``import torch``, without holding the GIL."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path


def preload_torch_library() -> bool:
    """Load torch's main native library without holding the GIL (before ``import torch``).

    Importing an extension module keeps the GIL for the whole ``dlopen``: libtorch_cpu's
    static initialisers take 0.2–0.4 s, a freeze of every other Python thread (the GUI's).
    Through ctypes' libc binding the GIL is released, so the worker thread can do that part while
    the GUI keeps running; ``import torch`` then finds the library loaded. POSIX only; False
    (nothing done) when torch or its library is not where expected.
    """
    if "torch" in sys.modules or os.name != "posix":
        return False
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return False
    if spec is None or spec.origin is None:
        return False
    suffix = ".dylib" if sys.platform == "darwin" else ".so"
    library = Path(spec.origin).parent / "lib" / f"libtorch_cpu{suffix}"
    if not library.is_file():
        return False
    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
    except (OSError, AttributeError):
        return False
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    # RTLD_LOCAL: its symbols stay as private as torch's own import keeps them
    return bool(dlopen(os.fsencode(library), os.RTLD_NOW | os.RTLD_LOCAL))
