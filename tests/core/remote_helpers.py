"""A worker on 127.0.0.1 (a free port) served from a background thread, for the remote tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from core.models import ModelSpec
from core.remote.offered import OfferedModels
from core.remote.server import make_app, start_server


@contextmanager
def running_worker(model: str, token: str = "", **options: Any) -> Iterator[str]:
    """Serve ``model`` on CPU (``options``: make_app's ``access``, ``queue``, ``engine``);
    yields the worker's URL and stops it on the way out."""
    app = make_app(OfferedModels(model), ModelSpec(model, device="cpu"), token, **options)
    with running_app(app) as url:
        yield url


@contextmanager
def running_app(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 from a thread; yields its URL."""
    loop = asyncio.new_event_loop()
    started: dict[str, Any] = {}

    async def start() -> None:
        started["runner"], started["port"] = await start_server(app, "127.0.0.1", 0)

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield f"http://127.0.0.1:{started['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(started["runner"].cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
