"""core/ never imports Qt: checked statically and by importing every module."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import core

QT = re.compile(r"^\s*(from|import)\s+(PySide6|PyQt5|PyQt6|qasync|shiboken6)\b", re.M)


def test_no_qt_import_statements_in_core():
    root = Path(core.__file__).parent
    offenders = [str(p) for p in root.rglob("*.py") if QT.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_importing_all_of_core_loads_no_qt():
    names = [m.name for m in pkgutil.walk_packages(core.__path__, "core.")]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync', 'shiboken6')]\n"
        "assert not bad, bad\n"
    )
    root = Path(core.__file__).parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
