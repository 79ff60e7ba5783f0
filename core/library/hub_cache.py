"""The Hugging Face cache on disk: where a hub model lives, whether it is complete enough to
load, how much room it takes, and removing it. Reads the disk only, never the network.

Both the catalog (which models are downloaded) and the downloader (the cache as the offline
fallback) build on this module; neither imports the other.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from core.errors import ModelError

SKIPPED_COMPONENTS = {"safety_checker", "feature_extractor", "image_encoder"}


def hub_cache_dir() -> Path:
    """The HF cache (``HF_HUB_CACHE``, ``HF_HOME``…, read by huggingface_hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def repo_cache_folder(repo_id: str) -> Path:
    """``<cache>/models--org--name`` (it may not exist)."""
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def pipeline_components(index: dict[str, Any]) -> list[str]:
    """The components of a ``model_index.json`` that the pipelines load (optional ones left out)."""
    return sorted(
        name
        for name, value in index.items()
        if not name.startswith("_")
        and name not in SKIPPED_COMPONENTS
        and isinstance(value, list)
        and len(value) == 2
        and value[0] is not None
    )


def cached_path(model_id: str) -> Path | None:
    """The snapshot folder of ``model_id`` in the HF cache when it is complete enough to load
    (every pipeline component with its config and weights; for a single model, its config and
    weights), else None. Reads the disk only."""
    folder = repo_cache_folder(model_id)
    try:
        commit = (folder / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    snapshot = folder / "snapshots" / commit
    index_file = snapshot / "model_index.json"
    if not index_file.is_file():
        return snapshot if _loadable_part(snapshot) else None
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(index, dict):
        return None
    for component in pipeline_components(index):
        part = snapshot / component
        if not part.is_dir():
            return None
        if (part / "config.json").is_file() and not _loadable_part(part):
            return None  # a model component (it has a config) without its weights
    return snapshot


def _loadable_part(folder: Path) -> bool:
    """A config.json and complete (non-partial) safetensors weights."""
    if not (folder / "config.json").is_file():
        return False
    return any(f.is_file() for f in folder.glob("*.safetensors"))  # a dangling link is not


def cached_size(model_id: str) -> int:
    """Bytes the model takes in the HF cache (0 when absent)."""
    blobs = repo_cache_folder(model_id) / "blobs"
    if not blobs.is_dir():
        return 0
    return sum(f.stat().st_size for f in blobs.iterdir() if f.is_file())


def remove_cached(model_id: str) -> int:
    """Delete ``model_id`` from the HF cache (every revision, partial downloads too); returns
    the bytes freed. Raises ModelError when it is not in the cache."""
    folder = repo_cache_folder(model_id)
    if not folder.is_dir():
        raise ModelError(f"{model_id} is not in the Hugging Face cache ({hub_cache_dir()})")
    freed = sum(f.stat().st_size for f in (folder / "blobs").glob("*") if f.is_file())
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        text = str(exc).strip().splitlines()
        raise ModelError(f"cannot remove {folder}: {text[0] if text else exc!r}") from None
    shutil.rmtree(hub_cache_dir() / ".locks" / folder.name, ignore_errors=True)
    return freed
