"""Single ``.safetensors`` files → pipelines, offline.

SD 1.x, 2.x and XL checkpoints hold everything: they load with the family's bundled config
folder (or ``--model-config``). SD 3.5 checkpoints hold the transformer, both CLIPs and the VAE,
rarely T5: T5 comes from a matching repo in the HF cache when there is one, else the model runs
without it. FLUX files (and SD 3.5 transformer-only files) hold the transformer alone: the text
encoders and VAE come from a FLUX (SD 3.5) repo in the HF cache, or from ``--model-config``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.library.detect import FileInfo
from core.model_spec import ModelSpec
from core.models.families import family
from core.models.files import bundled_config_for, checkpoint_info
from core.models.loaded import LoadedModel

log = logging.getLogger(__name__)

# Repos whose text encoders, tokenizers and VAE serve a transformer file: (repo, family, variant).
# Any repo of the group serves; one of the file's own variant also gives the transformer config.
DONOR_REPOS = {
    "sd3": (
        ("stabilityai/stable-diffusion-3.5-large", "sd3", "large"),
        ("stabilityai/stable-diffusion-3.5-medium", "sd3", "medium"),
        ("stabilityai/stable-diffusion-3.5-large-turbo", "sd3", "large"),
        ("stabilityai/stable-diffusion-3-medium-diffusers", "sd3", "sd3"),
    ),
    "flux": (
        ("black-forest-labs/FLUX.1-dev", "flux", "dev"),
        ("black-forest-labs/FLUX.1-schnell", "flux", "schnell"),
        ("black-forest-labs/FLUX.1-Fill-dev", "flux-fill", "dev"),
        ("black-forest-labs/FLUX.1-Kontext-dev", "flux-kontext", "dev"),
    ),
}
_DONOR_PARTS = {
    "sd3": ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae"),
    "flux": ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae"),
}


def _load_errors() -> tuple[type[Exception], ...]:
    """What diffusers raises for a file it cannot map onto the config (never a ModelError)."""
    from diffusers.loaders.single_file_utils import SingleFileComponentError

    return (OSError, ValueError, KeyError, RuntimeError, TypeError, SingleFileComponentError)


def load_single_file(spec: ModelSpec, path: Path, device: str, dtype: Any) -> LoadedModel:
    """Load the single-file model at ``path`` offline, whatever its family (see module doc)."""
    info = checkpoint_info(path)
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


def _variant(info: FileInfo) -> str:
    """ "v" (SD 2.x v-prediction), the SD 3.x size ("large", "medium", "sd3") or the FLUX.1
    flavour ("dev", "schnell"): it picks the bundled config."""
    if info.family == "sd2":
        return "v" if info.v_prediction else ""
    for variant in ("large", "medium", "sd3", "schnell", "dev"):
        if variant in info.notes:
            return variant
    return ""


def _config(spec: ModelSpec, info: FileInfo) -> Path:
    if spec.config:
        return Path(spec.config)
    folder = bundled_config_for(info.family, info.is_inpaint, _variant(info))
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
    donor = _donor(spec, info)
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
    """A FLUX or SD 3.5 transformer: the rest of the pipeline from ``--model-config`` or a
    cached repo of the family, the transformer config and scheduler of the file's variant."""
    donor = _donor(spec, info)
    if donor is None:
        _raise_missing_donor(path, info)
    assert donor is not None
    transformer = _transformer_from_file(path, info, _transformer_config(spec, info, donor), dtype)
    extra: dict[str, Any] = {}
    if info.family == "sd3" and not (donor.folder / "tokenizer_3").is_dir():
        extra = {"text_encoder_3": None, "tokenizer_3": None}
        log.warning("%s: running SD 3.5 without its T5 text encoder (%s)", path.name, _NO_T5)
    pipe = _pipeline_class(info).from_pretrained(
        donor.folder,
        transformer=transformer,
        dtype=dtype,
        local_files_only=True,
        use_safetensors=True,  # never unpickle a donor's .bin weights
        **extra,
    )
    if not donor.same_variant:  # e.g. a schnell file with FLUX.1-dev's encoders
        scheduler = type(pipe.scheduler)
        pipe.scheduler = scheduler.from_config(
            scheduler.load_config(_config(spec, info) / "scheduler")
        )
    return pipe


@dataclass(frozen=True)
class _Donor:
    folder: Path  # a diffusers folder with the text encoders, tokenizers and VAE
    same_variant: bool  # its transformer config and scheduler suit the file


def _donor(spec: ModelSpec, info: FileInfo) -> _Donor | None:
    """``--model-config``, else the cached repo of the family that fits the file best."""
    if spec.config:
        return _Donor(Path(spec.config), True)
    group = "sd3" if info.family == "sd3" else "flux"
    variant = _variant(info)
    complete = [
        (folder, fam == info.family and var == variant)
        for repo, fam, var in DONOR_REPOS[group]
        if (folder := _cached_snapshot(repo)) is not None and not _missing_parts(folder, group)
    ]
    complete.sort(key=lambda found: not found[1])  # the file's own variant first
    return _Donor(*complete[0]) if complete else None


def _transformer_config(spec: ModelSpec, info: FileInfo, donor: _Donor | None) -> Path:
    if donor is not None and donor.same_variant and (donor.folder / "transformer").is_dir():
        return donor.folder
    return _config(spec, info)


def _transformer_from_file(path: Path, info: FileInfo, config: Path, dtype: Any) -> Any:
    import diffusers

    sd3 = info.family == "sd3"
    cls = diffusers.SD3Transformer2DModel if sd3 else diffusers.FluxTransformer2DModel
    return cls.from_single_file(
        str(path), config=str(config), subfolder="transformer", local_files_only=True, dtype=dtype
    )


def _has_weights(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.safetensors"))


def _cached_snapshot(repo: str) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(repo, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    return folder if (folder / "model_index.json").is_file() else None


def _missing_parts(folder: Path, group: str) -> list[str]:
    missing = []
    for part in _DONOR_PARTS[group]:
        needs_weights = not part.startswith("tokenizer")
        present = _has_weights(folder / part) if needs_weights else (folder / part).is_dir()
        if not present:
            missing.append(part)
    return missing


def _raise_missing_donor(path: Path, info: FileInfo) -> None:
    group = "sd3" if info.family == "sd3" else "flux"
    what = (
        "CLIP-L and T5-XXL text encoders with their tokenizers, and the VAE"
        if group == "flux"
        else "CLIP-L, CLIP-G (and T5) text encoders with their tokenizers, and the VAE"
    )
    repos = " or ".join(repo for repo, _, _ in DONOR_REPOS[group][:2])
    partial = [
        f"{repo} lacks {', '.join(_missing_parts(folder, group))}"
        for repo, _, _ in DONOR_REPOS[group]
        if (folder := _cached_snapshot(repo)) is not None
    ]
    found = f" ({'; '.join(partial)})" if partial else ""
    raise ModelError(
        f"{path.name} is a {family(info.family).label} transformer alone: its {what} must come "
        f"from {repos} in the Hugging Face cache, which has none{found}; download one with "
        "'python main.py models download REPO', or give a diffusers folder with --model-config"
    )
