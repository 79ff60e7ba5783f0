"""Two passes at once on a two-replica Ray Serve pool vs one pass:
``python -m tests.benchmarks.bench_serve_pool --out FILE`` (make bench).

A local Ray instance (2 CPUs) runs ``serve --ray``'s pool with two one-CPU replicas and the tiny
model; after each replica has loaded it, the benchmark times one pass alone, then two passes
submitted together (two clients). Two passes in sequence on one replica would take twice one
pass; ``two_over_one`` near 1 means the pool served both side by side. Writes JSON; without Ray
Serve it records why and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path


def bench(steps: int, size: int) -> dict:
    import ray

    from core.models import ModelSpec
    from core.remote.jobs import JobQueue
    from core.requests import PassRequest
    from core.scaleout.serve_pool import PoolSettings, start_pool
    from tests.tiny_models.images import make_image
    from tests.tiny_models.tiny_model import build_tiny_model

    model = build_tiny_model(Path(tempfile.mkdtemp(prefix="bench-pool-")) / "tiny")
    spec = ModelSpec(str(model), device="cpu")

    def request(seed: int, steps: int) -> PassRequest:
        image = make_image(size, size, seed=seed)
        return PassRequest(image, "a house", strength=1.0, steps=steps, seed=seed, cfg=1.0)

    async def timed(queue: JobQueue, count: int, steps: int) -> tuple[float, list[str]]:
        start = time.perf_counter()
        jobs = [queue.submit(request(k, steps), spec) for k in range(count)]
        for job in jobs:
            async for _ in job.follow():
                pass
            assert job.state == "done", job.error
        return time.perf_counter() - start, [job.replica for job in jobs]

    async def measure(pool: object) -> dict:
        queue = JobQueue(executor=pool)  # type: ignore[arg-type]
        runner = asyncio.create_task(queue.run())
        try:
            await timed(queue, 2, 1)  # each replica loads the model
            one, _ = await timed(queue, 1, steps)
            two, replicas = await timed(queue, 2, steps)
        finally:
            runner.cancel()
        return {"one_pass_s": round(one, 3), "two_at_once_s": round(two, 3), "replicas": replicas}

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        pool = start_pool(PoolSettings(2, 2), stop_ray=True)
        try:
            result = asyncio.run(measure(pool))
        finally:
            pool.close()
    finally:
        ray.shutdown()
    result["two_over_one"] = round(result["two_at_once_s"] / result["one_pass_s"], 3)
    result["distinct_replicas"] = len(set(result["replicas"]))
    return {"steps": steps, "size": size, **result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench-out/serve-pool.json"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    info = {"python": sys.version.split()[0], "machine": platform.machine(), "cpus": os.cpu_count()}
    try:
        import ray.serve  # noqa: F401

        result = {**info, **bench(args.steps, args.size)}
    except ImportError as exc:
        result = {**info, "skipped": f"needs Ray Serve: {exc}"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
