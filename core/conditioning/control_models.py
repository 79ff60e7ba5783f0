"""ControlNet models: resolved from a folder, a single ``.safetensors`` file, a hub id or a name
in the scanned model folders (``core.library``); loaded once per loaded base model (kept between
passes) on its device and in its precision.

Hub ids follow the offline-first rule of base models: the Hugging Face cache is read first; a
download (config and safetensors weights only) happens only when the hub is not set offline.
Pickled weights are refused.
"""

from __future__ import annotations

import json
import os
import weakref
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.model_spec import HUB_ID, PICKLE_SUFFIXES
from core.models import LoadedModel

UNION_CLASSES = ("ControlNetUnionModel",)
# The ControlNet classes a diffusers folder may hold (which family each suits:
# core.conditioning.control_support.CONTROLNET_CLASSES).
FOLDER_CLASSES = (
    "ControlNetModel",
    *UNION_CLASSES,
    "SD3ControlNetModel",
    "FluxControlNetModel",
    "QwenImageControlNetModel",
    "ZImageControlNetModel",
)
DIFFUSERS_WEIGHTS = "diffusion_pytorch_model"  # the weights file name in a diffusers folder
_WEIGHTS_PATTERNS = ["config.json", "diffusion_pytorch_model.safetensors"]


class ControlNetCache:
    """The ControlNets loaded for one base model (by reference), and the pipelines built on it."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.models: dict[str, Any] = {}
        self.pipelines: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.loads = 0  # how many ControlNets were loaded from disk (tests count them)

    def controlnet(self, reference: str, device: str, dtype: Any) -> Any:
        """The ControlNet named ``reference``, loaded on first use."""
        if reference not in self.models:
            self.models[reference] = load_controlnet(reference, dtype).to(device)
            self.loads += 1
        return self.models[reference]


_CACHE: dict[str, ControlNetCache] = {}


def cache_for(model: LoadedModel) -> ControlNetCache:
    """The ControlNet cache of the loaded ``model``. It goes when the model
    goes (its pipelines hold the model's modules), and another model's is dropped: one base
    model is in memory at a time."""
    identity = model.identity
    if identity not in _CACHE:
        _CACHE.clear()
        _CACHE[identity] = ControlNetCache(identity)
        weakref.finalize(model, _CACHE.pop, identity, None)
    return _CACHE[identity]


def is_union(controlnet: Any) -> bool:
    """True for a union ControlNet (one model, several control types)."""
    return type(controlnet).__name__ in UNION_CLASSES


def load_controlnet(reference: str, dtype: Any = None) -> Any:
    """Load a ControlNet (or union ControlNet) from ``reference``; ModelError (one line) if not."""
    ref = reference.strip()
    path = Path(ref).expanduser()
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(
            f"{ref}: {path.suffix} files are Python pickles that can run code when loaded; "
            "use a .safetensors ControlNet"
        )
    if path.is_dir():
        return _load_folder(path, dtype)
    if path.is_file():
        if path.suffix.lower() not in (".safetensors", ".sft"):
            raise ModelError(f"{ref}: unsupported ControlNet file (expected .safetensors)")
        if path.stem.startswith(DIFFUSERS_WEIGHTS) and (path.parent / "config.json").is_file():
            return _load_folder(path.parent, dtype)  # the weights of a diffusers folder
        return _load_single_file(path, dtype)
    if HUB_ID.match(ref) and not ref.startswith((".", "/", "~")):
        return _load_folder(_hub_folder(ref), dtype)
    found = find_in_library(ref, "controlnet")
    if found is not None:
        return load_controlnet(str(found), dtype)
    raise ModelError(
        f"no ControlNet at '{ref}' (a folder, a .safetensors file, a hub id or the name of one "
        "in the scanned model folders)"
    )


def find_in_library(name: str, kind: str) -> Path | None:
    """The file or folder of the ``kind`` model called ``name`` in the scanned model folders."""
    try:
        from core.library.registry import ModelLibrary
    except ImportError:  # no scanned folders in this build
        return None
    wanted = name.strip().lower()
    for item in ModelLibrary().items(kind):
        in_folder = item.path.stem.startswith(DIFFUSERS_WEIGHTS)  # named by its folder
        names = (item.name, item.path.parent.name) if in_folder else (item.name,)
        if wanted in (n.lower() for n in names) or name.strip() == str(item.path):
            return item.path
    return None


def _class_name(folder: Path) -> str:
    config = folder / "config.json"
    if not config.is_file():
        raise ModelError(f"{folder} has no config.json (not a diffusers ControlNet)")
    try:
        return str(json.loads(config.read_text(encoding="utf-8")).get("_class_name", ""))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {config}: {exc}") from None


def _load_folder(folder: Path, dtype: Any) -> Any:
    import diffusers

    name = _class_name(folder)
    if name not in FOLDER_CLASSES:
        raise ModelError(f"{folder} holds a {name or 'model'}, not a ControlNet")
    try:
        return getattr(diffusers, name).from_pretrained(
            folder, local_files_only=True, use_safetensors=True, dtype=dtype
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"cannot load the ControlNet {folder}: {first}") from None


def _load_single_file(path: Path, dtype: Any) -> Any:
    """A single-file ControlNet; its ``config.json`` may sit next to it (``NAME.json`` or
    ``config.json``), else diffusers infers the config (from the HF cache when offline)."""
    from diffusers import ControlNetModel

    config = next(
        (c for c in (path.with_suffix(".json"), path.parent / "config.json") if c.is_file()),
        None,
    )
    kwargs: dict[str, Any] = {"local_files_only": _offline(), "dtype": dtype}
    if config is not None:
        kwargs["config"] = str(config.parent)
    try:
        return ControlNetModel.from_single_file(str(path), **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"cannot load the ControlNet {path.name}: {first}") from None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _hub_folder(repo_id: str) -> Path:
    """The cached snapshot of ``repo_id``; downloaded (config + safetensors) when not cached
    and the hub is not offline."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(
            snapshot_download(repo_id, allow_patterns=_WEIGHTS_PATTERNS, local_files_only=True)
        )
    except LocalEntryNotFoundError:
        if _offline():
            raise ModelError(
                f"the ControlNet {repo_id} is not in the Hugging Face cache and the hub is "
                "offline (HF_HUB_OFFLINE)"
            ) from None
    try:
        return Path(snapshot_download(repo_id, allow_patterns=_WEIGHTS_PATTERNS))
    except Exception as exc:  # the network and hub errors differ between hub versions
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"downloading the ControlNet {repo_id} failed: {first}") from None
