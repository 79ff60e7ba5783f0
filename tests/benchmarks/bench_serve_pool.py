"""Two passes at once on a two-replica Ray Serve pool vs one pass:
``python -m tests.benchmarks.bench_serve_pool --out FILE`` (make bench).

A local Ray instance (2 CPUs) runs ``serve --ray``'s pool with two one-CPU replicas and the tiny
model; after each replica has loaded it, the benchmark times one pass alone, then two passes
submitted together (two clients). Two passes in sequence on one replica would take twice one
pass; ``two_over_one`` near 1 means the pool served both side by side. Last, a pass whose replica
is killed at its first step, retried on the other: ``retried_over_one`` is what the fault cost
(about 1 plus the killed start). Writes JSON; without Ray Serve it records why and exits 0.
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
from typing import Any


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

    async def retried(queue: JobQueue, steps: int) -> float:
        """A pass whose replica is killed at its first step: seconds until its result."""
        start = time.perf_counter()
        job = queue.submit(request(9, steps), spec)
        killed = False
        async for message, _ in job.follow():
            if message["type"] == "step" and not killed:
                _kill(ray, job.replica)
                killed = True
        assert job.state == "done" and killed, job.error
        return time.perf_counter() - start

    async def measure(pool: object) -> dict:
        queue = JobQueue(executor=pool)  # type: ignore[arg-type]
        runner = asyncio.create_task(queue.run())
        try:
            await timed(queue, 2, 1)  # each replica loads the model
            one, _ = await timed(queue, 1, steps)
            two, replicas = await timed(queue, 2, steps)
            again = await retried(queue, steps)
        finally:
            runner.cancel()
        times = {"one_pass_s": round(one, 3), "two_at_once_s": round(two, 3)}
        return {**times, "retried_pass_s": round(again, 3), "replicas": replicas}

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
    result["retried_over_one"] = round(result["retried_pass_s"] / result["one_pass_s"], 3)
    result["distinct_replicas"] = len(set(result["replicas"]))
    return {"steps": steps, "size": size, **result}


def _kill(ray: Any, replica: str) -> None:
    """Kill the pool replica ``replica`` (its Serve actor), as a lost node would."""
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["name"].endswith(f"#{replica}"):
            ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=True)
            return


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
