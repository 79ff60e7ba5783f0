"""The README's performance table, generated from the benchmarks' JSON.

``python -m tests.benchmarks.report bench-out [--readme README.md]`` prints the table (and with
``--readme`` replaces the text between the ``bench-table`` markers there). Reads
``bench-out/app.json`` (bench_app), ``gui.json`` (bench_gui), ``canvas.json`` (bench_canvas) and
every ``docs/bench/gpu-*.json`` / ``bench-out/gpu*.json`` (bench_gpu, one machine each); after the
table, one table per side-by-side benchmark that ran, each naming its machine: ``families.json``
(bench_families), ``options.json`` (bench_options), and the weights of ``big-models.json`` and
every ``cpu-weights*.json`` (cpu_weights).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tests.benchmarks import bench_families, bench_options, cpu_weights
from tests.benchmarks.bench_colour import colour_rows

UNET_RATES = ("sdpa_it_s", "sdpa_channels_last_it_s", "compiled_cuda_graphs_it_s")
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def _preview_row(passes: dict, label: str) -> tuple[str, ...]:
    """The previewer's share of a step, timed around its calls where the run has it (the
    difference of the medians with and without previews says the same within the noise)."""
    medians = f"{passes['preview_cost_per_step_pct']} %"
    direct = passes.get("previewer_share_of_step_pct")
    if direct is None:
        ok = passes["preview_cost_per_step_pct"] <= 1
        return ("Previews: cost per step (every step), " + label, medians, "≤ 1 %", _met(ok))
    return (
        f"Previews: cost per step (every step), {label}: previewer timed (difference of medians)",
        f"{direct} % ({medians})",
        "≤ 1 %",
        _met(direct <= 1),
    )


def _cpu_rows(app: dict, gui: dict | None, canvas: dict | None) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    tiny = app.get("tiny_pass")
    if tiny:
        rows.append(
            (
                "App pass / bare diffusers, tiny model " + tiny["image"],
                f"{tiny['app_over_bare']}×",
                "≤ 1.03×",
                _met(tiny["app_over_bare"] <= 1.03),
            )
        )
        rows.append(_preview_row(tiny, "tiny model"))
    sd15 = app.get("sd15_pass")
    if sd15:
        rows.append(
            (
                f"App pass / bare diffusers, SD 1.5-size {sd15['image']}, {sd15['steps']} steps",
                f"{sd15['app_over_bare']}× ({sd15['app_seconds']} s)",
                "≤ 1.03×",
                _met(sd15["app_over_bare"] <= 1.03),
            )
        )
        rows.append(_preview_row(sd15, "SD 1.5-size"))
    precision = app.get("sd15_precision")
    if precision:
        unet_dtype = precision["auto_unet_dtype"].replace("torch.", "")
        difference = (
            f"{precision['mean_abs_pixel_difference']} / {precision['max_abs_pixel_difference']}"
        )
        rows.append(
            (
                "`auto` (bf16 UNet, fp32 VAE) / fp32, SD 1.5-size, speed",
                f"{precision['auto_over_fp32']}× (UNet {unet_dtype})",
                "< 1×",
                _met(precision["auto_over_fp32"] < 1),
            )
        )
        rows.append(
            (
                "`auto` vs fp32: mean / max pixel difference (0–255)",
                difference,
                "small",
                "—",
            )
        )
    for key, label in (("tiny_rss", "tiny"), ("sd15_rss", "SD 1.5-size")):
        rss = app.get(key)
        if rss:
            rows.append(
                (
                    f"Peak RSS, one pass, {label}: app / bare",
                    f"{rss['app_over_bare']}× ({rss['app_mb']:.0f} / {rss['bare_mb']:.0f} MB)",
                    "≤ 1.1×",
                    _met(rss["app_over_bare"] <= 1.1),
                )
            )
    batch = app.get("tiny_batch")
    if batch:
        rows.append(
            (
                f"Batch folder ({batch['images']} × {batch['image']}) / a bare diffusers loop",
                f"{batch['app_throughput_over_bare']}×",
                "≥ 0.97×",
                _met(batch["app_throughput_over_bare"] >= 0.97),
            )
        )
    if gui:
        where = (
            f"{gui['picture']} picture, work size {gui.get('work_size', 'input')}, "
            f"{gui['steps']} steps, previews every step, {gui['platform']}"
        )
        rows.append(
            (
                f"GUI thread: longest gap between 16 ms ticks, cold first pass ({where})",
                f"{gui['cold_longest_gap_ms']:.0f} ms",
                "≤ 30 ms",
                _met(gui["cold_longest_gap_ms"] <= 30),
            )
        )
        rows.append(
            (
                "GUI thread: longest gap, warm passes (worst of the rounds / median)",
                f"{gui['warm_longest_gap_ms']:.0f} / {gui['warm_median_longest_gap_ms']:.0f} ms",
                "≤ 30 ms",
                _met(gui["warm_longest_gap_ms"] <= 30),
            )
        )
        rows.append(
            (
                "Click → first preview on the canvas, warm model",
                f"{gui['click_to_first_preview_s'] * 1000:.0f} ms "
                f"(one step {gui['seconds_per_step'] * 1000:.0f} ms)",
                "≤ step + 50 ms",
                _met(gui["first_preview_minus_one_step_ms"] <= 50),
            )
        )
    if canvas:
        rows.append(
            (
                "Mask brush on a 2048² picture: ms per mouse event (mean / p95)",
                f"{canvas.get('mean_ms_per_event', '?')} / {canvas.get('p95_ms_per_event', '?')}",
                "—",
                "—",
            )
        )
    return rows


def _gpu_rows(gpu: dict) -> list[tuple[str, ...]]:
    card = f"{gpu.get('device', '?')}, {gpu.get('date', '')}".rstrip(", ")
    rows: list[tuple[str, ...]] = []
    if "sd15" in gpu or "sdxl" in gpu:  # bench_gpu's layout since issue 12
        for family in ("sd15", "sdxl"):
            part = gpu.get(family)
            if not part:
                continue
            name = {"sd15": "SD 1.5-size", "sdxl": "SDXL-size"}[family]
            denoiser = part.get("denoiser", {})
            rows.append(
                (
                    f"[{card}] {name} UNet {part['image']}, CFG batch: it/s eager / "
                    "channels_last / compiled",
                    " / ".join(str(denoiser.get(key, "—")) for key in UNET_RATES),
                    "≥ 100 (SD 1.5)" if family == "sd15" else "—",
                    _met(denoiser.get("compiled_cuda_graphs_it_s", 0) >= 100)
                    if family == "sd15"
                    else "—",
                )
            )
            rows.append(
                (
                    f"[{card}] {name}: app / its own bare pipeline",
                    f"{part['app_vs_own_bare']}×",
                    "≤ 1.03×",
                    _met(part["app_vs_own_bare"] <= 1.03),
                )
            )
            rows.append(
                (
                    f"[{card}] {name}: previews on / off; first preview − one step",
                    f"{part['previews_cost']}×; {part['first_preview_minus_one_step_ms']} ms",
                    "≤ 1.01×; ≤ 50 ms",
                    _met(part["first_preview_minus_one_step_ms"] <= 50),
                )
            )
            switch = part.get("mode_switch_overhead_s", {})
            worst = max(switch.values()) if switch else None
            rows.append(
                (
                    f"[{card}] {name}: img2img ↔ inpaint ↔ strength map, extra seconds",
                    f"{worst}",
                    "≤ 0.1 s",
                    _met(worst is not None and worst <= 0.1),
                )
            )
        return rows
    # the first GPU run's layout (docs/bench/gpu-h200.json)
    rows.append(
        (
            f"[{card}] SD 1.5-size 512², {gpu['steps_run']} steps: seconds per step",
            f"{gpu['seconds_per_step'] * 1000:.0f} ms",
            "—",
            "—",
        )
    )
    rows.append(
        (
            f"[{card}] The engine / a bare diffusers call",
            f"{gpu['engine_vs_bare']}×",
            "≤ 1.03×",
            _met(gpu["engine_vs_bare"] <= 1.03),
        )
    )
    rows.append(
        (
            f"[{card}] Previews on / off",
            f"{gpu['previews_cost']}×",
            "≤ 1.01×",
            _met(gpu["previews_cost"] <= 1.01),
        )
    )
    rows.append(
        (
            f"[{card}] Click → first preview, warm model",
            f"{gpu['first_preview_seconds'] * 1000:.0f} ms",
            "≤ step + 50 ms",
            _met(gpu["first_preview_seconds"] - gpu["seconds_per_step"] <= 0.05),
        )
    )
    rows.append(
        (
            f"[{card}] Peak GPU memory (SD 1.5 fp16, 512²)",
            f"{gpu['peak_gpu_memory_gib']} GiB",
            "—",
            "—",
        )
    )
    return rows


def _more_cpu_rows(
    engine: dict | None, live: dict | None, ray: dict | None, remote_live: list[dict] | None = None
) -> list[tuple[str, ...]]:
    """Mode switches (bench_engine), live latency (bench_live), Ray (bench_ray)."""
    rows: list[tuple[str, ...]] = []
    switch = ((engine or {}).get("tiny") or {}).get("mode_switch_overhead_s")
    if switch:
        worst = max(switch.values())
        rows.append(
            (
                "img2img ↔ inpaint ↔ strength map on a loaded model: extra seconds of a switch "
                "(tiny model, worst mode)",
                f"{worst:+.3f} s",
                "≤ 0.1 s",
                _met(worst <= 0.1),
            )
        )
    for remote in remote_live or []:
        rows.append(
            (
                f"Live mode on a worker (`serve` on this machine), {remote['model']} "
                f"{remote['picture']}: edit → result, median / worst",
                f"{remote['edit_to_result_median_s']} / {remote['edit_to_result_max_s']} s",
                "—",
                "—",
            )
        )
    if live:
        rows.append(
            (
                f"Live mode, {live['model']} {live['picture']}: edit → result, median / worst "
                f"(debounce {live['debounce_s'] * 1000:.0f} ms included)",
                f"{live['edit_to_result_median_s']} / {live['edit_to_result_max_s']} s",
                "—",
                "—",
            )
        )
        rows.append(
            (
                "Live mode: longest GUI gap while editing",
                f"{live['longest_gui_gap_ms']:.0f} ms",
                "≤ 30 ms",
                _met(live["longest_gui_gap_ms"] <= 30),
            )
        )
    if ray:
        rows.append(
            (
                f"Batch on Ray (one actor) / local, per item ({ray['items']} × {ray['size']}², "
                "tiny model)",
                f"{ray['ray_over_local']}× (outputs identical: {ray['outputs_identical']})",
                "—",
                "—",
            )
        )
    return rows


def table(out_dir: Path, docs: Path = Path("docs/bench")) -> str:
    """The markdown table and a line naming the machines."""
    app = _load(out_dir / "app.json") or {}
    gui = _load(out_dir / "gui.json")
    machine = app.get("machine") or (gui or {}).get("machine", {})
    lines = []
    if machine:
        lines.append(
            f"CPU rows: {machine['cpu']}, {machine['cores']} cores (fast bf16: "
            f"{'yes' if machine['cpu_fast_bf16'] else 'no'}), torch {machine['torch']}, "
            f"{machine['date']}, load average {machine['load_average'][0]} while measuring."
        )
    lines += ["", "| What | Measured | Target | Met |", "|---|---|---|---|"]
    rows = _cpu_rows(app, gui, _load(out_dir / "canvas.json"))
    remote_live = [_load(out_dir / "live-remote.json")]
    rows += _more_cpu_rows(
        _load(out_dir / "bench.json"),
        _load(out_dir / "live.json"),
        _load(out_dir / "ray.json"),
        [report for report in remote_live if report],
    )
    rows += colour_rows(_load(out_dir / "colour.json"))
    gpu_files = sorted(docs.glob("gpu-*.json")) + sorted(out_dir.glob("gpu*.json"))
    gpu_files = list(dict.fromkeys(path.resolve() for path in gpu_files))  # docs as out_dir
    for path in gpu_files:
        gpu = _load(path)
        if gpu and "device" in gpu:
            rows += _gpu_rows(gpu)
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines + _side_by_side_tables(out_dir))


def _side_by_side_tables(out_dir: Path) -> list[str]:
    """The tables of the side-by-side benchmarks that ran (a blank line before each)."""
    tables = []
    families = _load(out_dir / "families.json")
    if families and "families" in families:
        tables.append(bench_families.markdown_table(families))
    options = _load(out_dir / "options.json")
    if options:
        tables.append(bench_options.markdown_table(options))
    weights = [out_dir / "big-models.json", *sorted(out_dir.glob("cpu-weights*.json"))]
    for report in filter(None, map(_load, weights)):
        tables += [cpu_weights.markdown_table(report, key) for key in cpu_weights.SECTIONS
                   if key in report]  # fmt: skip
    return [line for text in tables for line in ("", text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.report")
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("bench-out"))
    parser.add_argument("--readme", type=Path, help="replace the table between the markers")
    args = parser.parse_args(argv)
    text = table(args.out_dir)
    print(text)
    if args.readme:
        readme = args.readme.read_text(encoding="utf-8")
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        args.readme.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
