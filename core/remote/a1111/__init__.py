"""An AUTOMATIC1111-compatible API on the worker (``/sdapi/v1/…``): the request and answer
shapes the ecosystem's clients speak, over the worker's own queue and offered models
(docs/API.md, "AUTOMATIC1111-compatible API")."""

from core.remote.a1111.routes import add_a1111_routes

__all__ = ["add_a1111_routes"]
