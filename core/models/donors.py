"""Where the rest of a transformer-only file comes from: a "donor", a diffusers folder of the
file's family (``--model-config``, or a repo of the family in the Hugging Face cache) that has its
text encoders, tokenizers and VAE (and Qwen-Image-Edit's processor).

A file's variant (SD 3.5 large/medium, FLUX.1 dev/schnell, FLUX.2 Klein 4B/9B) picks the donor
that suits it best; the transformer config and scheduler come from a donor of the same variant,
else (SD 3.5, FLUX.1) from the bundled config. A Klein file needs a donor of its own size: its
text encoder's width is the transformer's text input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError
from core.library.detect import FileInfo
from core.model_spec import ModelSpec
from core.models.families import family

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
    "zimage": (
        ("Tongyi-MAI/Z-Image-Turbo", "zimage", ""),
        ("Tongyi-MAI/Z-Image", "zimage", ""),
    ),
    "chroma": (
        ("lodestones/Chroma1-HD", "chroma", ""),
        ("lodestones/Chroma1-Base", "chroma", ""),
    ),
    "qwen-image": (
        ("Qwen/Qwen-Image", "qwen-image", ""),
        ("Qwen/Qwen-Image-2512", "qwen-image", ""),
    ),
    "qwen-image-edit": (
        ("Qwen/Qwen-Image-Edit-2511", "qwen-image-edit-plus", ""),
        ("Qwen/Qwen-Image-Edit-2509", "qwen-image-edit-plus", ""),
        ("Qwen/Qwen-Image-Edit", "qwen-image-edit", ""),
    ),
    "flux2-klein": (
        ("black-forest-labs/FLUX.2-klein-4B", "flux2-klein", "4B"),
        ("black-forest-labs/FLUX.2-klein-9B", "flux2-klein", "9B"),
        ("black-forest-labs/FLUX.2-klein-base-4B", "flux2-klein", "4B"),
        ("black-forest-labs/FLUX.2-klein-base-9B", "flux2-klein", "9B"),
    ),
}
_GROUPS = {
    "flux-fill": "flux",
    "flux-kontext": "flux",
    "qwen-image-edit-plus": "qwen-image-edit",
}
_CLIP_T5 = ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae")
_ONE_ENCODER = ("text_encoder", "tokenizer", "vae")
DONOR_PARTS = {
    "sd3": _CLIP_T5,
    "flux": _CLIP_T5,
    "zimage": _ONE_ENCODER,
    "chroma": _ONE_ENCODER,
    "qwen-image": _ONE_ENCODER,
    "qwen-image-edit": (*_ONE_ENCODER, "processor"),
    "flux2-klein": _ONE_ENCODER,
}
# The 2026 families: any donor of the group gives the transformer config (one architecture per
# variant), and a donor of another variant does not serve at all.
NEW_GROUPS = frozenset({"zimage", "chroma", "qwen-image", "qwen-image-edit", "flux2-klein"})
_WHAT = {
    "sd3": "CLIP-L, CLIP-G (and T5) text encoders with their tokenizers, and the VAE",
    "flux": "CLIP-L and T5-XXL text encoders with their tokenizers, and the VAE",
    "zimage": "Qwen3 text encoder with its tokenizer, and the VAE",
    "chroma": "T5-XXL text encoder with its tokenizer, and the VAE",
    "qwen-image": "Qwen2.5-VL text encoder with its tokenizer, and the VAE",
    "qwen-image-edit": "Qwen2.5-VL text encoder with its tokenizer and processor, and the VAE",
    "flux2-klein": "Qwen3 text encoder (of its size) with its tokenizer, and the VAE",
}


@dataclass(frozen=True)
class Donor:
    folder: Path  # a diffusers folder with the text encoders, tokenizers and VAE
    same_variant: bool  # its transformer config and scheduler suit the file


def donor_group(family_key: str) -> str:
    """The group of :data:`DONOR_REPOS` that serves files of ``family_key``."""
    return _GROUPS.get(family_key, family_key)


def file_variant(info: FileInfo) -> str:
    """ "v" (SD 2.x v-prediction), the SD 3.x size ("large", "medium", "sd3"), the FLUX.1
    flavour ("dev", "schnell") or the FLUX.2 Klein size ("4B", "9B"); "" when none is known."""
    if info.family == "sd2":
        return "v" if info.v_prediction else ""
    for variant in ("large", "medium", "sd3", "schnell", "dev", "4B", "9B"):
        if variant in info.notes:
            return variant
    return ""


def find_donor(spec: ModelSpec, info: FileInfo) -> Donor | None:
    """``--model-config``, else the cached repo of the family that fits the file best."""
    if spec.config:
        return Donor(Path(spec.config), True)
    group = donor_group(info.family)
    variant = file_variant(info)
    complete = [
        (folder, fam == info.family and var == variant)
        for repo, fam, var in _serving(group, variant)
        if (folder := _cached_snapshot(repo)) is not None and not missing_parts(folder, group)
    ]
    complete.sort(key=lambda found: not found[1])  # the file's own variant first
    return Donor(*complete[0]) if complete else None


def _serving(group: str, variant: str) -> tuple[tuple[str, str, str], ...]:
    """The repos of ``group`` that can serve a file of ``variant``."""
    repos = DONOR_REPOS.get(group, ())
    if group not in NEW_GROUPS or not variant:
        return repos
    return tuple(row for row in repos if row[2] in ("", variant))


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


def missing_parts(folder: Path, group: str) -> list[str]:
    """The parts a donor of ``group`` needs that ``folder`` lacks."""
    missing = []
    for part in DONOR_PARTS[group]:
        needs_weights = part in ("vae",) or part.startswith("text_encoder")
        present = _has_weights(folder / part) if needs_weights else (folder / part).is_dir()
        if not present:
            missing.append(part)
    return missing


def raise_missing_donor(path: Path, info: FileInfo) -> None:
    """The one-line error for a transformer file with no donor: what it needs, from where."""
    group = donor_group(info.family)
    serving = _serving(group, file_variant(info))
    repos = " or ".join(repo for repo, _, _ in serving[:2])
    partial = [
        f"{repo} lacks {', '.join(missing_parts(folder, group))}"
        for repo, _, _ in serving
        if (folder := _cached_snapshot(repo)) is not None
    ]
    found = f" ({'; '.join(partial)})" if partial else ""
    raise ModelError(
        f"{path.name} is a {family(info.family).label} transformer alone: its {_WHAT[group]} "
        f"must come from {repos} in the Hugging Face cache, which has none{found}; download one "
        "with 'python main.py models download REPO', or give a diffusers folder with "
        "--model-config"
    )
