"""No server path leaves the worker: what it says (errors, events, the result's record) names
models by the ids clients use, and any other path by its last component only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PATH_KEYS = ("path", "reference", "model", "file")
_PATH = re.compile(r"""(?:^|(?<=[\s'"(\[=,]))(?:~?/|[A-Za-z]:[\\/]|\\\\)[^\s'"()\[\],]*""")
_SEPARATORS = re.compile(r"[\\/]+")


def without_paths(text: str, known: Mapping[str, str] | None = None) -> str:
    """``text`` with each ``known`` server path replaced by its id, then every other absolute
    path by ``…/<its last component>``."""
    for path, public in sorted((known or {}).items(), key=lambda item: -len(item[0])):
        if path:
            text = text.replace(path, public)
    return _PATH.sub(_tail, text)


def public_record(value: Any, known: Mapping[str, str], key: str = "") -> Any:
    """A copy of a pass record whose path-valued fields (``path``, ``reference``…) name no
    server path; prompts and every other text are kept as they are."""
    if isinstance(value, dict):
        return {k: public_record(v, known, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [public_record(v, known, key) for v in value]
    if isinstance(value, str) and key in PATH_KEYS:
        return known.get(value) or without_paths(value, known)
    return value


def _tail(match: re.Match[str]) -> str:
    parts = [p for p in _SEPARATORS.split(match.group()) if p]
    return f"…/{parts[-1]}" if parts else "…"
