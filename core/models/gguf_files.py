"""GGUF transformer files (``--model FILE.gguf --model-config BASE``), as FLUX and SD 3.5 users
download them: the transformer comes from the file, still quantized (diffusers'
``GGUFQuantizationConfig`` dequantizes each layer's weights as it computes), the text encoders,
VAE and scheduler from ``BASE`` (or a cached repo of the family). The family and the quant type
(Q8_0, Q4_K, …) are read from the file's tensor table with the ``gguf`` package."""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.library.detect import FileInfo
from core.model_spec import ModelSpec
from core.models.families import family
from core.models.loaded import LoadedModel

# A tensor name fragment → the family (diffusers and original layouts).
_FAMILY_KEYS = (
    ("single_transformer_blocks.", "flux"),
    ("double_blocks.", "flux"),
    ("joint_blocks.", "sd3"),
    ("transformer_blocks.0.ff_context", "sd3"),
)
_UNQUANTIZED = {"F32", "F16", "BF16"}


@dataclass(frozen=True)
class GGUFInfo:
    family: str  # flux | sd3
    quant_type: str  # the most common quantized tensor type, e.g. "Q8_0" ("F16" when none)


def gguf_info(path: Path) -> GGUFInfo:
    """Read the family and quant type of a GGUF transformer file (ModelError when unreadable or
    not a FLUX / SD 3.5 transformer)."""
    try:
        import gguf
    except ImportError:
        raise ModelError(
            f"{path.name}: GGUF files need the gguf package: pip install 'img2img-studio[quant]'"
        ) from None
    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError, KeyError, IndexError, TypeError, struct.error) as exc:
        raise ModelError(f"{path.name} is not a readable GGUF file: {exc}") from None
    names = [tensor.name for tensor in reader.tensors]
    found = next((fam for key, fam in _FAMILY_KEYS if any(key in n for n in names)), None)
    if found is None:
        raise ModelError(f"{path.name}: not a FLUX.1 or SD 3.5 transformer (GGUF files of those)")
    types = Counter(t.tensor_type.name for t in reader.tensors)
    quantized = [(count, name) for name, count in types.items() if name not in _UNQUANTIZED]
    quant_type = max(quantized)[1] if quantized else max((c, n) for n, c in types.items())[1]
    return GGUFInfo(found, quant_type)


def load_gguf(spec: ModelSpec, path: Path, device: str, dtype: Any) -> LoadedModel:
    """The pipeline around the GGUF transformer at ``path`` (see the module doc), on the CPU
    (the memory mode places it); its ``quantize`` reads e.g. "gguf Q8_0"."""
    import diffusers

    from core.models import single_file
    from core.models.donors import find_donor, raise_missing_donor

    info = gguf_info(path)
    file_info = FileInfo("transformer", info.family)
    donor = find_donor(spec, file_info)
    if donor is None:
        raise_missing_donor(path, file_info)
    assert donor is not None
    fam = family(info.family)
    model_class = (
        diffusers.SD3Transformer2DModel
        if info.family == "sd3"
        else diffusers.FluxTransformer2DModel
    )
    try:
        transformer = model_class.from_single_file(
            str(path),
            quantization_config=diffusers.GGUFQuantizationConfig(compute_dtype=dtype),
            config=str(donor.folder),
            subfolder="transformer",
            local_files_only=True,
            dtype=dtype,
        )
        pipeline_class = getattr(diffusers, str(fam.img2img_pipeline))
        pipe = pipeline_class.from_pretrained(
            donor.folder,
            transformer=transformer,
            dtype=dtype,
            local_files_only=True,
            use_safetensors=True,  # never unpickle a base's .bin weights
        )
    except single_file._load_errors() as exc:
        raise ModelError(f"cannot load {path.name}: {str(exc).strip().splitlines()[0]}") from None
    model = LoadedModel(spec, path.stem, info.family, False, device, dtype, pipe, path)
    model.quantize = f"gguf {info.quant_type}"
    return model
