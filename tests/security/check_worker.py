"""A security check of a running worker, as a browser page or a stranger would try it.

    python -m tests.security.check_worker http://127.0.0.1:7860 [--token T]

Each class of attack is tried and reported PASS or FAIL (exit status 1 on any FAIL):
cross-site requests (CORS, a cross-site POST and WebSocket), DNS rebinding (a foreign Host),
access without a token (and the query-string token off the WebSocket route), the protective
headers, and the request bombs (many parts, a pixel budget of PNGs of zeros, deep JSON). Nothing
it sends is ever queued on a worker that passes. Give the worker's token to check the bombs
behind the door too (without it they are refused at the door, which also passes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

EVIL = "http://evil.example"
PROTECTIVE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
BOMB_SIDE = 7000  # 49 MP: each picture alone is under the worker's 50 MP limit
BOMB_PICTURES = ("image", "mask", "strength_map", "control.0", "control.1", "control.2",
                 "control.3", "reference.0", "reference.1", "reference.2", "reference.3",
                 *(f"region.{i}" for i in range(8)),
                 *(f"edit_reference.{i}" for i in range(4)))  # fmt: skip


@dataclass(frozen=True)
class Check:
    """One tried attack: its class, whether the worker withstood it, and what it answered."""

    kind: str
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.kind:<16} {self.name}: {self.detail}"


def zero_png(width: int, height: int, mode: str = "RGB") -> bytes:
    """A PNG of zeros, compressed row by row (a few hundred kB for tens of megapixels)."""
    channels, color_type = {"L": (1, 0), "RGB": (3, 2)}[mode]
    row = b"\0" * (1 + channels * width)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def bomb_params(model: str = "default") -> dict[str, object]:
    """params naming every picture part of :data:`BOMB_PICTURES` (so each is a known part)."""
    return {
        "model": model,
        "controls": [{"model": "x", "kind": "image"}] * 4,
        "references": [{"model": "x"}] * 4,
        "regions": [{"prompt": "x"}] * 8,
        "edit_references": [{}] * 4,
    }


def form(params: str, parts: list[tuple[str, bytes]]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("params", params)
    for name, body in parts:
        data.add_field(name, body, filename=f"{name}.png", content_type="image/png")
    return data


def small_png() -> bytes:
    return zero_png(64, 64)


class WorkerCheck:
    """The checks against the worker at ``url`` (``token``: its token, if known)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        parts = urlsplit(self.url)
        self.port = parts.port or 80
        self.results: list[Check] = []

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def run(self) -> list[Check]:
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as self.session:
            checks: list[Callable[[], Awaitable[None]]] = [
                self.cors,
                self.rebinding,
                self.without_token,
                self.headers,
                self.bombs,
            ]
            for check in checks:
                try:
                    await check()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    self.note("connection", check.__name__, False, f"{type(exc).__name__}: {exc}")
        return self.results

    def note(self, kind: str, name: str, ok: bool, detail: str) -> None:
        self.results.append(Check(kind, name, ok, detail))

    async def answer(self, method: str, path: str, **kwargs) -> tuple[int, dict, str]:
        async with self.session.request(method, self.url + path, **kwargs) as response:
            return response.status, dict(response.headers), await response.text()

    async def cors(self) -> None:
        """A page on another site: a simple multipart POST, a preflight, a WebSocket."""
        params = json.dumps({"model": "default"})
        status, headers, _ = await self.answer(
            "POST", "/v1/passes", data=form(params, [("image", small_png())]),
            headers={"Origin": EVIL, **self.auth()},
        )  # fmt: skip
        allowed = headers.get("Access-Control-Allow-Origin")
        self.note("CORS", "cross-site POST", status == 403 and not allowed, f"{status}")
        status, headers, _ = await self.answer(
            "OPTIONS", "/v1/passes",
            headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
        )  # fmt: skip
        allowed = headers.get("Access-Control-Allow-Origin")
        self.note("CORS", "preflight", not allowed, f"{status}, allow-origin {allowed!r}")
        url = f"{self.url}/v1/passes/0/events" + (f"?token={self.token}" if self.token else "")
        try:
            async with self.session.ws_connect(url, origin=EVIL):
                self.note("CORS", "cross-site WebSocket", False, "the handshake was accepted")
        except aiohttp.WSServerHandshakeError as exc:
            self.note("CORS", "cross-site WebSocket", exc.status == 403, f"{exc.status}")

    async def rebinding(self) -> None:
        """DNS rebinding: the browser sends the attacker's name as Host."""
        for host in (f"evil.example:{self.port}", "evil.example"):
            status, _, _ = await self.answer(
                "GET", "/v1/models", headers={"Host": host, **self.auth()}
            )
            self.note("rebinding", f"Host: {host}", 400 <= status < 500, f"{status}")

    async def without_token(self) -> None:
        status, _, _ = await self.answer("GET", "/v1/models")
        self.note("token", "no token", status == 401, f"{status}")
        status, _, _ = await self.answer("GET", "/v1/models", headers={"Authorization": "Bearer x"})
        self.note("token", "a wrong token", status == 401, f"{status}")
        if self.token:
            status, _, _ = await self.answer("GET", f"/v1/models?token={self.token}")
            self.note("token", "query token off the WebSocket", status == 401, f"{status}")

    async def headers(self) -> None:
        for path, auth in (("/v1/health", {}), ("/v1/models", {}), ("/v1/nowhere", self.auth())):
            status, headers, _ = await self.answer("GET", path, headers=auth)
            missing = [k for k, v in PROTECTIVE.items() if headers.get(k) != v]
            self.note("headers", f"GET {path} ({status})", not missing, f"missing {missing}")

    async def bombs(self) -> None:
        """Requests built to exhaust the worker: refused, each with one line of JSON."""
        model = await self.offered_model()
        many = [(f"x{i}", b"\0") for i in range(300)]
        params = json.dumps({"model": model})
        await self.refused("many parts", form(params, many))
        zeros = zero_png(BOMB_SIDE, BOMB_SIDE)
        pixels = form(json.dumps(bomb_params(model)), [(name, zeros) for name in BOMB_PICTURES])
        await self.refused(f"{len(BOMB_PICTURES)} × 49 MP of zeros", pixels, "pixel")
        deep = "[" * 100_000 + "]" * 100_000
        await self.refused("100 000 nested lists", form(deep, [("image", small_png())]))

    async def offered_model(self) -> str:
        """An id the worker offers (so a bomb gets past the model check), else "default"."""
        status, _, text = await self.answer("GET", "/v1/models", headers=self.auth())
        try:
            return str(json.loads(text)["models"][0]["id"]) if status == 200 else "default"
        except (ValueError, KeyError, IndexError, TypeError):
            return "default"

    async def refused(self, name: str, data: aiohttp.FormData, word: str = "") -> None:
        status, headers, text = await self.answer(
            "POST", "/v1/passes", data=data, headers=self.auth()
        )
        one_line = "\n" not in text.strip() and headers.get("Content-Type", "").startswith(
            "application/json"
        )
        if status == 401:
            self.note("bombs", name, True, "401 (refused at the door; give --token to go further)")
            return
        ok = status in (400, 413) and one_line and word in text
        self.note("bombs", name, ok, f"{status} {text.strip()[:200]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the worker, e.g. http://127.0.0.1:7860")
    parser.add_argument("--token", help="its token (to check the bombs behind the door too)")
    args = parser.parse_args(argv)
    results = asyncio.run(WorkerCheck(args.url, args.token).run())
    for result in results:
        print(result.line())
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
