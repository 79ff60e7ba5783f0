"""The async client of a worker (aiohttp; no Qt: the window drives it with qasync).

``async with WorkerClient(url, token) as worker: result = await worker.run_pass(model, request,
on_event=…, cancel=token)`` submits a pass, reports the worker's events as ordinary pass events
(``ModelLoading``, ``PassStarted``, ``StepPreview`` with its preview picture) and returns a
:class:`PassResult` whose picture and record are the worker's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import aiohttp
from PIL import Image

from core.engine import CancelToken
from core.errors import PassCancelled, UserError
from core.events import EventCallback, PassEvent, PassResult
from core.metadata import read_metadata
from core.remote.protocol import API_PREFIX, PARAMS_PART, encode_submission, event_from_json
from core.remote.token_file import local_token
from core.requests import PassRequest

CANCEL_POLL_S = 0.1


class WorkerError(UserError):
    """The worker refused a request, failed a pass or cannot be reached (one line)."""


@dataclasses.dataclass(frozen=True)
class WorkerMessage:
    """One message from a pass's WebSocket: the JSON, and the pass event it stands for (with
    its preview picture) when it is one."""

    data: dict[str, Any]
    event: PassEvent | None


class WorkerClient:
    """A connection to one worker at ``url`` (``http://host:port``), with its token if any.
    Without one, a worker on this machine is asked with the token from its token file
    (:mod:`core.remote.token_file`)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token or local_token(self.url)
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WorkerClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            timeout = aiohttp.ClientTimeout(sock_connect=self.timeout)
            self._session = aiohttp.ClientSession(headers=headers, timeout=timeout)
        return self._session

    async def models(self) -> list[dict[str, Any]]:
        """The models the worker offers (``id``, ``name``…)."""
        return list((await self._json("GET", "/models"))["models"])

    async def submit(self, model: str, request: PassRequest) -> str:
        """Queue a pass on the worker; returns its id."""
        params, files = encode_submission(model, request)
        form = aiohttp.FormData()
        form.add_field(PARAMS_PART, json.dumps(params, default=str))
        for name, data in files.items():
            form.add_field(name, data, filename=f"{name}.png", content_type="image/png")
        return str((await self._json("POST", "/passes", data=form))["id"])

    async def status(self, pass_id: str) -> dict[str, Any]:
        return dict(await self._json("GET", f"/passes/{pass_id}"))

    async def cancel(self, pass_id: str) -> None:
        """Cancel a queued or running pass."""
        await self._json("POST", f"/passes/{pass_id}/cancel")

    async def result(self, pass_id: str) -> bytes:
        """The finished pass's PNG (with its metadata), as the worker wrote it."""
        return await self._bytes("GET", f"/passes/{pass_id}/result")

    async def messages(self, pass_id: str) -> AsyncIterator[WorkerMessage]:
        """The pass's messages from the first until it ends (``finished``, ``failed`` or
        ``cancelled`` comes last)."""
        url = f"{self.url}{API_PREFIX}/passes/{pass_id}/events"
        try:
            async with self.session.ws_connect(url, heartbeat=30) as socket:
                pending: dict[str, Any] | None = None
                async for frame in socket:
                    if frame.type == aiohttp.WSMsgType.BINARY and pending is not None:
                        yield WorkerMessage(pending, event_from_json(pending, frame.data))
                        pending = None
                    elif frame.type == aiohttp.WSMsgType.TEXT:
                        data = json.loads(frame.data)
                        if data.get("type") == "step" and data.get("preview"):
                            pending = data  # its picture is the next frame
                            continue
                        yield WorkerMessage(data, event_from_json(data))
                    elif frame.type == aiohttp.WSMsgType.ERROR:
                        break
        except aiohttp.WSServerHandshakeError as exc:
            raise WorkerError(_refusal(exc.status, exc.message)) from None
        except aiohttp.ClientError as exc:
            raise WorkerError(f"lost the worker at {self.url}: {exc}") from None

    async def run_pass(
        self,
        model: str,
        request: PassRequest,
        on_event: EventCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PassResult:
        """Run one pass on the worker: submit, follow, fetch. Raises WorkerError when the worker
        fails it and PassCancelled when ``cancel`` is set (the worker's pass is cancelled too)."""
        pass_id = await self.submit(model, request)
        watcher = asyncio.create_task(self._cancel_when_set(pass_id, cancel))
        try:
            async for message in self.messages(pass_id):
                kind = message.data.get("type")
                if message.event is not None and on_event is not None:
                    on_event(message.event)
                if kind == "finished":
                    return _result(request, message.data, await self.result(pass_id))
                if kind == "failed":
                    raise WorkerError(f"the worker failed the pass: {message.data['message']}")
                if kind == "cancelled":
                    raise PassCancelled()
        finally:
            watcher.cancel()
        raise WorkerError(f"the worker at {self.url} closed the pass without a result")

    async def _cancel_when_set(self, pass_id: str, cancel: CancelToken | None) -> None:
        if cancel is None:
            return
        while not cancel.cancelled:
            await asyncio.sleep(CANCEL_POLL_S)
        await self.cancel(pass_id)

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return json.loads(await self._bytes(method, path, **kwargs))

    async def _bytes(self, method: str, path: str, **kwargs: Any) -> bytes:
        try:
            async with self.session.request(method, self.url + API_PREFIX + path, **kwargs) as r:
                body = await r.read()
                if r.status >= 400:
                    raise WorkerError(_refusal(r.status, _error_text(body)))
                return body
        except aiohttp.ClientError as exc:
            raise WorkerError(f"cannot reach the worker at {self.url}: {exc}") from None


def _error_text(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace")[:200]


def _refusal(status: int, message: str) -> str:
    if status == 401:
        return "the worker wants a valid token (--token)"
    if status == 429:
        return f"the worker is busy: {message}"
    return f"the worker refused the request ({status}): {message}"


def _result(request: PassRequest, finished: dict[str, Any], png: bytes) -> PassResult:
    """The worker's PNG as a PassResult (its picture and record, the finished message's
    figures)."""
    image = Image.open(io.BytesIO(png))
    image.load()
    record = read_metadata(image)["record"] or {}
    return PassResult(
        image.convert("RGB"),
        request,
        int(finished["seed"]),
        int(finished["effective_steps"]),
        float(finished["duration"]),
        str(finished["model_name"]),
        str(finished["model_hash"]),
        record,
        skipped=bool(finished["skipped"]),
        note=str(finished["note"]),
    )
