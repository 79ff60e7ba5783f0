"""A tiny GGUF transformer file, written offline with the ``gguf`` package from a tiny diffusers
folder's transformer (its 2-D weights in ``quant_type``, the rest in F32)."""

from __future__ import annotations

from pathlib import Path


def write_gguf_transformer(
    model_dir: str | Path, out_file: str | Path, quant_type: str = "Q8_0"
) -> Path:
    """Write ``model_dir``'s transformer as a GGUF file and return its path."""
    import gguf
    import numpy as np
    from safetensors.torch import load_file

    kind = gguf.GGMLQuantizationType[quant_type]
    block = gguf.GGML_QUANT_SIZES[kind][0]
    state = load_file(Path(model_dir) / "transformer" / "diffusion_pytorch_model.safetensors")
    writer = gguf.GGUFWriter(str(out_file), arch="flux")
    for name, tensor in state.items():
        values = tensor.float().numpy()
        if values.ndim == 2 and values.shape[-1] % block == 0:
            packed = gguf.quants.quantize(values, kind)
            writer.add_tensor(name, packed, raw_shape=packed.shape, raw_dtype=kind)
        else:
            writer.add_tensor(name, values.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(out_file)
