"""What a worker offers: the models a client may name, and the check that a pass names nothing
else (no server path ever comes from a client)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.conditioning.control_models import DIFFUSERS_WEIGHTS
from core.conditioning.lora_files import split_lora_tags
from core.conditioning.specs import LoraSpec
from core.library.catalog import CATALOG, cached_path
from core.library.download import repo_cache_folder
from core.library.registry import LibraryItem, ModelLibrary
from core.remote.protocol import ProtocolError
from core.requests import PassRequest

PIPELINE_KINDS = ("checkpoint", "diffusers")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class OfferedModels:
    """The worker's ``--model`` (by that name and as "default"), the pipelines of its model
    library and the complete catalog models in its Hugging Face cache."""

    def __init__(self, default: str | None, library: ModelLibrary | None = None) -> None:
        self.default = default
        self.library = library if library is not None else ModelLibrary()

    def listing(self) -> list[dict[str, Any]]:
        """The models a client may name (``id``), for ``GET /v1/models``: ids and names only,
        never a server path (a ``--model`` on disk is listed as "default")."""
        rows: list[dict[str, Any]] = []
        if self.default:
            public = self.default if _is_hub_id(self.default) else "default"  # never a path
            rows.append({"id": public, "name": Path(self.default).name, "default": True})
        for item in self._pipelines():
            rows.append({"id": item.id, "name": item.name, "family": item.family})
        for entry in CATALOG:
            if entry.id != self.default and cached_path(entry.id) is not None:
                rows.append({"id": entry.id, "name": entry.name, "family": entry.family})
        return rows

    def reference(self, model_id: str) -> str:
        """The server-side reference of an offered model id (ProtocolError for anything else)."""
        if self.default and model_id in (self.default, "default"):
            return self.default
        for item in self._pipelines():
            if model_id == item.id:
                return str(item.path)
        if any(e.id == model_id for e in CATALOG) and cached_path(model_id) is not None:
            return model_id
        raise ProtocolError(f"this worker does not offer the model '{model_id}' (see /v1/models)")

    def shown(self, model_id: str) -> str:
        """How what the worker says names the model a client asked for as ``model_id``: as
        asked, but "default" by its hub id when it is one (a path never)."""
        if model_id == "default" and self.default and _is_hub_id(self.default):
            return self.default
        return model_id

    def checked(self, request: PassRequest) -> PassRequest:
        """``request`` with its LoRA, ControlNet and IP-Adapter names mapped to this worker's
        files; ProtocolError when one names a path or something the worker does not have."""
        loras = tuple(LoraSpec(self._lora(spec.path), spec.weight) for spec in request.loras)
        for tag in split_lora_tags(request.prompt)[1]:
            self._lora(tag.path)
        controls = tuple(
            replace(layer, model=self._conditioning(layer.model, "controlnet"))
            for layer in request.controls
        )
        references = tuple(
            replace(ref, model=self._conditioning(ref.model, "ip_adapter"))
            for ref in request.references
        )
        return request.replace(loras=loras, controls=controls, references=references)

    def _pipelines(self) -> list[LibraryItem]:
        return [item for item in self.library.items() if item.kind in PIPELINE_KINDS]

    def _lora(self, name: str) -> str:
        if _names_a_path(name):
            raise ProtocolError(f"LoRA '{name}': name a LoRA of the worker's library, not a path")
        found = self.library.find_lora(name)
        if found is None:
            raise ProtocolError(f"this worker has no LoRA named '{name}'")
        return str(found)

    def _conditioning(self, model: str, kind: str) -> str:
        for item in self.library.items(kind):
            if model in (item.id, *item_names(item)):
                return str(item.path)
        if _is_hub_id(model) and repo_cache_folder(model).is_dir():
            return model  # a hub id in the worker's cache
        raise ProtocolError(f"this worker has no {kind.replace('_', '-')} model '{model}'")


def _is_hub_id(name: str) -> bool:
    """``org/name`` that is not a path on this machine."""
    return bool(_HUB_ID.match(name)) and ".." not in name and not Path(name).exists()


def item_names(item: LibraryItem) -> tuple[str, ...]:
    """The names a client gives a library item: a diffusers folder's name first (its weights
    file is always called diffusion_pytorch_model), then the file's."""
    if item.path.stem.startswith(DIFFUSERS_WEIGHTS):
        return (item.path.parent.name, item.name)
    return (item.name,)


def _names_a_path(name: str) -> bool:
    return any(sep in name for sep in ("/", "\\")) or name.startswith(("~", ".")) or ":" in name


def client_names(sent: PassRequest, checked: PassRequest) -> dict[str, str]:
    """Each server path ``checked`` resolved → the name the client sent for it."""
    pairs = [(a.path, b.path) for a, b in zip(sent.loras, checked.loras, strict=True)]
    pairs += [(a.model, b.model) for a, b in zip(sent.controls, checked.controls, strict=True)]
    pairs += [(a.model, b.model) for a, b in zip(sent.references, checked.references, strict=True)]
    return {server: name for name, server in pairs if server != name}
