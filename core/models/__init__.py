"""Models: what to load (spec), where from (folder, single file, hub), and the loaded pipelines."""

from core.model_spec import ModelSpec, classify_reference
from core.models.device import resolve_device, resolve_dtype
from core.models.loaded import LoadedModel
from core.models.loading import ModelManager

__all__ = [
    "LoadedModel",
    "ModelManager",
    "ModelSpec",
    "classify_reference",
    "resolve_device",
    "resolve_dtype",
]
