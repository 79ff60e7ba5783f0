"""What the A1111 listing routes answer (``sd-models``, ``samplers``, ``schedulers``, ``loras``,
the ControlNet extension's ``model_list``), from what the worker offers, and A1111's names mapped
back to it. No server path is ever listed: files are named by their file name.
"""

from __future__ import annotations

import re
from typing import Any

from core.remote.a1111.schema import invalid
from core.remote.offered import OfferedModels, item_names
from core.requests import SCHEDULER_NAMES

DEFAULT_SAMPLER = "Euler"  # A1111's sampler when a request names none
SCHEDULES = ("automatic", "karras")  # A1111 ≥ 1.9 names the noise schedule apart
_HASH_SUFFIX = re.compile(r"\s*\[[0-9A-Fa-f]+\]$")


def sd_models(offered: OfferedModels) -> list[dict[str, Any]]:
    """``GET /sdapi/v1/sd-models``: one row per offered model; ``title`` is what
    ``sd_model_checkpoint`` names."""
    return [
        {
            "title": row["name"],
            "model_name": row["name"],
            "hash": None,
            "sha256": None,
            "filename": row["name"],
            "config": None,
        }
        for row in offered.listing()
    ]


def checkpoint_id(offered: OfferedModels, title: str) -> str:
    """The offered model id an A1111 checkpoint title names (its id, name or ``name [hash]``);
    A1111Invalid otherwise."""
    wanted = _HASH_SUFFIX.sub("", title.strip())
    for row in offered.listing():
        names = (row["id"], row["name"], str(row["name"]).rsplit(".", 1)[0])
        if wanted in names:
            return str(row["id"])
    raise invalid(
        f"this worker does not offer the model '{title}' (see /sdapi/v1/sd-models)",
        "override_settings",
        "sd_model_checkpoint",
    )


def checkpoint_title(offered: OfferedModels, model_id: str) -> str:
    """The title ``GET /options`` reports for an offered model id."""
    for row in offered.listing():
        if row["id"] == model_id or (model_id == "default" and row.get("default")):
            return str(row["name"])
    return model_id


def loras(offered: OfferedModels) -> list[dict[str, Any]]:
    """``GET /sdapi/v1/loras``: the LoRAs ``<lora:name:weight>`` may name."""
    return [
        {"name": item.name, "alias": item.name, "path": item.path.name, "metadata": {}}
        for item in offered.library.items("lora")
    ]


def controlnet_models(offered: OfferedModels) -> list[str]:
    """``GET /controlnet/model_list``: the ControlNets a unit's ``model`` may name."""
    return [item_names(item)[0] for item in offered.library.items("controlnet")]


def samplers() -> list[dict[str, Any]]:
    """``GET /sdapi/v1/samplers``."""
    return [{"name": name, "aliases": [], "options": {}} for name in SCHEDULER_NAMES]


def schedulers() -> list[dict[str, Any]]:
    """``GET /sdapi/v1/schedulers``."""
    return [
        {
            "name": name,
            "label": name.capitalize(),
            "aliases": None,
            "default_rho": -1,
            "need_inner_model": False,
        }
        for name in SCHEDULES
    ]


def scheduler_for(
    sampler_name: str | None, schedule: str | None, notes: list[str]
) -> tuple[str, str]:
    """Our sampler for A1111's ``sampler_name`` + ``scheduler`` (A1111Invalid for an unknown
    sampler), and the sampler name to report."""
    asked = (sampler_name or "").strip() or DEFAULT_SAMPLER
    by_lower = {name.lower(): name for name in SCHEDULER_NAMES}
    name = by_lower.get(asked.lower())
    if name is None:
        offered = ", ".join(SCHEDULER_NAMES)
        raise invalid(f"Sampler '{asked}' not found (this worker has: {offered})", "sampler_name")
    wanted = (schedule or "").strip().lower()
    if wanted == "karras" and not name.endswith("Karras"):
        if f"{name} Karras" in SCHEDULER_NAMES:
            return f"{name} Karras", name
        notes.append(f"scheduler 'karras' is not offered with {name}: its own schedule ran")
    elif wanted not in ("", "automatic", "karras"):
        notes.append(f"scheduler '{schedule}' is not offered: the sampler's own schedule ran")
    return name, name
