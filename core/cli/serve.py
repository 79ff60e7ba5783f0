"""``serve`` (a generation worker for remote clients) and ``generate … --worker URL`` (one pass
on such a worker, written exactly as a local pass is)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from core.cli.common import (
    EXIT_OK,
    Progress,
    check_output_path,
    request_from_args,
    sigint_cancels,
    write_result,
)
from core.engine import CancelToken
from core.errors import UserError
from core.events import PassResult
from core.imaging import load_image
from core.models import ModelSpec
from core.models.memory_modes import MEMORY_MODES

DEFAULT_PORT = 7860


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run a generation worker for remote clients")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    serve.add_argument("--model", help="the model offered as 'default' (folder, file or hub id)")
    serve.add_argument(
        "--token", help="token clients must send (generated and printed beyond loopback)"
    )
    serve.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    serve.add_argument("--dtype", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    serve.add_argument("--memory", default="auto", choices=MEMORY_MODES)
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C; passes run one at a time on one engine."""
    from core.models import classify_reference
    from core.remote.offered import OfferedModels
    from core.remote.server import is_loopback, make_app, start_server, worker_token

    if args.model:
        classify_reference(args.model)
    token = worker_token(args.host, args.token)
    spec = ModelSpec(args.model or "", None, args.device, args.dtype, args.memory)
    app = make_app(OfferedModels(args.model), spec, token)

    async def serve() -> None:
        runner, port = await start_server(app, args.host, args.port)
        print(f"worker listening on http://{args.host}:{port}", file=sys.stderr)
        if token and not args.token:
            print(f"token: {token}", file=sys.stderr)
        elif not token and is_loopback(args.host):
            print("no token: only this machine can connect", file=sys.stderr)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        print("worker stopped", file=sys.stderr)
    return EXIT_OK


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
        async with WorkerClient(args.worker, args.token) as worker:
            return await worker.run_pass(args.model, request, on_event=progress, cancel=token)

    try:
        with sigint_cancels(token):
            result = asyncio.run(run())
    finally:
        progress.close()
    return write_result(args, result, out)
