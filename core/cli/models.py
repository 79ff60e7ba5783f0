"""``models list|download ID|scan DIR|remove ID``: the model manager on the command line.

``list`` shows the curated catalog (which models are in the HF cache) and the library of
folders scanned in place; ``download`` fetches a hub model with progress (Ctrl+C stops it, the
next download resumes); ``scan`` registers a folder's models in place and prints each one;
``remove`` forgets a scanned file or folder (files stay), or deletes a hub model from the HF
cache with ``--yes``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.cli.common import EXIT_CANCELLED, EXIT_OK, sigint_cancels
from core.engine import CancelToken
from core.errors import ModelError, UserError
from core.events import ModelLoading
from core.library import catalog
from core.library.download import download_model
from core.library.hub_cache import remove_cached, repo_cache_folder
from core.library.registry import LibraryItem, ModelLibrary, ScanProblem, item_fields
from core.library.scan import folder_layout
from core.model_spec import HUB_ID
from core.models.families import FAMILIES


def add_models_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``models`` command."""
    models = sub.add_parser("models", help="the model library: list, download, scan, remove")
    actions = models.add_subparsers(dest="action", required=True, parser_class=type(models))

    listing = actions.add_parser("list", help="catalog models (cached or not) and scanned ones")
    listing.add_argument("--json", action="store_true", help="print one JSON value on stdout")
    listing.set_defaults(handler=cmd_models_list)

    fetch = actions.add_parser("download", help="download a hub model into the HF cache")
    fetch.add_argument("model_id", metavar="ID", help="hub repo id, e.g. stabilityai/sd-turbo")
    fetch.add_argument(
        "--fp16",
        choices=("auto", "yes", "no"),
        default="auto",
        help="fetch the half-precision weights (auto: when a CUDA GPU is present)",
    )
    fetch.set_defaults(handler=cmd_models_download)

    scan = actions.add_parser("scan", help="register a model folder in place (A1111, ComfyUI…)")
    scan.add_argument("folder", metavar="DIR")
    scan.add_argument("--no-hash", action="store_true", help="skip the files' sha256 hashes")
    scan.add_argument("--json", action="store_true", help="print one JSON value on stdout")
    scan.set_defaults(handler=cmd_models_scan)

    remove = actions.add_parser("remove", help="forget a scanned model or delete a cached one")
    remove.add_argument("model", metavar="ID", help="library id, name, path, folder or hub id")
    remove.add_argument("--yes", action="store_true", help="confirm deleting a cached hub model")
    remove.set_defaults(handler=cmd_models_remove)


def _library() -> ModelLibrary:
    library = ModelLibrary()
    for warning in library.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return library


def _family_label(key: str) -> str:
    return FAMILIES[key].label if key in FAMILIES else (key or "any family")


def _size(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(n, 1) / 1e3:.0f} KB"


def cmd_models_list(args: argparse.Namespace) -> int:
    library = _library()
    catalog_rows = [
        {**entry.__dict__, "cached": (path := catalog.cached_path(entry.id)) is not None}
        | {"path": str(path) if path else None, "default": entry.id == catalog.DEFAULT_MODEL_ID}
        for entry in catalog.CATALOG
    ]
    items = library.items()
    if args.json:
        print(
            json.dumps(
                {
                    "default": catalog.DEFAULT_MODEL_ID,
                    "catalog": catalog_rows,
                    "folders": [str(f) for f in library.folders()],
                    "library": [item_fields(item) for item in items],
                }
            )
        )
        return EXIT_OK
    print("Catalog (Hugging Face hub; * the default):")
    for row in catalog_rows:
        mark = "*" if row["default"] else " "
        state = "cached" if row["cached"] else "—"
        gated = ", gated: needs HF_TOKEN" if row["gated"] else ""
        print(
            f" {mark} {row['name']:<22} {row['id']:<50} {_family_label(row['family']):<14} "
            f"{_size(row['size_bytes']):>8}  {state:<6}  {row['licence']}{gated} — "
            f"{row['good_for']}"
        )
    folders = len(library.folders())
    print(f"\nLibrary ({len(items)} models, {folders} folders scanned in place):")
    if not items:
        print("  nothing yet: python main.py models scan DIR registers a folder in place")
    group = None
    for item in items:
        if (item.kind, item.family) != group:
            group = (item.kind, item.family)
            print(f"  {item.kind} · {_family_label(item.family)}")
        print(
            f"    {item.name:<32} {_size(item.size_bytes):>8}  {item.hash or '':<10}  {item.path}"
        )
    return EXIT_OK


def cmd_models_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    model_id = args.model_id.strip()
    if not HUB_ID.match(model_id):
        raise UserError(f"'{model_id}' is not a hub repo id (org/name)")
    fp16 = args.fp16 == "yes" or (args.fp16 == "auto" and _has_cuda())
    token = CancelToken()
    bars: list[Any] = []  # made at the first progress event: nothing drawn when it fails at once

    def show(event: object) -> None:
        if isinstance(event, ModelLoading) and event.fraction is not None:
            if not bars:
                bars.append(
                    tqdm(total=1000, file=sys.stderr, leave=False, bar_format="{l_bar}{bar}")
                )
            bars[0].set_description_str(event.message)
            bars[0].update(round(event.fraction * 1000) - bars[0].n)

    try:
        with sigint_cancels(token):
            folder = download_model(model_id, show, token, fp16=fp16)
    finally:
        for bar in bars:
            bar.close()
    size = catalog.cached_size(model_id)
    print(f"{model_id}: in the Hugging Face cache at {folder} ({_size(size)})")
    return EXIT_OK


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def cmd_models_scan(args: argparse.Namespace) -> int:
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    library = _library()
    token = CancelToken()

    def show(item: LibraryItem) -> None:
        if not args.json:
            print(f"{item.kind:<12} {_family_label(item.family):<14} {item.name}  ({item.path})")

    def skipped(problem: ScanProblem) -> None:
        print(f"skipped: {problem.reason} ({problem.path.parent})", file=sys.stderr)

    with sigint_cancels(token):
        items = library.scan(folder, on_item=show, cancel=token, hashes=not args.no_hash,
                             on_problem=skipped)  # fmt: skip
    if args.json:
        problems = [{"path": str(p.path), "reason": p.reason} for p in library.problems]
        print(json.dumps({"items": [item_fields(i) for i in items], "skipped": problems}))
    else:
        source = folder_layout(folder.resolve())[0]
        print(
            f"registered {len(items)} models in place from {folder.resolve()} ({source})"
            + (f"; {len(library.problems)} skipped" if library.problems else "")
            + ("; cancelled before the end" if token.cancelled else "")
        )
    return EXIT_CANCELLED if token.cancelled else EXIT_OK


def cmd_models_remove(args: argparse.Namespace) -> int:
    wanted = args.model.strip()
    library = _library()
    item = library.find(wanted)
    folder = Path(wanted).expanduser().resolve() if wanted else None
    if item is not None or folder in library.folders():
        library.remove(wanted)
        what = item.path if item is not None else folder
        print(f"forgot {what} (its files stay where they are)")
        return EXIT_OK
    if HUB_ID.match(wanted) and repo_cache_folder(wanted).is_dir():
        size = catalog.cached_size(wanted)
        if not args.yes:
            raise UserError(
                f"this deletes {wanted} from the Hugging Face cache ({_size(size)}); "
                "add --yes to confirm"
            )
        freed = remove_cached(wanted)
        print(f"deleted {wanted} from the Hugging Face cache ({_size(freed)} freed)")
        return EXIT_OK
    raise ModelError(f"nothing called '{wanted}' in the model library or the Hugging Face cache")
