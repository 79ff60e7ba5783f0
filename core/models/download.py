"""Hugging Face hub models: download what the pipeline uses, or read the cache when offline."""

from __future__ import annotations

import os

from core.errors import ModelError
from core.events import EventCallback, ModelLoading

HUB_ALLOW = [
    "model_index.json",
    "*/*.json",
    "*/*.txt",
    "*/diffusion_pytorch_model.safetensors",
    "*/model.safetensors",
]


def download_model(repo_id: str, emit: EventCallback) -> str:
    """The local snapshot folder of ``repo_id`` (downloaded with progress, or from the cache)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )
    from tqdm.auto import tqdm

    class _Progress(tqdm):
        def update(self, n: float | None = 1) -> bool | None:
            result = super().update(n)
            if self.total:
                emit(ModelLoading(repo_id, f"Downloading {repo_id}", self.n / self.total))
            return result

    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    try:
        return snapshot_download(
            repo_id, allow_patterns=HUB_ALLOW, local_files_only=offline, tqdm_class=_Progress
        )
    except LocalEntryNotFoundError:
        try:  # the network failed: fall back to whatever the cache holds
            return snapshot_download(repo_id, allow_patterns=HUB_ALLOW, local_files_only=True)
        except LocalEntryNotFoundError:
            raise ModelError(
                f"{repo_id} is not in the Hugging Face cache and cannot be downloaded "
                "(offline or no network)"
            ) from None
    except RepositoryNotFoundError:
        raise ModelError(f"{repo_id} was not found on the Hugging Face Hub") from None
    except (HfHubHTTPError, OSError) as exc:
        raise ModelError(f"downloading {repo_id} failed: {str(exc).splitlines()[0]}") from None
