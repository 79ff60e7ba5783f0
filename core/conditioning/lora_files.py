"""LoRA files before any weights load: the prompt's ``<lora:name:weight>`` tags, resolving a name
or a path to a ``.safetensors`` file, and whether a file suits the loaded model's family.

Nothing here imports torch: the checks read the file's header only (``core.library.detect``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.conditioning.specs import LoraSpec
from core.errors import InvalidRequest, ModelError
from core.library.detect import detect_file, read_header
from core.library.key_rules import CROSS_DIM_FAMILY, Keys
from core.model_spec import PICKLE_SUFFIXES

# A1111's extra-network syntax: <lora:name>, <lora:name:0.8>, <lora:name:0.8:0.5> (the text
# encoder's and the UNet's weights; the first one is used), also <lyco:…> for LyCORIS files.
LORA_TAG = re.compile(r"<(?:lora|lyco):([^:>]+)(?::([^:>]*))?(?::[^>]*)?>", re.IGNORECASE)
# The model families a LoRA detected for a family (its key) may load on; a family not listed
# takes its own LoRAs only. Names cannot tell a Chroma LoRA from a FLUX.1 one, nor FLUX.2's
# original layout from FLUX.1's, so those are left to the loader's shape check.
LORA_FITS = {
    "flux": ("flux", "flux-fill", "flux-kontext", "chroma", "flux2-klein"),
    "qwen-image": ("qwen-image", "qwen-image-edit", "qwen-image-edit-plus"),
}


@dataclass(frozen=True)
class LoraFile:
    """A LoRA resolved to its file: ``name`` as the user wrote it (or the file's stem)."""

    name: str
    path: Path
    weight: float


def split_lora_tags(prompt: str) -> tuple[str, list[LoraSpec]]:
    """The prompt without its ``<lora:name:weight>`` tags, and the tags as LoraSpecs (weight 1.0
    when none is written). Raises InvalidRequest for a weight that is not a number."""
    specs: list[LoraSpec] = []

    def take(match: re.Match[str]) -> str:
        name, weight = match.group(1).strip(), (match.group(2) or "").strip()
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise InvalidRequest(f"LoRA tag {match.group(0)}: '{weight}' is not a weight") from None
        specs.append(LoraSpec(name, value))
        return " "

    text = LORA_TAG.sub(take, prompt)
    text = re.sub(r"[ \t]*,([ \t]*,)+", ",", text)  # "a, <lora:x>, b" → "a, b"
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip().strip(",").strip(), specs


def requested_loras(prompt: str, loras: tuple[LoraSpec, ...]) -> list[LoraSpec]:
    """The request's LoRAs followed by the prompt's tags, unresolved."""
    return [*loras, *split_lora_tags(prompt)[1]]


def resolve_lora(spec: LoraSpec) -> LoraFile:
    """The file for ``spec.path``: an existing path, else a name in the scanned LoRA folders.

    Raises ModelError (one line) for a missing LoRA or a pickle file.
    """
    given = spec.path.strip()
    path = Path(given).expanduser()
    found = path if path.is_file() else _find_in_library(given)
    if found is None:
        raise ModelError(f"no LoRA named '{given}' in the scanned folders or as a file")
    if found.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(
            f"{found.name} is a Python pickle ({found.suffix} file), which can run code when "
            "loaded; use the .safetensors version of this LoRA"
        )
    name = given if found != path else found.stem
    return LoraFile(name, found.resolve(), float(spec.weight))


def _find_in_library(name: str) -> Path | None:
    try:
        from core.library.registry import ModelLibrary
    except ImportError:  # no scanned folders in this build
        return None
    found = ModelLibrary().find_lora(name)
    return Path(found) if found is not None else None


def check_lora_suits(lora: LoraFile, family_key: str, cross_width: int | None) -> None:
    """Raise ModelError when ``lora`` was made for another family than the loaded model's
    (``cross_width``: the UNet's cross-attention width, None for transformer models)."""
    info = detect_file(lora.path)
    model_label = family_label(family_key)
    if info.kind not in ("lora", "unknown"):
        raise ModelError(f"{lora.path.name} is a {info.kind} file, not a LoRA")
    lora_family = info.family
    if lora_family and family_key not in LORA_FITS.get(lora_family, (lora_family,)):
        raise _wrong_family(lora, lora_family, model_label)
    width = lora_cross_width(lora.path)
    if cross_width is None and width is not None:
        raise ModelError(
            f"{lora.path.name} is a LoRA for a UNet model (SD 1.x, SD 2.x or SDXL); "
            f"the loaded model is {model_label}"
        )
    if cross_width is not None and width is not None and width != cross_width:
        family = lora_family or CROSS_DIM_FAMILY.get(width, "")
        if family and family != family_key:
            raise _wrong_family(lora, family, model_label)
        raise ModelError(
            f"{lora.path.name} is a LoRA for another model (cross-attention width {width}; "
            f"the loaded {model_label} model has {cross_width})"
        )


def family_label(family_key: str) -> str:
    """The family's label as the GUI shows it ("FLUX.1", "Qwen-Image"…)."""
    # Imported here: the window reads this module (the <lora:…> tag) and must not load models.
    from core.models.families import FAMILIES

    info = FAMILIES.get(family_key)
    return info.label if info is not None else family_key


def _wrong_family(lora: LoraFile, family: str, model_label: str) -> ModelError:
    label = family_label(family)
    article = "an" if label.startswith("SD") else "a"
    return ModelError(
        f"{lora.path.name} is {article} {label} LoRA; the loaded model is {model_label}"
    )


def lora_cross_width(path: Path) -> int | None:
    """The width a LoRA's cross-attention key projections read (the text embedding's width:
    768 for SD 1.x, 1024 for SD 2.x, 2048 for SDXL), or None when it has none."""
    header = read_header(path)
    keys = Keys({k: v for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)})
    key = keys.first(
        lambda k: (
            ("attn2.to_k" in k or "attn2_to_k" in k) and (".lora_A." in k or ".lora_down." in k)
        )
    )
    if key is None:
        return None
    shape = keys.shape(key)
    return shape[-1] if shape else None
