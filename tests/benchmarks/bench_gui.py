"""GUI benchmark: the real window under Xvfb (or offscreen) running passes on a 1024² picture.

``python -m tests.benchmarks.bench_gui --out bench-out/gui.json`` (``make bench`` runs it under
``xvfb-run`` when Xvfb is installed). The tiny model is built in a subprocess, so the first pass
really is cold: torch and diffusers are imported and the model loads while the timer runs.

Measured: the longest gap between 16 ms ticks of a QTimer on the GUI thread during the cold pass
and during warm passes (previews every step), click → first preview shown on the canvas,
click → result shown, and what the GUI thread was doing in each gap over 30 ms (sampled from
another thread with ``sys._current_frames``), so a stall names its cause.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.benchmarks.timing import TickRecorder, wait_until, write_report

GAP_TARGET_S = 0.030


class StackSampler:
    """Samples the GUI thread's Python stack every ``interval`` s from a daemon thread."""

    def __init__(self, thread_id: int, interval: float = 0.004) -> None:
        self.thread_id = thread_id
        self.interval = interval
        self.samples: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> StackSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(self.thread_id)
            if frame is not None:
                self.samples.append((time.perf_counter(), _describe(frame)))

    def during(self, start: float, end: float) -> list[str]:
        """The most frequent stacks sampled between ``start`` and ``end``."""
        found = Counter(text for t, text in self.samples if start <= t <= end)
        return [f"{count}× {text}" for text, count in found.most_common(3)]


def _describe(frame: Any, depth: int = 4) -> str:
    """The innermost project frames (else the innermost frames) of a stack, as one line.

    Walks the frames itself: ``traceback`` would read source lines (``linecache`` stats every
    file), holding the GIL long enough to cause the very stalls being measured."""
    stack = []
    while frame is not None:
        stack.append((frame.f_code.co_filename, frame.f_code.co_name, frame.f_lineno))
        frame = frame.f_back
    ours = [f for f in stack if "site-packages" not in f[0] and "runpy" not in f[0]]
    chosen = (ours or stack)[:depth]
    return " < ".join(f"{Path(name).stem}.{function}:{line}" for name, function, line in chosen)


def _one_pass(app: Any, window: Any, ticks: TickRecorder, sampler: StackSampler) -> dict:
    """Click Generate, wait for the result on the canvas; gaps, first preview and result times."""
    marks: dict[str, float] = {}
    canvas = window.canvas
    original_show = canvas.show_preview

    def show_preview(image: Any) -> None:
        original_show(image)
        if image is not None and "preview" not in marks:
            marks["preview"] = time.perf_counter()

    canvas.show_preview = show_preview
    passes_before = len(window.tree)  # Generate files a pass; the input stays as it was
    ticks.start()
    click = time.perf_counter()
    window.generate_button.click()
    if not window.busy:
        raise RuntimeError(f"Generate did not start: {window.statusBar().currentMessage()}")
    wait_until(app, lambda: not window.busy)
    if len(window.tree) == passes_before:
        raise RuntimeError(f"the pass gave no result: {window.progress_bar.format()}")
    marks["result"] = time.perf_counter()
    end = marks["result"] + 0.3  # what follows the result (thumbnails, autosave) counts too
    wait_until(app, lambda: time.perf_counter() >= end)
    ticks.stop()
    canvas.show_preview = original_show
    gaps = ticks.longest_gaps()
    return {
        "longest_gap_ms": round(gaps[0][1] * 1000, 1),
        "ticks": len(ticks.ticks),
        "click_to_first_preview_s": round(marks.get("preview", float("nan")) - click, 4),
        "click_to_result_s": round(marks["result"] - click, 4),
        "stalls": [
            {
                "gap_ms": round(length * 1000, 1),
                "at_s": round(start - click, 3),
                # CPU the GUI thread itself used in the gap: the rest is waiting (GIL, cores)
                "gui_cpu_ms": round(cpu * 1000, 1),
                "gui_thread": sampler.during(start, start + length),
            }
            for start, length, cpu in gaps
            if length > GAP_TARGET_S
        ],
    }


def measure(
    side: int, steps: int, warm_rounds: int, work_size: str = "auto", warm_up: bool = False
) -> dict:
    """Run one cold and ``warm_rounds`` warm passes on a ``side``² picture in the real window.
    ``warm_up``: the window loads the model in the background first (gui.run.warm_up) and the
    first Generate follows once it has; otherwise warming up is off and that pass is cold."""
    os.environ["IMG2IMG_STUDIO_WARM_UP"] = "1" if warm_up else "0"
    work = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    for name in ("CONFIG", "CACHE", "DATA"):
        os.environ[f"IMG2IMG_STUDIO_{name}_DIR"] = str(work / name.lower())
    os.environ["HF_HUB_OFFLINE"] = "1"
    model = work / "tiny"
    subprocess.run(
        [sys.executable, "-m", "tests.tiny_models.tiny_model", str(model)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    from PIL import Image

    picture = work / "picture.png"
    Image.effect_mandelbrot((side, side), (-2.0, -1.5, 1.0, 1.5), 100).convert("RGB").save(picture)

    import main

    assert "torch" not in sys.modules, "the benchmark must start without torch (cold pass)"
    window = main.build_window([str(picture), "--model", str(model)])
    warmed: list[str] = []
    if warm_up:
        window.worker.warmed.connect(warmed.append)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    window.resize(1400, 1000)
    window.show()
    from gui.window import project_actions

    project_actions.ask_save_changes = lambda *_args: "discard"  # type: ignore[assignment]
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    window.state.update(
        steps=steps, strength=1.0, prompt="a castle", seed_locked=True, seed=1, work_size=work_size
    )
    warm_up_s = None
    if warm_up:  # the user paints meanwhile: Generate comes once the model is ready
        began = time.perf_counter()
        wait_until(app, lambda: bool(warmed) and not window.worker.warming_up)
        warm_up_s = round(time.perf_counter() - began, 2)
    ticks = TickRecorder()
    with StackSampler(threading.get_ident()) as sampler:
        cold = _one_pass(app, window, ticks, sampler)
        warm = [_one_pass(app, window, ticks, sampler) for _ in range(warm_rounds)]
    window.close()
    app.processEvents()
    from tests.benchmarks.machine import machine_info  # torch is loaded by now

    machine = machine_info()
    step_s = statistics.median(
        (w["click_to_result_s"] - w["click_to_first_preview_s"]) / max(1, steps - 1) for w in warm
    )
    first_preview = statistics.median(w["click_to_first_preview_s"] for w in warm)
    return {
        "machine": machine,
        "platform": os.environ.get("QT_QPA_PLATFORM") or "xcb",
        "picture": f"{side}x{side}",
        "work_size": work_size,
        "warm_up": warmed[0] if warm_up and warmed else "off",
        "warm_up_wait_s": warm_up_s,
        "steps": steps,
        "target_gap_ms": GAP_TARGET_S * 1000,
        "cold_longest_gap_ms": cold["longest_gap_ms"],
        "warm_longest_gap_ms": max(w["longest_gap_ms"] for w in warm),
        "warm_median_longest_gap_ms": statistics.median(w["longest_gap_ms"] for w in warm),
        "click_to_first_preview_s": round(first_preview, 4),
        "seconds_per_step": round(step_s, 4),
        "first_preview_minus_one_step_ms": round((first_preview - step_s) * 1000, 1),
        "click_to_result_s": round(statistics.median(w["click_to_result_s"] for w in warm), 4),
        "cold": cold,
        "warm": warm,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_gui")
    parser.add_argument("--out", default="bench-out/gui.json")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="warm passes after the cold one")
    parser.add_argument(
        "--work-size",
        default="auto",
        help="the pass's work size: auto (the tiny model works small; the window still shows, "
        "converts and thumbnails the full-size picture) or input (1024² passes: the tiny "
        "model's full-resolution attention makes that minutes per pass on a 2-core CPU)",
    )
    parser.add_argument(
        "--warm-up",
        action="store_true",
        help="let the window load the model in the background first; the first Generate "
        "follows once it is ready (without it the first pass is cold)",
    )
    args = parser.parse_args(argv)
    report = measure(args.size, args.steps, args.rounds, args.work_size, args.warm_up)
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
