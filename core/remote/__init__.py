"""A generation worker over HTTP and a WebSocket: ``serve`` runs passes for remote clients.

``protocol`` is the one definition of a pass on the wire (used by both sides), ``server`` the
aiohttp application, ``client`` the async client (no Qt: the window drives it with qasync).
"""
