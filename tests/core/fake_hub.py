"""A fake Hugging Face Hub for download tests: a local HTTP server that answers huggingface_hub's
real calls (``/api/models/…`` for the repo listing, ``HEAD``/``GET …/resolve/<rev>/<file>`` with
``Range``) for one repo made from the tiny model, listed like a real SD 1.5 repo (safety
checker, fp16 variants, pickles, a root single-file checkpoint; the weights as LFS files with
their sha256, which ``corrupt`` files do not match when served). It counts the bytes it serves
and records every request, can pretend the repo is gated, and huggingface_hub is pointed at it
(endpoint, an empty cache in a temporary folder, online)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = "tester/tiny-sd"
SHA = "0123456789abcdef0123456789abcdef01234567"

EXTRA_FILES = [  # listed and served with small placeholder contents
    "README.md",
    ".gitattributes",
    "v1-5-pruned.ckpt",
    "v1-5-pruned.safetensors",
    "safety_checker/config.json",
    "safety_checker/model.safetensors",
    "safety_checker/model.fp16.safetensors",
    "safety_checker/pytorch_model.bin",
    "feature_extractor/preprocessor_config.json",
    "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.non_ema.safetensors",
    "vae/diffusion_pytorch_model.bin",
    "vae/diffusion_pytorch_model.fp16.safetensors",
    "text_encoder/pytorch_model.bin",
    "text_encoder/model.fp16.safetensors",
]
_RANGE = re.compile(r"bytes=(\d+)-$")


class FakeHub:
    """Serves ``REPO`` from ``source`` (a tiny model folder); the HF cache is ``root/cache``."""

    def __init__(self, source: Path, root: Path) -> None:
        self.source = root / "source"
        shutil.copytree(source, self.source)
        index = json.loads((self.source / "model_index.json").read_text())
        index["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"]
        index["feature_extractor"] = ["transformers", "CLIPImageProcessor"]
        (self.source / "model_index.json").write_text(json.dumps(index))
        self.files: dict[str, bytes] = {}
        for path in sorted(self.source.rglob("*")):
            if path.is_file():
                self.files[path.relative_to(self.source).as_posix()] = path.read_bytes()
        for name in EXTRA_FILES:
            self.files[name] = b"{}" if name.endswith(".json") else name.encode() * 40
        self.cache = root / "cache"
        self.gated = False
        self.corrupt: set[str] = set()  # files served with one byte changed (listed as before)
        self.bytes_served = 0
        self.requests: list[tuple[str, str | None, str | None]] = []  # (method, file, Range)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def snapshot(self) -> Path:
        return self.cache / f"models--{REPO.replace('/', '--')}" / "snapshots" / SHA

    def fetched(self) -> set[str]:
        """The files whose bytes were requested (GET)."""
        return {name for method, name, _ in self.requests if method == "GET" and name}

    def install(self, monkeypatch) -> FakeHub:
        """Start serving and point huggingface_hub here (undone by ``monkeypatch``; call
        :meth:`close` when done)."""
        from huggingface_hub import constants

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "ENDPOINT", self.endpoint)
        template = self.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(self.cache))
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _count(self, n: int) -> None:
        with self._lock:
            self.bytes_served += n


def _sibling(name: str, data: bytes) -> dict:
    """A listed file as the hub lists it with ``files_metadata``: weights are LFS files with
    their sha256 (which is also their ETag), the rest plain git files."""
    row: dict = {"rfilename": name, "size": len(data)}
    if name.endswith(".safetensors"):
        sha256 = hashlib.sha256(data).hexdigest()
        row["lfs"] = {"sha256": sha256, "size": len(data), "pointerSize": 134}
    return row


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    resolve = re.compile(rf"^/{re.escape(REPO)}/resolve/[^/]+/(?P<file>.+)$")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _refuse_gated(self) -> bool:
            if not hub.gated:
                return False
            self.send_response(401)
            self.send_header("X-Error-Code", "GatedRepo")
            self.send_header("X-Error-Message", "Access to this model is restricted.")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True

        def _file(self) -> str | None:
            from urllib.parse import unquote

            match = resolve.match(self.path.split("?")[0])
            return unquote(match["file"]) if match else None

        def do_GET(self) -> None:  # noqa: N802
            name = self._file()
            hub.requests.append(("GET", name, self.headers.get("Range")))
            if self._refuse_gated():
                return
            if self.path.startswith(f"/api/models/{REPO}"):
                siblings = [_sibling(n, b) for n, b in hub.files.items()]
                body = json.dumps({"id": REPO, "sha": SHA, "siblings": siblings}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if name not in hub.files:
                return self._not_found()
            data = hub.files[name]
            if name in hub.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = 0
            wanted = _RANGE.match(self.headers.get("Range") or "")
            if wanted:
                start = int(wanted[1])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            try:
                for offset in range(start, len(data), 4096):
                    piece = data[offset : offset + 4096]
                    self.wfile.write(piece)
                    hub._count(len(piece))
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_HEAD(self) -> None:  # noqa: N802
            name = self._file()
            hub.requests.append(("HEAD", name, None))
            if self._refuse_gated():
                return
            if name not in hub.files:
                return self._not_found()
            data = hub.files[name]
            self.send_response(200)
            self.send_header("X-Repo-Commit", SHA)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()

        def _not_found(self) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
