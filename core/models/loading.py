"""Model references → loaded diffusers pipelines, cached between passes.

A reference is a local diffusers folder (``model_index.json``), a single-file ``.safetensors``
checkpoint (loaded offline with a bundled or user-given config folder) or a Hugging Face repo id
(downloaded with progress, or read from the HF cache when offline). Pickle checkpoints are refused.
A loaded model's hash is computed in the background (``core.models.hashes``).
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from core.errors import ModelError, PassCancelled
from core.events import EventCallback, ModelLoading
from core.hashing import Cancelled, hash_model_file
from core.library.download import FP16, download_model
from core.library.hub_cache import SKIPPED_COMPONENTS
from core.library.index_family import family_from_index
from core.model_spec import PICKLE_SUFFIXES, ModelSpec, classify_reference
from core.models.collector import forget_frozen, loading_quietly
from core.models.compile import compile_repeated_blocks
from core.models.device import dtype_for_family, resolve_device, resolve_dtype, tune_pipeline
from core.models.families import family
from core.models.gguf_files import load_gguf
from core.models.hashes import weights_file
from core.models.loaded import LoadedModel
from core.models.memory_modes import apply_memory_choice
from core.models.pipeline_fixes import fix_known_pipeline_faults
from core.models.quantize import (
    check_quantize,
    is_quantized,
    pipeline_quantization,
    quantize_loaded,
)
from core.models.qwen_processor import load_processor
from core.models.single_file import load_single_file

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
        """Forget the loaded model (its memory goes with the last reference) and stop its hash."""
        with self._lock:
            if self._loaded is not None:
                self._loaded.cancel_hash()
                self._loaded = None
                forget_frozen()  # collector.py: any cycle the old model held goes now
                _empty_device_cache()

    def load(
        self,
        spec: ModelSpec,
        on_event: EventCallback | None = None,
        cancel: Cancelled | None = None,
    ) -> LoadedModel:
        """Return the loaded model for ``spec``, loading (and downloading) it if needed.

        Raises PassCancelled once ``cancel`` is cancelled: between download chunks, and after each
        loading phase (a ``from_pretrained`` call cannot be stopped midway). A cancelled load
        keeps no model: the next load starts afresh.
        """
        with self._lock:
            if self._loaded is not None and self._loaded.spec == spec:
                return self._loaded
            with loading_quietly():  # collector.py: no long GC pauses while modules import
                return self._load_new(spec, emit=on_event or (lambda event: None), cancel=cancel)

    def _load_new(
        self, spec: ModelSpec, emit: EventCallback, cancel: Cancelled | None
    ) -> LoadedModel:
        """Load ``spec`` (the caller holds the lock)."""
        kind = classify_reference(spec.reference)
        if spec.config and not (Path(spec.config) / "model_index.json").is_file():
            raise ModelError(f"--model-config {spec.config} has no model_index.json")
        device = resolve_device(spec.device)
        dtype = resolve_dtype(spec.dtype, device)
        check_quantize(spec.quantize, device)
        _check(cancel)
        _quiet_optional_backend_notices()
        self.unload()  # free the old model before loading the next one
        emit(ModelLoading(spec.reference, f"Loading {Path(spec.reference).name}…"))
        if kind == "hub":
            fp16 = wants_fp16_weights(device, dtype)
            folder = download_model(spec.reference, emit, cancel, fp16=fp16)
            _check(cancel)
            model = _load_folder(spec, Path(folder), device, dtype)
        elif kind == "folder":
            model = _load_folder(spec, Path(spec.reference), device, dtype)
        elif Path(spec.reference).suffix.lower() == ".gguf":
            model = load_gguf(spec, Path(spec.reference), device, dtype)  # gguf_files.py
        else:
            model = load_single_file(spec, Path(spec.reference), device, dtype)
        _check(cancel)
        model.quantize = _quantize(model, spec.quantize)
        model.base_pipe.set_progress_bar_config(disable=True)
        memory = apply_memory_choice(
            model.base_pipe, spec.memory, device, model.family,
            on_note=lambda text: emit(ModelLoading(spec.reference, text)), quantize=model.quantize,
        )  # fmt: skip
        model.memory_mode, model.memory_reason = memory.label, memory.reason
        tune_pipeline(model.base_pipe, spec.dtype, device)  # device.py: bf16 CPU, NHWC GPU
        if spec.compile:
            model.compiled = compile_repeated_blocks(
                model.base_pipe, device, lambda text: emit(ModelLoading(spec.reference, text))
            )
        model.identity = f"{next(_LOAD_SERIAL)}:{spec.reference}"
        if model.weights_file is not None and model.weights_file.is_file():
            model._hasher = hash_model_file(spec.reference, model.weights_file)
        quantized = f", weights: {model.quantize}" if model.quantize != "none" else ""
        loaded = f"Loaded {model.name} (memory: {model.memory_mode}{quantized})"
        emit(ModelLoading(spec.reference, loaded, 1.0))
        self._loaded = model
        return model


def _quantize(model: LoadedModel, mode: str) -> str:
    """Quantize what the loader did not (single files) and say what the weights are now."""
    if model.quantize.startswith("gguf"):  # a GGUF file is quantized as it is
        return model.quantize
    denoiser = getattr(model.base_pipe, "unet", None) or model.base_pipe.transformer
    if mode != "none" and not is_quantized(denoiser):
        quantize_loaded(model.base_pipe, mode)
    return mode


def _empty_device_cache() -> None:
    """Give the freed model's GPU memory back to the driver (other programs, the next model)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def wants_fp16_weights(device: str, dtype: Any) -> bool:
    """Half-precision weights suit a CUDA run in fp16 or bf16 (half the download, same result)."""
    import torch

    return device == "cuda" and dtype in (torch.float16, torch.bfloat16)


def _check(cancel: Cancelled | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise PassCancelled()


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


def _folder_variant(folder: Path, device: str, dtype: Any) -> str | None:
    """ "fp16" when the folder's UNet has fp16 weights and they suit the run (or are all it has)."""
    for component in ("unet", "transformer"):
        if (folder / component).is_dir():
            has_fp16 = any((folder / component).glob(f"*.{FP16}*.safetensors"))
            full = weights_file(folder, None) is not None
            return FP16 if has_fp16 and (wants_fp16_weights(device, dtype) or not full) else None
    return None


def _denoiser_config(folder: Path) -> dict:
    """The UNet's or transformer's config.json ({} when the folder has neither)."""
    for component in ("unet", "transformer"):
        config = folder / component / "config.json"
        if config.is_file():
            return _read_json(config)
    return {}


def _load_folder(spec: ModelSpec, folder: Path, device: str, dtype: Any) -> LoadedModel:
    import diffusers

    index = _read_json(folder / "model_index.json")
    family_key, is_inpaint = family_from_index(index, _denoiser_config(folder))
    info = family(family_key)
    class_name = info.inpaint_pipeline if is_inpaint else info.img2img_pipeline
    loader = getattr(diffusers, str(class_name))
    dtype = dtype_for_family(info, spec.dtype, dtype)
    variant = _folder_variant(folder, device, dtype)
    # Components the pipelines can do without are not loaded (nor downloaded).
    given: dict[str, Any] = {name: None for name in SKIPPED_COMPONENTS if name in index}
    if "safety_checker" in index:
        given["safety_checker"] = None
    if info.edit and "processor" in index:  # Qwen-Image-Edit: built without torchvision
        given["processor"] = load_processor(folder / "processor")
    try:
        pipe = loader.from_pretrained(
            folder,
            dtype=dtype,
            local_files_only=True,
            variant=variant,
            use_safetensors=True,  # never unpickle a folder's .bin weights
            **given,
            **pipeline_quantization(spec.quantize, index, dtype),  # quantize.py
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        _refuse_pickled_weights(folder, index)
        raise ModelError(f"cannot load model {folder}: {str(exc).splitlines()[0]}") from None
    # placed on the device by apply_memory_choice (big models would not fit before offload)
    fix_known_pipeline_faults(pipe, family_key)
    name = folder.name
    if "snapshots" in folder.parts:  # hub cache: models--org--name/snapshots/<rev>
        name = spec.reference.split("/")[-1]
    return LoadedModel(
        spec,
        name,
        family_key,
        is_inpaint,
        device,
        dtype,
        pipe,
        weights_file(folder, variant),
    )


def _refuse_pickled_weights(folder: Path, index: dict) -> None:
    """Say so when a component's weights are only pickles (they are never loaded)."""
    for component in index:
        files = list((folder / component).glob("*")) if (folder / component).is_dir() else []
        pickled = [f for f in files if f.suffix.lower() in PICKLE_SUFFIXES]
        if pickled and not any(f.suffix == ".safetensors" for f in files):
            raise ModelError(
                f"the {component} weights in {folder} are only pickle files ({pickled[0].name}), "
                "which can run code when loaded; use a model with .safetensors weights"
            )
