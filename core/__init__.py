"""Img2Img Studio engine (Qt-free)."""

__version__ = "0.1.0"
