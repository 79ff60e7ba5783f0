"""Single ``.safetensors`` files → pipelines, offline.

SD 1.x, 2.x and XL checkpoints hold everything: they load with the family's bundled config
folder (or ``--model-config``). SD 3.5 checkpoints hold the transformer, both CLIPs and the VAE,
rarely T5: T5 comes from a matching repo in the HF cache when there is one, else the model runs
without it. FLUX files (and SD 3.5 transformer-only files) hold the transformer alone: the text
encoders and VAE come from a FLUX (SD 3.5) repo in the HF cache, or from ``--model-config``
(``core.models.donors``). So do the 2026 families' files (FLUX.2 Klein, Chroma, Z-Image,
Qwen-Image and -Edit), whose transformer config comes from that repo too (no bundled configs).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.library.detect import FileInfo, read_header
from core.library.key_rules import QWEN_2511_MARKER
from core.model_spec import ModelSpec
from core.models.device import dtype_for_family
from core.models.donors import (
    NEW_GROUPS,
    Donor,
    donor_group,
    file_variant,
    find_donor,
    raise_missing_donor,
)
from core.models.families import family
from core.models.files import bundled_config_for, checkpoint_info
from core.models.loaded import LoadedModel
from core.models.pipeline_fixes import fix_known_pipeline_faults
from core.models.qwen_processor import load_processor

log = logging.getLogger(__name__)


def _load_errors() -> tuple[type[Exception], ...]:
    """What diffusers raises for a file it cannot map onto the config (never a ModelError)."""
    from diffusers.loaders.single_file_utils import SingleFileComponentError

    return (OSError, ValueError, KeyError, RuntimeError, TypeError, SingleFileComponentError)


def load_single_file(spec: ModelSpec, path: Path, device: str, dtype: Any) -> LoadedModel:
    """Load the single-file model at ``path`` offline, whatever its family (see module doc)."""
    info = checkpoint_info(path)
    dtype = dtype_for_family(family(info.family), spec.dtype, dtype)
    try:
        if info.family in ("sd1", "sd2", "sdxl"):
            pipe = _load_unet_checkpoint(spec, path, info, dtype)
        elif info.family == "sd3" and info.kind == "checkpoint":
            pipe = _load_sd3_checkpoint(spec, path, info, dtype)
        else:
            pipe = _load_transformer_file(spec, path, info, dtype)
    except _load_errors() as exc:
        raise ModelError(f"cannot load {path.name}: {str(exc).strip().splitlines()[0]}") from None
    if getattr(pipe, "safety_checker", None) is not None:
        pipe.safety_checker = None
    # placed on the device by apply_memory_choice (big models would not fit before offload)
    is_inpaint = info.is_inpaint or family(info.family).img2img_pipeline is None
    return LoadedModel(spec, path.stem, info.family, is_inpaint, device, dtype, pipe, path)


def _pipeline_class(info: FileInfo) -> Any:
    import diffusers

    fam = family(info.family)
    inpaint = info.is_inpaint or fam.img2img_pipeline is None
    return getattr(diffusers, str(fam.inpaint_pipeline if inpaint else fam.img2img_pipeline))


def _config(spec: ModelSpec, info: FileInfo) -> Path:
    if spec.config:
        return Path(spec.config)
    folder = bundled_config_for(info.family, info.is_inpaint, file_variant(info))
    if folder is None:
        raise ModelError(f"no bundled config for {info.family}; give one with --model-config DIR")
    return folder


def _load_unet_checkpoint(spec: ModelSpec, path: Path, info: FileInfo, dtype: Any) -> Any:
    config = _config(spec, info)
    pipe = _pipeline_class(info).from_single_file(
        str(path), config=str(config), local_files_only=True, dtype=dtype
    )
    if info.v_prediction:
        _use_v_prediction(pipe, zero_snr="ztsnr" in info.notes or info.family == "sdxl")
    return pipe


def _use_v_prediction(pipe: Any, zero_snr: bool) -> None:
    """The file says v-prediction: so must the scheduler (SDXL v-prediction fine-tunes are
    trained with zero terminal SNR, sampled with trailing timesteps)."""
    changes: dict[str, Any] = {"prediction_type": "v_prediction"}
    if zero_snr:
        changes.update(rescale_betas_zero_snr=True, timestep_spacing="trailing")
    pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, **changes)


def _load_sd3_checkpoint(spec: ModelSpec, path: Path, info: FileInfo, dtype: Any) -> Any:
    """The file has the transformer, CLIP-L, CLIP-G and the VAE, maybe T5. T5 also needs its
    tokenizer, which no file carries: from a cached SD 3.5 repo, else the model runs without."""
    donor = find_donor(spec, info)
    config = donor.folder if donor else _config(spec, info)
    transformer = _transformer_from_file(path, info, _transformer_config(spec, info, donor), dtype)
    without_t5: dict[str, Any] = {}
    has_t5_weights = "no T5" not in info.notes or _has_weights(config / "text_encoder_3")
    if not (config / "tokenizer_3").is_dir() or not has_t5_weights:
        without_t5 = {"text_encoder_3": None, "tokenizer_3": None}
        log.warning("%s: running SD 3.5 without its T5 text encoder (%s)", path.name, _NO_T5)
    pipe = _pipeline_class(info).from_single_file(
        str(path),
        config=str(config),
        local_files_only=True,
        dtype=dtype,
        transformer=transformer,
        **without_t5,
    )
    _tie_t5_embeddings(pipe.text_encoder_3)
    return pipe


def _tie_t5_embeddings(t5: Any) -> None:
    """Files store T5's token embedding once (``shared``); diffusers' single-file loader leaves
    the encoder's tied copy unset (on the meta device): tie it again."""
    if t5 is not None and t5.encoder.embed_tokens.weight.is_meta:
        t5.set_input_embeddings(t5.get_input_embeddings())


_NO_T5 = "no SD 3.5 repo with T5 in the HF cache; prompts are followed less closely"


def _load_transformer_file(spec: ModelSpec, path: Path, info: FileInfo, dtype: Any) -> Any:
    """A transformer alone (FLUX, SD 3.5 and the 2026 families): the rest of the pipeline from
    ``--model-config`` or a cached repo of the family, the transformer config and scheduler of
    the file's variant."""
    donor = find_donor(spec, info)
    if donor is None:
        raise_missing_donor(path, info)
    assert donor is not None
    new = donor_group(info.family) in NEW_GROUPS
    config = donor.folder if new else _transformer_config(spec, info, donor)
    if not (config / "transformer" / "config.json").is_file():
        raise ModelError(f"{config} has no transformer/config.json to load {path.name} with")
    transformer = _transformer_from_file(path, info, config, dtype)
    extra: dict[str, Any] = {}
    if info.family == "sd3" and not (donor.folder / "tokenizer_3").is_dir():
        extra = {"text_encoder_3": None, "tokenizer_3": None}
        log.warning("%s: running SD 3.5 without its T5 text encoder (%s)", path.name, _NO_T5)
    if family(info.family).edit and (donor.folder / "processor").is_dir():
        extra["processor"] = load_processor(donor.folder / "processor")  # no torchvision
    pipe = _pipeline_class(info).from_pretrained(
        donor.folder,
        transformer=transformer,
        dtype=dtype,
        local_files_only=True,
        use_safetensors=True,  # never unpickle a donor's .bin weights
        **extra,
    )
    fix_known_pipeline_faults(pipe, info.family)
    if not donor.same_variant and not new:  # e.g. a schnell file with FLUX.1-dev's encoders
        scheduler = type(pipe.scheduler)
        pipe.scheduler = scheduler.from_config(
            scheduler.load_config(_config(spec, info) / "scheduler")
        )
    return pipe


def _transformer_config(spec: ModelSpec, info: FileInfo, donor: Donor | None) -> Path:
    if donor is not None and donor.same_variant and (donor.folder / "transformer").is_dir():
        return donor.folder
    return _config(spec, info)


# The transformer class of each family whose files hold it alone (FLUX.1's otherwise); each has
# diffusers' from_single_file, which maps the original key layout onto its own.
_TRANSFORMER_CLASSES = {
    "sd3": "SD3Transformer2DModel",
    "zimage": "ZImageTransformer2DModel",
    "chroma": "ChromaTransformer2DModel",
    "qwen-image": "QwenImageTransformer2DModel",
    "qwen-image-edit": "QwenImageTransformer2DModel",
    "flux2-klein": "Flux2Transformer2DModel",
}
_COMFY_PREFIXES = ("model.diffusion_model.", "diffusion_model.")


def _transformer_from_file(path: Path, info: FileInfo, config: Path, dtype: Any) -> Any:
    import diffusers

    group = donor_group(info.family)
    cls = getattr(diffusers, _TRANSFORMER_CLASSES.get(group, "FluxTransformer2DModel"))
    source: Any = str(path)
    if group in NEW_GROUPS:
        source = _without_comfy_additions(path)
    return cls.from_single_file(
        source,
        config=str(config),
        subfolder="transformer",
        local_files_only=True,
        dtype=dtype,
        **_release_config(info),
    )


def _release_config(info: FileInfo) -> dict[str, Any]:
    """What the file's release changes in the donor's transformer config: Qwen-Image-Edit-2511
    conditions on its reference pictures at timestep zero (``zero_cond_t``), no other Qwen
    release does; a donor of another release serves (Qwen-Image-Edit-2511 is the first the
    Edit group looks for), so the file's own release sets it when the file tells it."""
    if info.family in ("qwen-image", "qwen-image-edit"):
        return {"zero_cond_t": False}
    if info.family == "qwen-image-edit-plus" and ({"2509", "2511"} & set(info.notes)):
        return {"zero_cond_t": "2511" in info.notes}
    return {}


def _without_comfy_additions(path: Path) -> Any:
    """``path`` itself, or its tensors without ComfyUI's key prefix (not every converter of the
    2026 families strips it; Qwen-Image's has no converter at all) and its marker tensors."""
    keys = [key for key in read_header(path) if key != "__metadata__"]
    prefix = next((p for p in _COMFY_PREFIXES if keys and all(k.startswith(p) for k in keys)), "")
    if not prefix and QWEN_2511_MARKER not in keys:
        return str(path)
    from safetensors.torch import load_file

    return {
        key[len(prefix) :]: value
        for key, value in load_file(path).items()
        if key[len(prefix) :] != QWEN_2511_MARKER
    }


def _has_weights(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.safetensors"))
