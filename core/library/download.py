"""Hugging Face hub models: download only what the pipeline uses, with byte progress; read the
cache when offline.

From a repo, only the components ``model_index.json`` names and the img2img/inpaint pipelines
load are fetched (never the safety checker, feature extractor or image encoder), each with its
config/tokenizer files and its ``.safetensors`` weights: the ``fp16`` variant
(``*.fp16.safetensors``) when half precision is wanted and the repo has it, else the full ones.
Pickled weights (``.bin``, ``.ckpt``, ``.pt``) are never fetched; a component that has nothing
else is refused.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.errors import ModelError, PassCancelled
from core.events import EventCallback, ModelLoading
from core.hashing import Cancelled

SKIPPED_COMPONENTS = {"safety_checker", "feature_extractor", "image_encoder"}
SUPPORT_SUFFIXES = (".json", ".txt", ".model")  # configs, tokenizers (vocab, merges, spiece)
FP16 = "fp16"
_WEIGHTS = re.compile(r"[^.]+(?:\.(?P<variant>[^.-]+))?(?:-\d+-of-\d+)?\.safetensors")
_INDEX = re.compile(r"[^.]+\.safetensors\.index(?:\.(?P<variant>[^.]+))?\.json")
_PICKLES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")


def pipeline_components(index: dict[str, Any]) -> list[str]:
    """The components of a ``model_index.json`` that the pipelines load (optional ones left out)."""
    return sorted(
        name
        for name, value in index.items()
        if not name.startswith("_")
        and name not in SKIPPED_COMPONENTS
        and isinstance(value, list)
        and len(value) == 2
        and value[0] is not None
    )


def _variant(name: str) -> tuple[bool, str | None]:
    """(is a safetensors weights or index file, its variant) for a file name without folder."""
    match = _WEIGHTS.fullmatch(name) or _INDEX.fullmatch(name)
    return (match is not None, match["variant"] if match else None)


def select_files(files: Iterable[str], components: Iterable[str], fp16: bool) -> list[str]:
    """The repo files to fetch: the index, then per component its support files and weights."""
    files = list(files)
    chosen = ["model_index.json"]
    for component in components:
        names = [f.split("/", 1)[1] for f in files if f.startswith(f"{component}/")]
        names = [n for n in names if "/" not in n]
        weights: dict[str | None, list[str]] = {}
        for name in names:
            is_weights, variant = _variant(name)
            if is_weights:
                weights.setdefault(variant, []).append(name)
            elif name.endswith(SUPPORT_SUFFIXES) and ".bin." not in name:
                chosen.append(f"{component}/{name}")
        preference = [FP16, None] if fp16 else [None, FP16]
        picked = next((weights[v] for v in preference if v in weights), [])
        if not picked and any(n.endswith(_PICKLES) or ".bin." in n for n in names):
            raise ModelError(
                f"the {component} weights of this repo are only pickle files (.bin/.ckpt), which "
                "can run code when loaded; use a repo with .safetensors weights"
            )
        chosen += [f"{component}/{name}" for name in picked]
    return chosen


def size_text(done: float, total: float) -> str:
    """Text like "1.2 of 3.4 GB" (MB below a gigabyte)."""
    unit, scale = ("GB", 1e9) if total >= 1e9 else ("MB", 1e6)
    return f"{done / scale:.1f} of {total / scale:.1f} {unit}"


class _ByteProgress:
    """Turns huggingface_hub's progress bars into ModelLoading events; raises on cancel.

    Byte bars (``unit="B"``) count the bytes fetched; the largest count over the bars is taken,
    since huggingface_hub reports the same bytes on a transfer and a write bar.
    """

    def __init__(
        self, repo_id: str, total: int, emit: EventCallback, cancel: Cancelled | None
    ) -> None:
        self.repo_id, self.total, self.emit, self.cancel = repo_id, total, emit, cancel
        self._lock = threading.Lock()
        self._bytes: dict[int, float] = {}
        self._shown = 0.0

    def update(self, bar: int, n: float, unit: str) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise PassCancelled()
        if unit != "B" or self.total <= 0:
            return
        with self._lock:
            self._bytes[bar] = self._bytes.get(bar, 0.0) + n
            done = min(max(self._bytes.values()), self.total)
            fraction = done / self.total
            step = fraction - self._shown
            if step > 0 and (fraction >= 1.0 or step >= 0.001):
                self._shown = fraction
                message = f"Downloading {self.repo_id}: {size_text(done, self.total)}"
                self.emit(ModelLoading(self.repo_id, message, fraction))

    def tqdm_class(self) -> type:
        from tqdm import tqdm

        progress = self

        class _Bar(tqdm):
            """huggingface_hub's own bars (drawn on stderr as before), counted as they move."""

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs.pop("name", None)  # only huggingface_hub's own tqdm takes it
                self._unit = str(kwargs.get("unit", "it"))
                super().__init__(*args, **kwargs)

            def update(self, n: float | None = 1) -> bool | None:
                progress.update(id(self), float(n or 0), self._unit)
                return super().update(n)

        return _Bar


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _check(cancel: Cancelled | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise PassCancelled()


def download_model(
    repo_id: str, emit: EventCallback, cancel: Cancelled | None = None, fp16: bool = False
) -> str:
    """The local snapshot folder of ``repo_id``: fetched with byte progress, or from the cache.

    ``fp16`` prefers the repo's fp16 weights. Raises :class:`PassCancelled` between chunks once
    ``cancel`` is cancelled (a later call resumes the download) and ModelError for failures.
    """
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    info = None
    reason = "offline" if _offline() else "no network"
    if not _offline():
        try:
            info = HfApi().model_info(repo_id, files_metadata=True)
        except GatedRepoError:
            raise ModelError(
                f"{repo_id} is gated: accept its terms on huggingface.co and log in (hf auth login)"
            ) from None
        except RepositoryNotFoundError:
            raise ModelError(f"{repo_id} was not found on the Hugging Face Hub") from None
        except Exception as exc:  # no network (the errors differ between hub versions)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    _check(cancel)
    try:
        if info is None:  # read whatever the cache holds
            return str(
                snapshot_download(
                    repo_id, allow_patterns=["model_index.json"], local_files_only=True
                )
            )
        sizes = {s.rfilename: int(getattr(s, "size", None) or 0) for s in info.siblings or []}
        # No revision=sha: snapshot_download then keeps refs/main, which offline runs read.
        folder = snapshot_download(repo_id, allow_patterns=["model_index.json"])
        index = json.loads((Path(folder) / "model_index.json").read_text(encoding="utf-8"))
        files = select_files(sizes, pipeline_components(index), fp16)
        _check(cancel)
        progress = _ByteProgress(repo_id, sum(sizes.get(f, 0) for f in files), emit, cancel)
        return str(
            snapshot_download(
                repo_id,
                allow_patterns=files,
                tqdm_class=progress.tqdm_class(),
            )
        )
    except LocalEntryNotFoundError:
        raise ModelError(
            f"{repo_id} is not in the Hugging Face cache and cannot be downloaded ({reason})"
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelError(f"downloading {repo_id} failed: {str(exc).splitlines()[0]}") from None
