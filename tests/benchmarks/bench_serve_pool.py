"""Two passes at once on a two-replica Ray Serve pool vs one pass:
``python -m tests.benchmarks.bench_serve_pool --out FILE`` (make bench).

A local Ray instance (2 CPUs) runs ``serve --ray``'s pool with two one-CPU replicas (torch on one
thread each: ``torch_threads``, as each replica reports it) and the tiny model; after each replica
has loaded it, ``--rounds`` rounds each time one pass alone and two passes submitted together (two
clients), alternating which goes first. Two passes in sequence on one replica would take twice
one pass; ``two_over_one`` (the medians' ratio) near 1 means the pool served both side by side.
On a machine shared with other work, ``others_cpu_share`` says how much of the machine's CPU time
went to processes outside this benchmark while each kind of round ran (0.5 on two cores: one core
gone; Ray runs its replicas at ``replica_niceness`` 15, so they yield to such work), and
``cpu_two_over_one`` compares the replicas' CPU seconds per pass, two at once vs alone (near 1:
running side by side costs each pass nothing more, whatever the neighbours leave). The pool's
pictures are compared with a local pass on one torch thread and on the machine's default
(``thread_count_changes_pixels``). Last, a pass whose replica is killed at its
first step, retried on the other: ``retried_over_one`` is what the fault cost (about 1 plus the
killed start). Writes JSON; without Ray Serve it records why and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def bench(steps: int, size: int, rounds: int) -> dict:
    import ray

    from core.models import ModelSpec
    from core.remote.jobs import JobQueue
    from core.remote.protocol import read_png
    from core.requests import PassRequest
    from core.scaleout.serve_pool import PoolSettings, start_pool
    from tests.tiny_models.images import make_image
    from tests.tiny_models.tiny_model import build_tiny_model

    model = build_tiny_model(Path(tempfile.mkdtemp(prefix="bench-pool-")) / "tiny")
    spec = ModelSpec(str(model), device="cpu")

    def request(seed: int, steps: int) -> PassRequest:
        image = make_image(size, size, seed=seed)
        return PassRequest(image, "a house", strength=1.0, steps=steps, seed=seed, cfg=1.0)

    async def timed(queue: JobQueue, count: int, steps: int) -> tuple[float, list[Any]]:
        start = time.perf_counter()
        jobs = [queue.submit(request(k, steps), spec) for k in range(count)]
        for job in jobs:
            async for _ in job.follow():
                pass
            assert job.state == "done", job.error
        return time.perf_counter() - start, jobs

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

    async def measure(pool: Any) -> dict:
        queue = JobQueue(executor=pool)
        runner = asyncio.create_task(queue.run())
        times: dict[int, list[float]] = {1: [], 2: []}
        others: dict[int, list[float]] = {1: [], 2: []}
        cpu_per_pass: dict[int, list[float]] = {1: [], 2: []}
        pair: list[Any] = []
        try:
            await timed(queue, 2, 1)  # each replica loads the model
            for number in range(rounds):
                for count in (1, 2) if number % 2 == 0 else (2, 1):
                    before, replicas_before = _cpu_sample(), _replica_cpu(pool)
                    seconds, jobs = await timed(queue, count, steps)
                    times[count].append(seconds)
                    others[count].append(_others_share(before, _cpu_sample(), seconds))
                    used = _replica_cpu(pool) - replicas_before
                    cpu_per_pass[count].append(used / count)
                    pair = jobs if count == 2 else pair
            replicas = [job.replica for job in pair]
            pooled = np.asarray(read_png(pair[0].result_png, "result"))
            niceness = [_niceness(pool.replicas[replica]["pid"]) for replica in replicas]
            again = await retried(queue, steps)
        finally:
            runner.cancel()
        one, two = statistics.median(times[1]), statistics.median(times[2])
        return {
            "one_pass_s": round(one, 3),
            "two_at_once_s": round(two, 3),
            "two_over_one": round(two / one, 3),
            "rounds": {str(k): [round(t, 3) for t in v] for k, v in times.items()},
            "others_cpu_share": {str(k): [round(x, 2) for x in v] for k, v in others.items()},
            "cpu_two_over_one": round(
                statistics.median(cpu_per_pass[2]) / statistics.median(cpu_per_pass[1]), 3
            ),
            "replica_cpu_s_per_pass": {
                str(k): [round(x, 3) for x in v] for k, v in cpu_per_pass.items()
            },
            "retried_pass_s": round(again, 3),
            "retried_over_one": round(again / one, 3),
            "replicas": replicas,
            "distinct_replicas": len(set(replicas)),
            "torch_threads": {r: pool.replicas[r]["threads"] for r in sorted(pool.replicas)},
            "replica_niceness": niceness,
            "pixels": _compare_local(pooled, request(0, steps), spec),
        }

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        pool = start_pool(PoolSettings(2, 2, cpus_per_replica=1.0), stop_ray=True)
        try:
            result = asyncio.run(measure(pool))
        finally:
            pool.close()
    finally:
        ray.shutdown()
    return {"steps": steps, "size": size, **result}


def _compare_local(pooled: np.ndarray, request: Any, spec: Any) -> dict:
    """The pool's picture against local passes on one torch thread and on the default."""
    import torch

    from core.engine import Engine

    engine, default = Engine(previews=False), torch.get_num_threads()
    found = {}
    for threads in sorted({1, default}):
        torch.set_num_threads(threads)
        found[threads] = np.asarray(engine.run_pass(request, spec).image.convert("RGB"))
    torch.set_num_threads(default)
    return {
        "equal_to_local_1_thread": bool(np.array_equal(pooled, found[1])),
        "local_default_threads": default,
        "thread_count_changes_pixels": not np.array_equal(found[1], found[default]),
    }


def _cpu_sample() -> tuple[float, float] | None:
    """(the machine's busy CPU seconds, this benchmark's processes' CPU seconds), or None where
    /proc/stat or psutil is missing."""
    try:
        import psutil

        fields = Path("/proc/stat").read_text().split("\n")[0].split()[1:]
        ticks = [int(value) for value in fields]
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
        me = psutil.Process()
        ours = 0.0
        for process in [me, *me.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            ours += times.user + times.system
        return busy, ours
    except (ImportError, OSError, ValueError):
        return None


def _replica_cpu(pool: Any) -> float:
    """CPU seconds the pool's live replica processes have used so far (nan without psutil)."""
    try:
        import psutil
    except ImportError:
        return float("nan")
    total = 0.0
    for replica in pool.replicas.values():
        try:
            times = psutil.Process(replica["pid"]).cpu_times()
        except psutil.Error:  # a killed replica
            continue
        total += times.user + times.system
    return total


def _niceness(pid: int) -> int | None:
    """The replica process's nice value (Ray starts its workers at 15 by default)."""
    try:
        import psutil

        return int(psutil.Process(pid).nice())
    except Exception:  # no psutil, or the process is gone
        return None


def _others_share(
    before: tuple[float, float] | None, after: tuple[float, float] | None, seconds: float
) -> float:
    """The share of the machine's CPU time that other processes took over ``seconds``."""
    if before is None or after is None:
        return float("nan")
    others = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, others) / (seconds * (os.cpu_count() or 1))


def _machine() -> dict:
    """Python, the processor and its cores, and the load when the benchmark started."""
    model = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        model = names[0] if names else model
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    return {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "processor": model,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load],
    }


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
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    info = _machine()
    try:
        import ray.serve  # noqa: F401

        result = {**info, **bench(args.steps, args.size, args.rounds)}
    except ImportError as exc:
        result = {**info, "skipped": f"needs Ray Serve: {exc}"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
