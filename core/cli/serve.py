"""``serve`` (a generation worker for remote clients) and ``generate … --worker URL`` (one pass
on such a worker, written exactly as a local pass is)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.cli.common import (
    EXIT_OK,
    Progress,
    check_output_path,
    request_from_args,
    sigint_cancels,
    write_result,
)
from core.engine import CancelToken, Engine
from core.errors import UserError
from core.events import PassResult
from core.imaging import load_image
from core.models import ModelSpec
from core.models.memory_modes import MEMORY_MODES
from core.remote.token_file import TOKEN_ENV
from core.scaleout.pool_executor import DEFAULT_REPLICA_TIMEOUT_S

if TYPE_CHECKING:
    from core.models.warmup import WarmUp
    from core.remote.access import AccessPolicy
    from core.scaleout.pool_executor import ServePoolExecutor

DEFAULT_PORT = 7860


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run a generation worker for remote clients")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    serve.add_argument("--model", help="the model offered as 'default' (folder, file or hub id)")
    add_access_options(serve)
    serve.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    serve.add_argument("--dtype", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    serve.add_argument("--memory", default="auto", choices=MEMORY_MODES)
    serve.add_argument(
        "--preload",
        action="store_true",
        help="load --model in the background right after starting, so the first pass finds it "
        "loaded (the worker answers meanwhile)",
    )
    add_pool_options(serve)
    serve.set_defaults(handler=cmd_serve)


def add_pool_options(serve: argparse.ArgumentParser) -> None:
    """``--ray``: the passes run on a Ray Serve pool behind this worker's front door."""
    pool = serve.add_argument_group("GPU pool (Ray Serve)")
    pool.add_argument(
        "--ray", action="store_true", help="run the passes on a Ray Serve pool of engines"
    )
    pool.add_argument(
        "--address",
        metavar="ADDR",
        help="the Ray cluster to join ('auto', ray://host:10001); default: start one here",
    )
    pool.add_argument(
        "--replicas",
        metavar="N|MIN-MAX",
        help="engines in the pool: a count, or a range autoscaled on waiting passes "
        "(default: one per GPU, or 1)",
    )
    pool.add_argument(
        "--gpus-per-replica",
        type=float,
        metavar="G",
        help="GPUs each engine holds (default 1 when the cluster has GPUs, else 0)",
    )
    pool.add_argument(
        "--models-per-replica",
        type=int,
        default=2,
        metavar="K",
        help="models each engine keeps loaded (the least recently used goes first; 2)",
    )
    pool.add_argument(
        "--replica-timeout",
        type=float,
        metavar="SECONDS",
        help="an engine whose pass sends nothing (no step, no preview) for this long is "
        f"stopped and replaced, its pass failed (default {DEFAULT_REPLICA_TIMEOUT_S:g}; 0: never)",
    )


def add_access_options(serve: argparse.ArgumentParser) -> None:
    """Who may talk to the worker: its token, Basic credentials, extra Host names and Origins."""
    serve.add_argument(
        "--token",
        help=f"token clients must send (default: a new one each start; prefer --token-file or "
        f"${TOKEN_ENV}, which stay off the process list)",
    )
    serve.add_argument("--token-file", metavar="PATH", help="read the token from this file")
    serve.add_argument(
        "--no-token", action="store_true", help="ask no token (loopback only: 127.0.0.1, ::1)"
    )
    serve.add_argument(
        "--api-auth",
        metavar="USER:PASS",
        help="also accept HTTP Basic credentials (A1111 style)",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="answer to this Host name too (a reverse proxy's, a LAN name); repeatable",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="URL",
        help="let browser pages from this origin call the worker (e.g. https://app.example); "
        "repeatable",
    )


def access_from_args(args: argparse.Namespace) -> tuple[AccessPolicy, bool]:
    """The worker's access policy from its options, and whether its token was generated here."""
    from core.remote.access import AccessPolicy
    from core.remote.loopback import is_loopback
    from core.remote.server import worker_token

    given = (args.token or _read_token_file(args.token_file)).strip()
    if args.no_token and given:
        raise UserError("--no-token and a token (--token or --token-file) disagree")
    if not args.no_token:
        given = given or os.environ.get(TOKEN_ENV, "").strip()
    basic = args.api_auth or ""
    if basic and ":" not in basic:
        raise UserError("--api-auth wants USER:PASS")
    token = worker_token(args.host, given or None, no_token=args.no_token)
    hosts = tuple(args.allow_host)
    if not is_loopback(args.host):  # reachable from others: by this machine's own name too
        hosts += machine_names()
    access = AccessPolicy(token, basic, hosts, tuple(args.allow_origin))
    return access, bool(token) and not given


def machine_names() -> tuple[str, ...]:
    """This machine's own host names (``gpu-box``, ``gpu-box.local``, its full name)."""
    name = socket.gethostname().lower()
    short = name.split(".")[0]
    names = {name, short, f"{short}.local", socket.getfqdn(name).lower()}
    return tuple(sorted(n for n in names if n and n not in ("localhost", ".local")))


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C; passes run one at a time on one engine, or on a Ray Serve pool."""
    from core.models import classify_reference
    from core.remote.offered import OfferedModels
    from core.remote.server import make_app, start_server
    from core.remote.token_file import remove_token_file, write_token_file

    if args.model:
        classify_reference(args.model)
    if args.preload and not args.model:
        raise UserError("--preload needs --model (the model to load at start)")
    if args.preload and args.ray:
        raise UserError("--preload works without --ray (each pool engine loads on its first pass)")
    access, generated = access_from_args(args)
    spec = ModelSpec(args.model or "", None, args.device, args.dtype, args.memory)
    pool: ServePoolExecutor | None = None
    if args.ray:
        from core.remote.jobs import JobQueue
        from core.scaleout.serve_pool import pool_from_options

        pool = pool_from_options(
            args.replicas,
            args.gpus_per_replica,
            args.models_per_replica,
            args.address,
            args.replica_timeout,
        )
        print(f"Ray Serve pool: {pool.concurrency} engine(s) at most", file=sys.stderr)
        queue = JobQueue(executor=pool)
        app = make_app(OfferedModels(args.model), spec, access=access, queue=queue)
    else:
        pool_only = (args.gpus_per_replica, args.replica_timeout)
        if args.address or args.replicas or any(value is not None for value in pool_only):
            raise UserError(
                "--address, --replicas, --gpus-per-replica and --replica-timeout need --ray"
            )
        engine = Engine()
        app = make_app(OfferedModels(args.model), spec, access=access, engine=engine)
        if args.preload:
            preload(engine, spec)

    async def serve() -> None:
        runner, port = await start_server(app, args.host, args.port)
        token_file = None
        if access.token:  # written before the address is printed: a local client finds it
            try:
                token_file = write_token_file(port, access.token)
            except OSError as exc:
                print(f"could not write the token file: {exc.strerror or exc}", file=sys.stderr)
        print(f"worker listening on http://{_url_host(args.host)}:{port}", file=sys.stderr)
        if generated:
            print(f"token: {access.token}", file=sys.stderr)
        if token_file is not None:
            print(f"token file (this user only): {token_file}", file=sys.stderr)
        elif access.open:
            print("no token: only this machine can connect", file=sys.stderr)
        stop = asyncio.Event()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await stop.wait()
        finally:
            if access.token:
                remove_token_file(port, access.token)
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        print("worker stopped", file=sys.stderr)
    finally:
        if pool is not None:  # also when the port was taken: the pool goes with the worker
            pool.close()
    return EXIT_OK


def preload(engine: Engine, spec: ModelSpec) -> WarmUp:
    """``--preload``: load ``spec`` into the worker's engine on a background thread (the spec
    every pass on the default model uses, so the first one finds it loaded); says on the
    terminal when it starts and how it ended (a failure is one line: the worker keeps serving)."""
    from core.models.warmup import start_warm_up

    print(f"preloading {Path(spec.reference).name}…", file=sys.stderr)
    return start_warm_up(engine.models, spec, on_done=lambda line: print(line, file=sys.stderr))


def _read_token_file(path: str | None) -> str:
    if not path:
        return ""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the token file {path}: {exc}") from None
    if not token:
        raise UserError(f"the token file {path} is empty")
    return token


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run_on_worker(args: argparse.Namespace, workflow: list[str]) -> int:
    """``generate INPUT -o OUT --worker URL``: one pass on the worker (the model is one it
    offers), written atomically to OUT with the worker's record."""
    from core.remote.client import WorkerClient

    if workflow or args.fix_faces:
        used = f"--{workflow[0]}" if workflow else "--fix-faces"
        raise UserError(f"{used} runs locally only; drop it or --worker")
    out = check_output_path(args.output, [args.input, args.mask, args.strength_map], args.overwrite)
    request = request_from_args(args, load_image(args.input))
    token, progress = CancelToken(), Progress()

    async def run() -> PassResult:
        given = args.token or _read_token_file(args.token_file) or os.environ.get(TOKEN_ENV)
        given = given or None  # none: a worker on this machine is asked with its token file
        async with WorkerClient(args.worker, given) as worker:
            return await worker.run_pass(args.model, request, on_event=progress, cancel=token)

    try:
        with sigint_cancels(token):
            result = asyncio.run(run())
    finally:
        progress.close()
    return write_result(args, result, out)
