"""Progress text shown by the GUI: the one ETA format and a pass's per-step line.

The numbers come from ``core.progress`` (the one ETA rule); this module only words them.
"""

from __future__ import annotations

from core.progress import eta_seconds, rate_per_second


def format_eta(seconds: float | None) -> str:
    """Remaining time as m:ss ("" when unknown)."""
    if seconds is None:
        return ""
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def step_text(step: int, total: int, elapsed: float) -> str:
    """The bar text of a pass ``step`` of ``total`` steps and ``elapsed`` s in.

    "step 3/12 · 2.5 it/s · ETA 0:04" (no ETA before the first step).
    """
    text = f"step {step}/{total} · {rate_per_second(step, elapsed):.1f} it/s"
    eta = format_eta(eta_seconds(step, total, elapsed))
    return f"{text} · ETA {eta}" if eta else text
