"""Batch on Ray vs local batch: ``python -m tests.benchmarks.bench_ray --out FILE`` (make bench).

The same folder and settings through local ``run_batch`` and through ``run_ray_batch`` with one
actor (a local Ray instance; the actor gets the GPU, or all the CPUs), reporting seconds per
item after the first (the first pays for loading the model in each case) and the ratio. Writes
JSON; without Ray it records why and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path


def bench(items: int, size: int, steps: int) -> dict:
    from core.engine import Engine
    from core.models import ModelSpec
    from core.requests import PassRequest
    from core.workflows.batch import run_batch
    from tests.tiny_models.images import make_image
    from tests.tiny_models.tiny_model import build_tiny_model

    root = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    model = build_tiny_model(root / "tiny")
    folder = root / "in"
    folder.mkdir()
    for k in range(items):
        make_image(size, size, seed=k).save(folder / f"img{k:03d}.png")
    spec = ModelSpec(str(model))
    template = PassRequest(make_image(size, size), "a house", strength=0.6, steps=steps, seed=1)

    start = time.perf_counter()
    local = run_batch(Engine(previews=False), folder, root / "local", template, spec)
    local_seconds = time.perf_counter() - start

    import ray

    from core.scaleout.ray_batch import run_ray_batch

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(include_dashboard=False, log_to_driver=False)
    try:
        start = time.perf_counter()
        remote = run_ray_batch(folder, root / "ray", template, spec, actors=1)
        ray_seconds = time.perf_counter() - start
    finally:
        ray.shutdown()
    same = all(
        (root / "ray" / p.name).read_bytes() == p.read_bytes()
        for p in (root / "local").glob("*.png")
    )
    return {
        "items": items,
        "size": size,
        "steps": steps,
        "local_seconds": round(local_seconds, 3),
        "ray_one_actor_seconds": round(ray_seconds, 3),
        "local_per_item": round(_per_item(local.done), 4),
        "ray_per_item": round(_per_item(remote.done), 4),
        "ray_over_local": round(_per_item(remote.done) / max(_per_item(local.done), 1e-9), 3),
        "outputs_identical": same,
    }


def _per_item(done: list) -> float:
    """Median seconds per item, the first (model loading) left out."""
    durations = sorted(item.duration for item in sorted(done, key=lambda i: i.source.name)[1:])
    return durations[len(durations) // 2] if durations else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench-out/ray.json"))
    parser.add_argument("--items", type=int, default=24)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    info = {"python": sys.version.split()[0], "machine": platform.machine()}
    try:
        import torch

        info["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        result = {**info, **bench(args.items, args.size, args.steps)}
    except ImportError as exc:
        result = {**info, "skipped": f"needs Ray: {exc}"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
