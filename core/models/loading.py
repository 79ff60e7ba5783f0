"""Model references → loaded diffusers pipelines, cached between passes.

A reference is a local diffusers folder (``model_index.json``), a single-file ``.safetensors``
checkpoint (loaded offline with a bundled or user-given config folder) or a Hugging Face repo id
(downloaded with progress, or read from the HF cache when offline). Pickle checkpoints are refused.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.events import EventCallback, ModelLoading
from core.hashing import cached_file_hash
from core.models.device import resolve_device, resolve_dtype
from core.models.download import download_model
from core.models.files import bundled_config_for, detect_single_file_family
from core.models.spec import ModelSpec, classify_reference


@dataclass
class LoadedModel:
    """A loaded pipeline and what the engine needs to know about it."""

    spec: ModelSpec
    name: str
    family: str  # "sd1", "sd2", "sdxl"
    is_inpaint_model: bool
    device: str
    dtype: Any
    base_pipe: Any  # the pipeline as loaded (img2img, or inpaint for 9-channel models)
    weights_file: Path | None
    identity: str = ""  # unique per load: what caches of per-model state are keyed by
    _inpaint_pipe: Any = None
    _hash: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def img2img_pipe(self) -> Any:
        return None if self.is_inpaint_model else self.base_pipe

    @property
    def inpaint_pipe(self) -> Any:
        """The inpaint pipeline, sharing the loaded weights (``from_pipe``: no reload)."""
        if self.is_inpaint_model:
            return self.base_pipe
        if self._inpaint_pipe is None:
            from diffusers import AutoPipelineForInpainting

            self._inpaint_pipe = AutoPipelineForInpainting.from_pipe(self.base_pipe)
        return self._inpaint_pipe

    @property
    def native_size(self) -> int:
        """The side (px) the model was trained at: UNet sample size × VAE scale factor."""
        unet = self.base_pipe.unet
        return int(unet.config.sample_size) * int(self.base_pipe.vae_scale_factor)

    @property
    def size_multiple(self) -> int:
        """Work sizes are multiples of this (the VAE's scale factor, at least 8)."""
        return max(8, int(self.base_pipe.vae_scale_factor))

    @property
    def hash(self) -> str:
        """A1111-style short model hash (first 10 hex of the weights' sha256), cached on disk."""
        with self._lock:
            if self._hash is None:
                path = self.weights_file
                self._hash = cached_file_hash(path)[:10] if path and path.exists() else ""
            return self._hash


_LOAD_SERIAL = itertools.count(1)


class ModelManager:
    """Loads models on demand and keeps the last one loaded (one model in memory at a time)."""

    def __init__(self) -> None:
        self._loaded: LoadedModel | None = None
        self._lock = threading.RLock()

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    def unload(self) -> None:
        with self._lock:
            self._loaded = None

    def load(self, spec: ModelSpec, on_event: EventCallback | None = None) -> LoadedModel:
        """Return the loaded model for ``spec``, loading (and downloading) it if needed."""
        with self._lock:
            if self._loaded is not None and self._loaded.spec == spec:
                return self._loaded
            kind = classify_reference(spec.reference)
            if spec.config and not (Path(spec.config) / "model_index.json").is_file():
                raise ModelError(f"--model-config {spec.config} has no model_index.json")
            device = resolve_device(spec.device)
            dtype = resolve_dtype(spec.dtype, device)
            emit = on_event or (lambda event: None)
            _quiet_optional_backend_notices()
            self._loaded = None  # free the old model before loading the next one
            emit(ModelLoading(spec.reference, f"Loading {Path(spec.reference).name}…"))
            if kind == "hub":
                folder = download_model(spec.reference, emit)
                model = _load_folder(spec, Path(folder), device, dtype)
            elif kind == "folder":
                model = _load_folder(spec, Path(spec.reference), device, dtype)
            else:
                model = _load_single_file(spec, Path(spec.reference), device, dtype)
            model.base_pipe.set_progress_bar_config(disable=True)
            model.identity = f"{next(_LOAD_SERIAL)}:{spec.reference}"
            emit(ModelLoading(spec.reference, f"Loaded {model.name}", 1.0))
            self._loaded = model
            return model


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from None


class _DropNotice(logging.Filter):
    """Drops transformers' "requires torchvision; falling back to the PIL processor" notice:
    the PIL image processors are what this app uses (it has no vision encoders to speed up)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision (not installed)" not in record.getMessage()


def _quiet_optional_backend_notices() -> None:
    log = logging.getLogger("transformers.utils.import_utils")
    if not any(isinstance(f, _DropNotice) for f in log.filters):
        log.addFilter(_DropNotice())


def _family_from_index(index: dict) -> str:
    name = index.get("_class_name", "")
    if "XL" in name:
        return "sdxl"
    return "sd1"


def _load_folder(spec: ModelSpec, folder: Path, device: str, dtype: Any) -> LoadedModel:
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

    index = _read_json(folder / "model_index.json")
    unet_config = folder / "unet" / "config.json"
    in_channels = _read_json(unet_config).get("in_channels", 4) if unet_config.is_file() else 4
    is_inpaint = in_channels == 9
    loader = AutoPipelineForInpainting if is_inpaint else AutoPipelineForImage2Image
    try:
        pipe = loader.from_pretrained(
            folder, dtype=dtype, local_files_only=True, safety_checker=None
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"cannot load model {folder}: {str(exc).splitlines()[0]}") from None
    pipe = pipe.to(device)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    name = folder.name
    if "snapshots" in folder.parts:  # hub cache: models--org--name/snapshots/<rev>
        name = spec.reference.split("/")[-1]
    return LoadedModel(
        spec,
        name,
        _family_from_index(index),
        is_inpaint,
        device,
        dtype,
        pipe,
        weights if weights.exists() else None,
    )


def _load_single_file(spec: ModelSpec, path: Path, device: str, dtype: Any) -> LoadedModel:
    import diffusers

    family, is_inpaint = detect_single_file_family(path)
    config = spec.config or bundled_config_for(family, is_inpaint)
    if config is None:
        raise ModelError(
            f"{path.name} looks like an {family.upper()} checkpoint; give its diffusers config "
            "folder with --model-config DIR"
        )
    class_name = {
        ("sd1", False): "StableDiffusionImg2ImgPipeline",
        ("sd1", True): "StableDiffusionInpaintPipeline",
        ("sd2", False): "StableDiffusionImg2ImgPipeline",
        ("sd2", True): "StableDiffusionInpaintPipeline",
        ("sdxl", False): "StableDiffusionXLImg2ImgPipeline",
        ("sdxl", True): "StableDiffusionXLInpaintPipeline",
    }[(family, is_inpaint)]
    cls = getattr(diffusers, class_name)
    try:
        pipe = cls.from_single_file(
            str(path), config=str(config), local_files_only=True, dtype=dtype
        )
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise ModelError(f"cannot load {path.name}: {str(exc).splitlines()[0]}") from None
    if getattr(pipe, "safety_checker", None) is not None:
        pipe.safety_checker = None
    pipe = pipe.to(device)
    return LoadedModel(spec, path.stem, family, is_inpaint, device, dtype, pipe, path)
