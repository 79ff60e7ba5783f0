"""Where an IP-Adapter's files are: the adapter weights and the image encoder it was trained with.

A reference names a ``.safetensors`` adapter file, a folder holding one, a hub repo (``org/name``:
the family's default adapter of ``h94/IP-Adapter``'s layout, or ``org/name/sub/file.safetensors``)
or an IP-Adapter's name in the scanned model folders.
Hub files come from the Hugging Face cache first, downloaded only when the hub is not offline.
The image encoder is the ``image_encoder/`` folder next to the adapter, in its parent, or in a
sibling folder (``models/image_encoder`` for the ViT-H SDXL adapters), whichever has the
embedding size the adapter's projection takes. Reads no torch.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from core.conditioning.control_models import find_in_library
from core.errors import ModelError
from core.model_spec import HUB_ID, PICKLE_SUFFIXES

# The adapter a bare hub repo id means, per family: (file in the repo, its image encoder folder).
DEFAULT_HUB_FILES = {
    "sd1": ("models/ip-adapter_sd15.safetensors", "models/image_encoder"),
    "sdxl": ("sdxl_models/ip-adapter_sdxl_vit-h.safetensors", "models/image_encoder"),
}


@dataclass(frozen=True)
class AdapterFiles:
    """An adapter's weights file and the image encoder folder it needs."""

    weights: Path
    encoder: Path

    @property
    def load_arguments(self) -> tuple[str, str, str]:
        """(folder, subfolder, weight_name) for diffusers' ``load_ip_adapter``."""
        return str(self.weights.parent), "", self.weights.name


def resolve_adapter(reference: str, family: str) -> AdapterFiles:
    """The files of the IP-Adapter named ``reference`` for a ``family`` model."""
    ref = reference.strip()
    path = Path(ref).expanduser()
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(
            f"{ref}: {path.suffix} files are Python pickles that can run code when loaded; "
            "use a .safetensors IP-Adapter"
        )
    if path.is_dir():
        return _with_encoder(_only_adapter_in(path))
    if path.is_file():
        if path.suffix.lower() != ".safetensors":
            raise ModelError(f"{ref}: unsupported IP-Adapter file (expected .safetensors)")
        return _with_encoder(path)
    parts = ref.split("/")
    if len(parts) >= 2 and HUB_ID.match("/".join(parts[:2])) and not ref.startswith((".", "~")):
        return _from_hub("/".join(parts[:2]), "/".join(parts[2:]), family)
    found = find_in_library(ref, "ip_adapter")
    if found is not None:
        return resolve_adapter(str(found), family)
    raise ModelError(
        f"no IP-Adapter at '{ref}' (a .safetensors file, a folder, a hub id or the name of one "
        "in the scanned model folders)"
    )


def _only_adapter_in(folder: Path) -> Path:
    files = sorted(folder.glob("*.safetensors"))
    if len(files) == 1:
        return files[0]
    if not files:
        raise ModelError(f"{folder} holds no .safetensors IP-Adapter")
    names = ", ".join(f.name for f in files[:4])
    raise ModelError(f"{folder} holds several IP-Adapters ({names}…): name the file")


def _header(path: Path) -> dict:
    """A safetensors file's header (tensor names → dtype, shape), read without torch."""
    try:
        with path.open("rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            return dict(json.loads(fh.read(size)))
    except (OSError, ValueError, struct.error) as exc:
        raise ModelError(f"cannot read the IP-Adapter {path.name}: {exc}") from None


def embedding_size(weights: Path) -> tuple[int, str]:
    """The image-encoder output the adapter's projection takes: (its width, the encoder config
    field that gives it) — the projected embedding for plain adapters, the hidden states for
    Plus ones; (0, "") when unknown."""
    header = _header(weights)
    if not any(k.startswith(("image_proj.", "ip_adapter.")) for k in header):
        raise ModelError(f"{weights.name} is not an IP-Adapter (no image_proj/ip_adapter keys)")
    if "image_proj.proj.weight" in header:
        return int(header["image_proj.proj.weight"]["shape"][-1]), "projection_dim"
    for key in ("image_proj.proj_in.weight", "image_proj.proj.0.weight"):
        if key in header:
            return int(header[key]["shape"][-1]), "hidden_size"
    return 0, ""


def _encoder_width(folder: Path, field: str) -> int:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    return int(config.get(field, config.get("vision_config", {}).get(field, 0)))


def _with_encoder(weights: Path) -> AdapterFiles:
    size, field = embedding_size(weights)
    here, parent = weights.parent, weights.parent.parent
    candidates = [here / "image_encoder", parent / "image_encoder"]
    candidates += sorted(parent.glob("*/image_encoder"))
    found = [c for c in dict.fromkeys(candidates) if (c / "config.json").is_file()]
    for folder in found:
        if size == 0 or _encoder_width(folder, field) == size:
            return AdapterFiles(weights, folder)
    raise ModelError(
        f"the image encoder of the IP-Adapter {weights.name} was not found (an image_encoder/ "
        f"folder next to it or in {parent.name}/ with {size}-wide embeddings)"
    )


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _from_hub(repo_id: str, file: str, family: str) -> AdapterFiles:
    from huggingface_hub import snapshot_download

    if not file:
        if family not in DEFAULT_HUB_FILES:
            raise ModelError(f"name the IP-Adapter file in {repo_id} (repo/sub/file.safetensors)")
        file = DEFAULT_HUB_FILES[family][0]
    if not file.endswith(".safetensors"):
        raise ModelError(f"{repo_id}/{file}: IP-Adapters are loaded from .safetensors files")
    top = file.split("/")[0] if "/" in file else ""
    patterns = [file, "*image_encoder/*.json", "*image_encoder/*.safetensors"]
    if top:
        patterns = [file, f"{top}/image_encoder/*", "models/image_encoder/*"]
    try:
        folder = snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True)
    except Exception:  # not cached (the error types differ between hub versions)
        if _offline():
            raise ModelError(
                f"the IP-Adapter {repo_id}/{file} is not in the Hugging Face cache and the hub "
                "is offline (HF_HUB_OFFLINE)"
            ) from None
        try:
            folder = snapshot_download(repo_id, allow_patterns=patterns)
        except Exception as exc:  # network and hub errors differ between hub versions
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(f"downloading the IP-Adapter {repo_id} failed: {first}") from None
    weights = Path(folder) / file
    if not weights.is_file():
        raise ModelError(f"{repo_id} has no {file}")
    return _with_encoder(weights)
