"""Model references → loaded diffusers pipelines, cached between passes.

A reference is a local diffusers folder (``model_index.json``), a single-file ``.safetensors``
checkpoint (loaded offline with a bundled or user-given config folder) or a Hugging Face repo id
(downloaded with progress, or read from the HF cache when offline). Pickle checkpoints are refused.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.events import EventCallback, ModelLoading
from core.model_files import (
    PICKLE_SUFFIXES,
    bundled_config_for,
    cached_file_hash,
    detect_single_file_family,
)

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
HUB_ALLOW = [
    "model_index.json",
    "*/*.json",
    "*/*.txt",
    "*/diffusion_pytorch_model.safetensors",
    "*/model.safetensors",
]


@dataclass(frozen=True)
class ModelSpec:
    """What to load: ``reference`` (folder, .safetensors file or hub id) plus overrides."""

    reference: str
    config: str | None = None  # diffusers config folder for single files
    device: str = "auto"  # auto | cpu | cuda | mps
    dtype: str = "auto"  # auto | fp32 | fp16 | bf16


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
    _inpaint_pipe: Any = None
    _hash: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def img2img_pipe(self):
        return None if self.is_inpaint_model else self.base_pipe

    @property
    def inpaint_pipe(self):
        """The inpaint pipeline, sharing the loaded weights (``from_pipe``: no reload)."""
        if self.is_inpaint_model:
            return self.base_pipe
        if self._inpaint_pipe is None:
            from diffusers import AutoPipelineForInpainting

            self._inpaint_pipe = AutoPipelineForInpainting.from_pipe(self.base_pipe)
        return self._inpaint_pipe

    @property
    def native_size(self) -> int:
        unet = self.base_pipe.unet
        return int(unet.config.sample_size) * int(self.base_pipe.vae_scale_factor)

    @property
    def hash(self) -> str:
        """A1111-style short model hash (first 10 hex of the weights' sha256), cached on disk."""
        with self._lock:
            if self._hash is None:
                path = self.weights_file
                self._hash = cached_file_hash(path)[:10] if path and path.exists() else ""
            return self._hash


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for, but no CUDA GPU is available")
    if device == "mps" and not (torch.backends.mps.is_available()):
        raise ModelError("--device mps was asked for, but MPS is not available")
    if device not in ("cpu", "cuda", "mps"):
        raise ModelError(f"unknown device '{device}' (choose auto, cpu, cuda or mps)")
    return device


def resolve_dtype(dtype: str, device: str):
    import torch

    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if dtype == "auto":
        return torch.float16 if device in ("cuda", "mps") else torch.float32
    if dtype not in table:
        raise ModelError(f"unknown dtype '{dtype}' (choose auto, fp32, fp16 or bf16)")
    return table[dtype]


def classify_reference(reference: str) -> str:
    """Return "folder", "single_file" or "hub"; raise ModelError for anything unusable."""
    ref = reference.strip()
    if not ref:
        raise ModelError(
            "no model given (use --model with a folder, a .safetensors file or a hub id)"
        )
    path = Path(ref).expanduser()
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise ModelError(
            f"{ref}: {suffix} checkpoints are Python pickles that can run code when loaded; "
            "convert it to .safetensors or use a diffusers folder"
        )
    if path.is_dir():
        if (path / "model_index.json").is_file():
            return "folder"
        raise ModelError(f"{ref} is a folder without model_index.json (not a diffusers model)")
    if path.is_file():
        if suffix in (".safetensors", ".sft"):
            return "single_file"
        raise ModelError(f"{ref}: unsupported model file (expected .safetensors)")
    if suffix in (".safetensors", ".sft") or ref.startswith((".", "/", "~")) or os.sep in ref[:1]:
        raise ModelError(f"no such model file or folder: {ref}")
    if HUB_ID.match(ref):
        return "hub"
    raise ModelError(
        f"no model at '{ref}': expected a diffusers folder, a .safetensors file "
        "or a hub id (org/name)"
    )


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
                folder = _download(spec.reference, emit)
                model = _load_folder(spec, Path(folder), device, dtype)
            elif kind == "folder":
                model = _load_folder(spec, Path(spec.reference), device, dtype)
            else:
                model = _load_single_file(spec, Path(spec.reference), device, dtype)
            model.base_pipe.set_progress_bar_config(disable=True)
            emit(ModelLoading(spec.reference, f"Loaded {model.name}", 1.0))
            self._loaded = model
            return model


def _download(repo_id: str, emit) -> str:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )
    from tqdm.auto import tqdm

    class _Progress(tqdm):
        def update(self, n=1):
            result = super().update(n)
            if self.total:
                emit(ModelLoading(repo_id, f"Downloading {repo_id}", self.n / self.total))
            return result

    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    try:
        return snapshot_download(
            repo_id, allow_patterns=HUB_ALLOW, local_files_only=offline, tqdm_class=_Progress
        )
    except LocalEntryNotFoundError:
        try:  # the network failed: fall back to whatever the cache holds
            return snapshot_download(repo_id, allow_patterns=HUB_ALLOW, local_files_only=True)
        except LocalEntryNotFoundError:
            raise ModelError(
                f"{repo_id} is not in the Hugging Face cache and cannot be downloaded "
                "(offline or no network)"
            ) from None
    except RepositoryNotFoundError:
        raise ModelError(f"{repo_id} was not found on the Hugging Face Hub") from None
    except (HfHubHTTPError, OSError) as exc:
        raise ModelError(f"downloading {repo_id} failed: {str(exc).splitlines()[0]}") from None


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


def _load_folder(spec: ModelSpec, folder: Path, device: str, dtype) -> LoadedModel:
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


def _load_single_file(spec: ModelSpec, path: Path, device: str, dtype) -> LoadedModel:
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
