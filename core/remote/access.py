"""Who may talk to the worker: the checks every route goes through (aiohttp middlewares).

1. ``Host`` must name this worker: the address the connection came in on, ``localhost``,
   ``127.0.0.1`` or ``[::1]``, with the worker's port, or a name given with ``--allow-host``.
   Anything else is DNS rebinding (a page whose name now resolves to this machine): **421**.
2. A request carrying an ``Origin`` (browsers send one on every cross-site POST and WebSocket
   handshake) must come from the worker's own origin or one named with ``--allow-origin``:
   **403** otherwise, and so is ``Sec-Fetch-Site: cross-site`` without an Origin. Only an allowed
   origin ever gets a CORS header, naming it alone (never ``*``).
3. Credentials: ``Authorization: Bearer <token>``, or HTTP Basic (``--api-auth user:pass``); the
   ``?token=`` query string only on a WebSocket handshake. Compared in constant time. **401**.
4. Every answer carries protective headers (:data:`PROTECTIVE_HEADERS`).

The pattern follows Jupyter (``check_host``, ``check_origin``) and ComfyUI's origin-only
middleware, applied here to every route, whatever the bind address.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
OPEN_PATHS = frozenset({"/v1/health"})
PROTECTIVE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type"


@dataclass(frozen=True)
class AccessPolicy:
    """What the worker accepts. ``token`` "" and ``basic_auth`` "": no credentials asked
    (``serve`` allows that on loopback only). ``allowed_hosts``: extra ``Host`` names (``name``
    for any port, ``name:port`` for one); ``allowed_origins``: ``scheme://host[:port]``."""

    token: str = ""
    basic_auth: str = ""  # "user:pass"
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_hosts", tuple(h.lower() for h in self.allowed_hosts))
        origins = tuple(normal_origin(o) for o in self.allowed_origins)
        object.__setattr__(self, "allowed_origins", origins)

    @property
    def open(self) -> bool:
        return not self.token and not self.basic_auth

    def host_allowed(self, host_header: str, local_address: str, local_port: int) -> bool:
        """Whether ``Host: host_header`` names this worker (reached at ``local_address``)."""
        name, port = split_host(host_header)
        if name is None:
            return False
        if name in self.allowed_hosts or f"{name}:{port}" in self.allowed_hosts:
            return True
        if port != local_port:
            return False
        local = local_address.lower().removeprefix("::ffff:")
        return name in LOOPBACK_NAMES or name == local

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        """Whether a browser page at ``origin`` may call the worker reached as ``host_header``."""
        normal = normal_origin(origin)
        return normal in self.allowed_origins or normal in (
            f"http://{host_header.lower()}",
            f"https://{host_header.lower()}",
        )

    def credentials_ok(self, request: web.Request) -> bool:
        """Whether the request carries the token (or the Basic credentials) asked for."""
        if self.open:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if self.token:
            given = value.strip() if scheme.lower() == "bearer" else ""
            if not given and _is_websocket(request):
                given = request.query.get("token", "")
            if given and _same(given, self.token):
                return True
        if self.basic_auth and scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return _same(decoded, self.basic_auth)
        return False


def split_host(host_header: str) -> tuple[str | None, int | None]:
    """(name, port) of a ``Host`` header, lower-case, IPv6 without brackets; (None, None) when
    it does not parse. A missing port is 80."""
    try:
        parts = urlsplit(f"//{host_header.strip()}")
        name, port = parts.hostname, parts.port
    except ValueError:
        return None, None
    if not name:
        return None, None
    return name.lower(), 80 if port is None else port


def normal_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-case, the default port dropped ("null" stays "null")."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return origin.strip().lower()
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return origin.strip().lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def refusal(status: int, message: str) -> web.Response:
    """The one-line JSON answer of a refused request."""
    return web.json_response({"error": message}, status=status)


def policy_middlewares(policy: AccessPolicy) -> list[Middleware]:
    """The Host/Origin check, then the credentials check, for every route."""

    @web.middleware
    async def host_and_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        address, port = _local_end(request)
        if not policy.host_allowed(host, address, port):
            return refusal(421, "this worker does not answer to that Host (see serve --allow-host)")
        origin = request.headers.get("Origin")
        if origin is not None:
            if not policy.origin_allowed(origin, host):
                return refusal(403, "cross-site requests are refused (see serve --allow-origin)")
            if normal_origin(origin) in policy.allowed_origins:
                return await _with_cors(request, handler, normal_origin(origin))
        elif request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            return refusal(403, "cross-site requests are refused (see serve --allow-origin)")
        return await handler(request)

    @web.middleware
    async def credentials(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS or policy.credentials_ok(request):
            return await handler(request)
        response = refusal(401, "a valid token is required")
        if policy.basic_auth:
            response.headers["WWW-Authenticate"] = 'Basic realm="img2img-studio"'
        return response

    return [host_and_origin, credentials]


async def add_protective_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the protective headers on every answer, refusals included."""
    for name, value in PROTECTIVE_HEADERS.items():
        response.headers.setdefault(name, value)


async def _with_cors(request: web.Request, handler: Handler, origin: str) -> web.StreamResponse:
    """An allowed origin: its preflight answered here, its answers naming it (and only it)."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response: web.StreamResponse = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    else:
        response = await handler(request)
    if not response.prepared:  # a WebSocket has already answered
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def _local_end(request: web.Request) -> tuple[str, int]:
    """The address and port this connection came in on."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return str(sockname[0]), int(sockname[1])
    return "", -1


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
