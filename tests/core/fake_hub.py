"""A fake Hugging Face Hub for download tests: ``model_info`` and ``snapshot_download`` over a
local copy of the tiny model, with a repo listing like a real SD 1.5 repo (safety checker, fp16
variants, pickles, a root single-file checkpoint) and byte progress reported the way
huggingface_hub does it (byte bars whose totals grow, plus a file-count bar)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

from huggingface_hub.utils import filter_repo_objects

SHA = "0123456789abcdef0123456789abcdef01234567"
GB = 1_000_000_000

EXTRA_FILES = {
    "README.md": 1_000,
    ".gitattributes": 100,
    "v1-5-pruned.ckpt": 7 * GB,
    "v1-5-pruned.safetensors": 7 * GB,
    "safety_checker/config.json": 4_000,
    "safety_checker/model.safetensors": int(1.2 * GB),
    "safety_checker/model.fp16.safetensors": int(0.6 * GB),
    "safety_checker/pytorch_model.bin": int(1.2 * GB),
    "feature_extractor/preprocessor_config.json": 500,
    "unet/diffusion_pytorch_model.bin": int(3.4 * GB),
    "unet/diffusion_pytorch_model.fp16.safetensors": int(1.7 * GB),
    "unet/diffusion_pytorch_model.non_ema.safetensors": int(3.4 * GB),
    "vae/diffusion_pytorch_model.bin": 330_000_000,
    "vae/diffusion_pytorch_model.fp16.safetensors": 160_000_000,
    "text_encoder/pytorch_model.bin": 490_000_000,
    "text_encoder/model.fp16.safetensors": 240_000_000,
}
REAL_SIZES = {  # sizes the listing reports for the tiny model's real files
    "unet/diffusion_pytorch_model.safetensors": int(3.4 * GB),
    "vae/diffusion_pytorch_model.safetensors": 330_000_000,
    "text_encoder/model.safetensors": 490_000_000,
}


class FakeHub:
    """Serves ``repo_id`` from ``source`` (a tiny model folder) into ``root``."""

    def __init__(self, source: Path, root: Path, chunks_per_file: int = 4) -> None:
        self.source = root / "source"
        shutil.copytree(source, self.source)
        index = json.loads((self.source / "model_index.json").read_text())
        index["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"]
        index["feature_extractor"] = ["transformers", "CLIPImageProcessor"]
        (self.source / "model_index.json").write_text(json.dumps(index))
        self.snapshot = root / "models--tester--tiny-sd" / "snapshots" / SHA
        self.files: dict[str, int] = dict(EXTRA_FILES)
        for path in self.source.rglob("*"):
            if path.is_file():
                name = path.relative_to(self.source).as_posix()
                self.files[name] = REAL_SIZES.get(name, path.stat().st_size)
        self.chunks_per_file = chunks_per_file
        self.calls: list[dict] = []
        self.chunks_done = 0
        self.on_chunk = None  # called after every chunk with the number of chunks done

    def install(self, monkeypatch) -> FakeHub:
        import huggingface_hub

        hub = self

        def model_info(api, repo_id, *args, **kwargs):
            siblings = [SimpleNamespace(rfilename=n, size=s) for n, s in hub.files.items()]
            return SimpleNamespace(id=repo_id, sha=SHA, siblings=siblings)

        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
        monkeypatch.setattr(huggingface_hub, "snapshot_download", self.snapshot_download)
        return self

    def selected(self, allow_patterns) -> set[str]:
        return set(filter_repo_objects(self.files, allow_patterns=allow_patterns))

    def snapshot_download(self, repo_id, *, allow_patterns=None, tqdm_class=None, **kwargs):
        self.calls.append({"repo_id": repo_id, "allow_patterns": allow_patterns, **kwargs})
        selected = sorted(self.selected(allow_patterns))
        for name in selected:
            target = self.snapshot / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if (self.source / name).is_file():
                shutil.copyfile(self.source / name, target)
            else:
                target.write_bytes(b"{}" if name.endswith(".json") else b"placeholder")
        if tqdm_class is not None and not kwargs.get("local_files_only"):
            self._report(selected, tqdm_class)
        return str(self.snapshot)

    def _report(self, selected: list[str], tqdm_class) -> None:
        transfer = tqdm_class(total=0, initial=0, unit="B", unit_scale=True, desc="Downloading")
        written = tqdm_class(total=0, initial=0, unit="B", unit_scale=True, desc="Reconstructing")
        count = tqdm_class(total=len(selected), desc=f"Fetching {len(selected)} files")
        for name in selected:
            size = self.files[name]
            for bar in (transfer, written):
                bar.total += size
            step = size // self.chunks_per_file
            for i in range(self.chunks_per_file):
                n = step if i < self.chunks_per_file - 1 else size - step * i
                transfer.update(n)
                written.update(n)
                self.chunks_done += 1
                if self.on_chunk is not None:
                    self.on_chunk(self.chunks_done)
            count.update(1)
        for bar in (transfer, written, count):
            bar.close()
