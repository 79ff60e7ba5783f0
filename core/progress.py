"""The one ETA rule: remaining work × the mean time of the work done so far."""

from __future__ import annotations


def eta_seconds(done: float, total: float, elapsed: float) -> float | None:
    """Seconds left when ``done`` of ``total`` units took ``elapsed`` seconds; None before any."""
    if done <= 0 or elapsed < 0:
        return None
    return elapsed / done * max(total - done, 0)


def rate_per_second(done: float, elapsed: float) -> float:
    """Units per second so far (0 before any time has passed)."""
    return done / elapsed if elapsed > 0 else 0.0
