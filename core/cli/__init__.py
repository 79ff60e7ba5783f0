"""The headless front end: ``generate``, ``info``, ``upscale``, ``batch``.

It only *uses* the engine through its public contract (``PassRequest``, events, ``Engine``); the
engine never imports it. Entry point: :func:`core.cli.main.main`.
"""
