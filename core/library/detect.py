"""What a model file is, read from its ``.safetensors`` header alone (no torch, no weights read).

The header is 8 bytes of little-endian length, then that many bytes of JSON naming each tensor's
dtype, shape and byte range. The key names and a few shapes tell a checkpoint from a LoRA, a
ControlNet, a VAE, an IP-Adapter or a text encoder, and which family it belongs to
(``core.library.key_rules``). Unreadable, truncated and pickle files raise a one-line ModelError.
"""

from __future__ import annotations

import json
import re
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.library import key_rules as rules
from core.library.key_rules import Keys
from core.model_spec import PICKLE_SUFFIXES

MAX_HEADER_BYTES = 100_000_000  # real headers are a few MB at most
_ZIP_MAGIC, _PICKLE_MAGIC = b"PK\x03\x04", b"\x80"
_PICKLE_PROTOCOLS = (b"\x02", b"\x03", b"\x04", b"\x05")  # PROTO opcode, then its version


@dataclass(frozen=True)
class FileInfo:
    """What a model file is. ``family`` is a key of ``core.models.families.FAMILIES`` or ""."""

    kind: str  # checkpoint | lora | controlnet | vae | unet | text_encoder | ip_adapter | unknown
    family: str
    is_inpaint: bool = False
    v_prediction: bool = False
    notes: tuple[str, ...] = ()  # e.g. "fp16", "EMA-only", "pruned", "union"


def read_header(path: Path) -> dict[str, Any]:
    """The header of a ``.safetensors`` file: ``{key: {"dtype", "shape", "data_offsets"}}``
    (plus ``"__metadata__"``). Raises ModelError when the file is not a complete safetensors file.
    """
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a pipe would block the read forever
            raise ModelError(f"{path.name} is not a regular file")
        size = info.st_size
        with open(path, "rb") as fh:
            prefix = fh.read(8)
            _refuse_too_short(path, prefix, size)
            (length,) = struct.unpack("<Q", prefix)
            if length > MAX_HEADER_BYTES or 8 + length > size:
                _refuse_pickle(path, prefix)
            if length > MAX_HEADER_BYTES:
                raise ModelError(
                    f"{path.name} is not a valid .safetensors file "
                    f"(its header length {length} bytes is impossible)"
                )
            if 8 + length > size:
                raise ModelError(
                    f"{path.name} is truncated (header says {length} bytes, "
                    f"the file has {size - 8} after the length)"
                )
            raw = fh.read(length)
    except OSError as exc:
        raise ModelError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if not raw.lstrip().startswith(b"{"):
        _refuse_pickle(path, prefix)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ModelError(
            f"{path.name} is not a valid .safetensors file (its header is not JSON)"
        ) from None
    except RecursionError:
        raise ModelError(
            f"{path.name} is not a valid .safetensors file (its header nests too deeply)"
        ) from None
    if not isinstance(header, dict):
        raise ModelError(f"{path.name} is not a valid .safetensors file (header is not a table)")
    _check_complete(path, header, size - 8 - length)
    return header


def _refuse_too_short(path: Path, prefix: bytes, size: int) -> None:
    if size == 0:
        raise ModelError(f"{path.name} is empty (0 bytes)")
    if len(prefix) < 8:
        raise ModelError(f"{path.name} is truncated ({size} bytes: not even a header)")


def _refuse_pickle(path: Path, prefix: bytes) -> None:
    """Called once the bytes are not a safetensors header: say so if they are a pickle (a zip
    archive, as torch.save writes, or a bare pickle stream)."""
    bare_pickle = prefix[:1] == _PICKLE_MAGIC and prefix[1:2] in _PICKLE_PROTOCOLS
    if prefix.startswith(_ZIP_MAGIC) or bare_pickle:
        raise ModelError(
            f"{path.name} is a Python pickle (a PyTorch .ckpt/.pt file), which can run code when "
            "loaded; use the .safetensors version of this model"
        )


def _check_complete(path: Path, header: dict[str, Any], data_bytes: int) -> None:
    """The tensors' byte ranges must fit in the file (an interrupted download does not)."""
    end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            end = max(end, int(entry["data_offsets"][1]))
        except (TypeError, KeyError, IndexError, ValueError):
            raise ModelError(
                f"{path.name} is not a valid .safetensors file (entry {key!r} has no byte range)"
            ) from None
    if end > data_bytes:
        raise ModelError(
            f"{path.name} is truncated (header says {end} bytes of tensors, "
            f"the file has {data_bytes})"
        )


def detect_file(path: Path) -> FileInfo:
    """What ``path`` is (kind, family, variants), from its header's key names and shapes.

    Raises ModelError for pickles and for unreadable, corrupt or truncated files; a readable file
    with no recognisable keys is ``FileInfo("unknown", "")``.
    """
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(
            f"{path.name} is a Python pickle ({path.suffix} file), which can run code when "
            "loaded; use the .safetensors version of this model"
        )
    header = read_header(path)
    metadata = header.get("__metadata__") or {}
    tensors = {k: v for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
    info = classify(Keys(tensors), metadata if isinstance(metadata, dict) else {})
    return _named_variant(info, path.name.lower())


def _named_variant(info: FileInfo, name: str) -> FileInfo:
    """Families whose files have another's keys and shapes, told by the file's name: FLUX.1
    Kontext (FLUX.1-dev's), Qwen-Image-Edit and Edit-Plus 2509/2511 (Qwen-Image's; ComfyUI's
    Edit-2511 files also carry a marker, the "2511" note). Edit-Plus files note their release
    ("2509", "2511") when the name or the marker tells it: the loader sets the release's
    conditioning from it."""
    if info.family == "flux" and "kontext" in name:
        return FileInfo(info.kind, "flux-kontext", notes=(*info.notes, "Kontext by name"))
    if info.family == "qwen-image" and ("edit" in name or "2511" in info.notes):
        named = re.search(r"edit[-_ ]?(plus|2509|2511)", name)
        release = [named[1]] if named and named[1] not in ("plus", *info.notes) else []
        plus = named is not None or "2511" in info.notes
        family = "qwen-image-edit-plus" if plus else "qwen-image-edit"
        how = "Edit by name" if "edit" in name else "Edit-2511 by its marker"
        return FileInfo(info.kind, family, notes=(*info.notes, *release, how))
    return info


def classify(keys: Keys, metadata: dict[str, Any]) -> FileInfo:
    """The FileInfo of a header's tensors (``keys``) and its ``__metadata__``."""
    precision = rules.precision_notes(keys)
    if rules.is_lora(keys):
        return FileInfo("lora", rules.lora_family(keys), notes=_notes(precision))
    if rules.is_ip_adapter(keys):
        return FileInfo("ip_adapter", rules.ip_adapter_family(keys), notes=_notes(precision))
    if rules.is_controlnet(keys):
        union = ["union"] if keys.any_contains(*rules.CONTROL_UNION_MARKERS) else []
        return FileInfo("controlnet", rules.controlnet_family(keys), notes=_notes(precision, union))
    if rules.is_ldm_unet(keys):
        family, inpaint = rules.ldm_unet_family(keys)
        whole = keys.any_prefix("first_stage_model.", "cond_stage_model.", "conditioner.")
        extra = rules.ema_notes(keys) + (["refiner"] if _is_refiner(keys) else [])
        extra += ["ztsnr"] if keys.has("ztsnr") else []
        v_pred = _v_prediction(keys, metadata)
        kind = "checkpoint" if whole else "unet"
        return FileInfo(kind, family, inpaint, v_pred, _notes(precision, extra))
    if (transformer_2026 := rules.new_transformer_family(keys)) is not None:
        family, extra = transformer_2026
        return FileInfo("unet", family, notes=_notes(precision, extra))
    if (prefix := rules.sd3_prefix(keys)) is not None:
        size = rules.sd3_size(keys, prefix + "joint_blocks.")
        encoders = [
            n for n in ("clip_l", "clip_g", "t5xxl") if keys.any_prefix(f"text_encoders.{n}.")
        ]
        whole = keys.any_prefix("first_stage_model.") and bool(encoders)
        extra = [size] + ([] if not whole or "t5xxl" in encoders else ["no T5"])
        return FileInfo("checkpoint" if whole else "unet", "sd3", notes=_notes(precision, extra))
    if (prefix := rules.flux_prefix(keys)) is not None:
        family, extra = rules.flux_family(keys, prefix)
        whole = keys.any_prefix("vae.", "first_stage_model.") and keys.any_prefix("text_encoders.")
        kind = "checkpoint" if whole else "unet"
        return FileInfo(kind, family, family == "flux-fill", notes=_notes(precision, extra))
    if (found := rules.diffusers_unet_family(keys)) is not None:
        family, inpaint = found
        v_pred = _v_prediction(keys, metadata)
        return FileInfo("unet", family, inpaint, v_pred, _notes(precision, ["diffusers layout"]))
    if (transformer := rules.diffusers_transformer_family(keys)) is not None:
        family, extra = transformer
        notes = _notes(precision, [*extra, "diffusers layout"])
        return FileInfo("unet", family, family == "flux-fill", notes=notes)
    if rules.is_vae(keys):
        return FileInfo("vae", "", notes=_notes(precision, rules.vae_notes(keys)))
    if (encoder := rules.text_encoder_name(keys)) is not None:
        return FileInfo("text_encoder", "", notes=_notes(precision, [encoder]))
    return FileInfo("unknown", "", notes=_notes(precision))


def _notes(*groups: list[str]) -> tuple[str, ...]:
    return tuple(note for group in groups for note in group)


def _is_refiner(keys: Keys) -> bool:
    return keys.any_prefix("conditioner.embedders.0.model.") and not keys.any_prefix(
        "conditioner.embedders.1."
    )


_V_PRED_METADATA = {"v", "v_prediction", "v-prediction", "vpred", "v-pred"}


def _v_prediction(keys: Keys, metadata: dict[str, Any]) -> bool:
    """Files that say so: a ``v_pred``/``ztsnr`` marker key (SDXL v-prediction fine-tunes),
    or ``modelspec.prediction_type``/``prediction_type``/kohya's ``ss_v_parameterization``."""
    if keys.has("v_pred") or keys.has("ztsnr"):
        return True
    for name in ("modelspec.prediction_type", "prediction_type"):
        if str(metadata.get(name, "")).strip().lower() in _V_PRED_METADATA:
            return True
    return str(metadata.get("ss_v_parameterization", "")).strip().lower() == "true"


def first_keys(path: Path, count: int = 3) -> list[str]:
    """The first ``count`` tensor names of a readable file, for error messages."""
    return sorted(k for k in read_header(path) if k != "__metadata__")[:count]
