"""Model hashes, the A1111 / model-site way: the first 10 hex digits of the sha256 of a file.

- Single ``.safetensors`` checkpoints: the checkpoint file itself. This is the "AutoV2" hash that
  AUTOMATIC1111, Forge and Civitai show, so pictures link back to the model on those sites.
- Diffusers folders and hub models: the UNet weights file that was loaded
  (``unet/diffusion_pytorch_model.safetensors``, or its ``.fp16.safetensors`` variant; a
  ``transformer/`` folder likewise). For a hub model this is the start of the SHA256 the hub
  shows on that file's page. A UNet split into shards gets no hash ("").

Hashing starts on a daemon thread when a model loads (``core.hashing.hash_model_file``), is
remembered on disk by (path, size, mtime) so a file is read once, stops between chunks when the
model is unloaded or replaced, and never holds up a pass: a pass records the hash if it is known
by then, and writers complete the record with ``core.hashing.complete_model_hash``.
"""

from __future__ import annotations

from pathlib import Path

from core.hashing import SHORT_HASH


def short_hash(digest: str | None) -> str:
    """The first 10 hex digits of a sha256 digest ("" for None)."""
    return digest[:SHORT_HASH] if digest else ""


def weights_file(folder: Path, variant: str | None) -> Path | None:
    """The weights file a diffusers folder's hash is taken from (see the module docstring)."""
    for component in ("unet", "transformer"):
        names = [f"diffusion_pytorch_model.{variant}.safetensors"] if variant else []
        names.append("diffusion_pytorch_model.safetensors")
        for name in names:
            if (folder / component / name).is_file():
                return folder / component / name
    return None
