"""The ``params`` JSON of a submitted pass, checked for shape before anything uses it: every
field's type, anywhere in the object, and how deeply it nests. A wrong shape is one line
(ProtocolError, HTTP 400), never an exception from deep inside the worker."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from core.remote.protocol import ProtocolError

MAX_DEPTH = 6  # params → "controls" → [ ] → { } → "extra" values…

TEXT, NUMBER, INTEGER, MAYBE_INTEGER, FLAG = "text", "number", "integer", "integer or null", "flag"
MAYBE_FLAG = "flag or null"  # null: the engine decides (colour match: on where there is a mask)
PASS_FIELDS = {
    "model": TEXT,
    "prompt": TEXT,
    "negative_prompt": TEXT,
    "strength": NUMBER,
    "steps": INTEGER,
    "cfg": NUMBER,
    "seed": MAYBE_INTEGER,
    "scheduler": TEXT,
    "width": MAYBE_INTEGER,
    "height": MAYBE_INTEGER,
    "mask_blur": INTEGER,
    "inpaint_area": TEXT,
    "padding": INTEGER,
    "color_match": MAYBE_FLAG,
    "soft_inpaint": FLAG,
    "work_size": TEXT,
}
LIST_FIELDS = {
    "loras": {"name": TEXT, "weight": NUMBER},
    "controls": {
        "model": TEXT,
        "kind": TEXT,
        "strength": NUMBER,
        "start": NUMBER,
        "end": NUMBER,
        "low_threshold": INTEGER,
        "high_threshold": INTEGER,
        "invert": FLAG,
        "enabled": FLAG,
    },
    "references": {"model": TEXT, "scale": NUMBER, "mode": TEXT},
    "regions": {"prompt": TEXT, "negative": TEXT},
}
REQUIRED = {"loras": ("name",), "controls": ("model",), "references": ("model",)}


def parse_params(text: str) -> dict[str, Any]:
    """The ``params`` part as a JSON object of the right shape (ProtocolError otherwise)."""
    try:
        params = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ProtocolError("params nests too deeply") from None
    except ValueError:
        raise ProtocolError("params is not JSON") from None
    if not isinstance(params, dict):
        raise ProtocolError("params must be a JSON object")
    if _depth(params) > MAX_DEPTH:
        raise ProtocolError(f"params nests deeper than {MAX_DEPTH} levels")
    check_shape(params)
    return params


def check_shape(params: Mapping[str, Any]) -> None:
    """Raise ProtocolError naming the first field of the wrong type."""
    if "model" not in params:
        raise ProtocolError("params has no model")
    _check_fields(params, PASS_FIELDS, "")
    for key, fields in LIST_FIELDS.items():
        items = params.get(key, [])
        if not isinstance(items, list):
            raise ProtocolError(f"{key} must be a list")
        for i, item in enumerate(items):
            where = f"{key}[{i}]."
            if not isinstance(item, dict):
                raise ProtocolError(f"{key}[{i}] must be an object")
            for needed in REQUIRED.get(key, ()):
                if needed not in item:
                    raise ProtocolError(f"{where}{needed} is missing")
            _check_fields(item, fields, where)
    if not isinstance(params.get("extra", {}), dict):
        raise ProtocolError("extra must be a JSON object")


def _check_fields(values: Mapping[str, Any], fields: Mapping[str, str], where: str) -> None:
    for key, kind in fields.items():
        if key in values and not _is(values[key], kind):
            raise ProtocolError(f"{where}{key} must be {_article(kind)}")


def _is(value: Any, kind: str) -> bool:
    if kind == TEXT:
        return isinstance(value, str)
    if kind == FLAG:
        return isinstance(value, bool)
    if kind == MAYBE_FLAG:
        return value is None or isinstance(value, bool)
    if isinstance(value, bool):
        return False  # JSON true is not a number here
    if kind == NUMBER:
        return isinstance(value, int | float) and math.isfinite(value)
    if kind == MAYBE_INTEGER and value is None:
        return True
    return isinstance(value, int)


def _article(kind: str) -> str:
    words = {TEXT: "a string", FLAG: "true or false", MAYBE_FLAG: "true, false or null"}
    return words.get(kind, "a number" if kind == NUMBER else f"an {kind}")


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")
