"""``--lora``, ``--controlnet``/``--control`` and ``--ip-adapter``/``--reference`` options.

Control layers and references are groups: ``--controlnet MODEL`` starts a control layer and the
control options after it (``--control``, ``--control-scale``, ``--control-range``,
``--canny-low``/``--canny-high``, ``--control-invert``, ``--control-off``) belong to it;
``--ip-adapter MODEL`` starts a reference and ``--reference``, ``--ip-scale``, ``--ip-mode`` belong
to it. A group option before its group, twice in one group, or a group left without its
``--control`` / ``--reference`` is a one-line usage error. A ``--reference`` before any
``--ip-adapter`` is an edit reference: an extra picture for an edit model (Qwen-Image-Edit-Plus).
"""

from __future__ import annotations

import argparse
from argparse import SUPPRESS
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.conditioning.annotator_files import needed_files, unavailable_reason
from core.conditioning.specs import (
    CONTROL_KINDS,
    MODEL_CONTROL_KINDS,
    REFERENCE_MODES,
    ControlLayer,
    LoraSpec,
    Reference,
)
from core.errors import UserError
from core.imaging import load_image


def control_help() -> str:
    """``--control``'s help: the types, and what the model-based ones need on disk."""
    needs = "; ".join(f"{kind} needs {needed_files(kind)}" for kind in MODEL_CONTROL_KINDS)
    text = (
        f"the control image: {'|'.join(CONTROL_KINDS)} (made from the input picture) or a "
        f"picture file used as it is (a depth, pose or normal map). {needs}"
    )
    return text.replace("%", "%%")  # argparse formats help texts


class _StartGroup(argparse.Action):
    """``--controlnet MODEL`` / ``--ip-adapter MODEL``: a new group on ``dest``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        groups = list(getattr(namespace, self.dest, None) or [])
        groups.append({"model": values, "option": option_string})
        setattr(namespace, self.dest, groups)


class _GroupOption(argparse.Action):
    """An option of the group last started on ``group`` (the Action's ``const``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        group_dest, starter, key = self.const
        groups = getattr(namespace, group_dest, None) or []
        if not groups:
            parser.error(f"{option_string} belongs to a {starter} group: give {starter} first")
        group = groups[-1]
        if key in group:
            parser.error(
                f"{option_string} given twice for {starter} {group['model']} "
                f"(start another {starter} for another one)"
            )
        group[key] = True if self.nargs == 0 else values


class _ReferenceOption(_GroupOption):
    """``--reference IMAGE``: the picture of the ``--ip-adapter`` group last started, or, before
    any, an edit reference (``edit_references``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, "references", None):
            group = namespace.references[-1]
            if "image" in group:
                parser.error(
                    f"{option_string} given twice for --ip-adapter {group['model']} (edit "
                    "references go before --ip-adapter; start another --ip-adapter for another "
                    "IP-Adapter reference)"
                )
            super().__call__(parser, namespace, values, option_string)
            return
        edits = list(getattr(namespace, "edit_references", None) or [])
        namespace.edit_references = [*edits, values]


def _in_group(
    p: argparse.ArgumentParser, flag: str, key: str, group: tuple[str, str], **kw: Any
) -> None:
    """``flag`` sets ``key`` of the group last started (nothing of its own in the namespace)."""
    dest = f"_{group[0]}_{key}"
    const = (*group, key)
    p.add_argument(flag, dest=dest, action=_GroupOption, const=const, default=SUPPRESS, **kw)


def _group_flag(
    p: argparse.ArgumentParser, flag: str, key: str, group: tuple[str, str], help: str
) -> None:
    _in_group(p, flag, key, group, nargs=0, help=help)


def add_conditioning_options(p: argparse.ArgumentParser) -> None:
    """The conditioning options shared by generate, the workflows and batch."""
    p.add_argument(
        "--lora",
        action="append",
        metavar="PATH[:WEIGHT]",
        help="a LoRA (.safetensors file, or a name from the LoRA folders) with its weight "
        "(1 when omitted); repeatable",
    )
    control = ("controls", "--controlnet")
    p.add_argument(
        "--controlnet",
        dest="controls",
        action=_StartGroup,
        metavar="MODEL",
        help="start a control layer: a ControlNet (folder, .safetensors or hub id); the control "
        "options after it belong to it; repeatable",
    )
    _in_group(p, "--control", "kind", control, metavar="TYPE|IMAGE", help=control_help())
    _in_group(p, "--control-scale", "strength", control, type=float, metavar="S",
              help="the layer's strength 0–2 (1)")  # fmt: skip
    _in_group(p, "--control-range", "range", control, metavar="START,END",
              help="the part of the denoise it acts in (0.0,1.0)")  # fmt: skip
    _in_group(p, "--canny-low", "low_threshold", control, type=int, metavar="N",
              help="Canny's low threshold (100)")  # fmt: skip
    _in_group(p, "--canny-high", "high_threshold", control, type=int, metavar="N",
              help="Canny's high threshold (200)")  # fmt: skip
    _group_flag(p, "--control-invert", "invert", control,
                "scribble/line art drawn dark on white paper")  # fmt: skip
    _group_flag(p, "--control-off", "off", control, "keep the layer but switch it off")
    reference = ("references", "--ip-adapter")
    p.add_argument(
        "--ip-adapter",
        dest="references",
        action=_StartGroup,
        metavar="MODEL",
        help="start a reference: an IP-Adapter (.safetensors, a folder or a hub id); "
        "--reference and --ip-scale after it belong to it; repeatable",
    )
    p.add_argument(
        "--reference",
        dest="_references_image",
        action=_ReferenceOption,
        const=(*reference, "image"),
        default=SUPPRESS,
        metavar="IMAGE",
        help="after --ip-adapter: its reference picture; before any --ip-adapter: an edit "
        "reference, an extra picture for an edit model that takes them (Qwen-Image-Edit-Plus: "
        "up to 2; 'image 2', 'image 3' in the instruction); repeatable",
    )
    _in_group(p, "--ip-scale", "scale", reference, type=float, metavar="S",
              help="how strongly the reference acts 0–2 (0.6)")  # fmt: skip
    _in_group(p, "--ip-mode", "mode", reference, choices=REFERENCE_MODES,
              help="standard, or style / composition only (SDXL)")  # fmt: skip


def parse_lora(text: str) -> LoraSpec:
    """``PATH[:WEIGHT]`` as a LoraSpec; a name without a path is kept as the name."""
    path, sep, weight = text.rpartition(":")
    if sep and path and not weight.startswith(("\\", "/")):
        try:
            return LoraSpec(path, float(weight))
        except ValueError:
            if Path(text).exists():
                return LoraSpec(text)
            raise UserError(f"--lora {text!r}: the weight after ':' must be a number") from None
    if not text.strip():
        raise UserError("--lora needs a file or a name")
    return LoraSpec(text)


def _range(text: str, model: str) -> tuple[float, float]:
    try:
        start, end = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(
            f"--control-range {text!r} (for --controlnet {model}): expected START,END like 0.0,0.8"
        ) from None
    return start, end


def control_layer(group: dict[str, Any]) -> ControlLayer:
    """One ``--controlnet`` group as a ControlLayer (its picture loaded)."""
    model = str(group["model"])
    kind = group.get("kind")
    if kind is None:
        raise UserError(f"--controlnet {model} needs --control TYPE|IMAGE after it")
    image = None
    if kind not in CONTROL_KINDS:
        if not Path(kind).is_file():
            kinds = ", ".join(CONTROL_KINDS)
            raise UserError(
                f"--control {kind}: neither a control type ({kinds}) nor a picture file"
            )
        image, kind = load_image(kind), "image"
    values: dict[str, Any] = {"model": model, "kind": kind, "image": image}
    if group.get("range") is not None:
        values["start"], values["end"] = _range(group["range"], model)
    for key in ("strength", "low_threshold", "high_threshold"):
        if group.get(key) is not None:
            values[key] = group[key]
    values["invert"] = bool(group.get("invert"))
    values["enabled"] = not group.get("off")
    return ControlLayer(**values)


def reference(group: dict[str, Any]) -> Reference:
    """One ``--ip-adapter`` group as a Reference (its picture loaded)."""
    model = str(group["model"])
    if group.get("image") is None:
        raise UserError(f"--ip-adapter {model} needs --reference IMAGE after it")
    values: dict[str, Any] = {"model": model, "image": load_image(group["image"])}
    for key in ("scale", "mode"):
        if group.get(key) is not None:
            values[key] = group[key]
    return Reference(**values)


def conditioning_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``loras``, ``controls``, ``references`` and ``edit_references`` for a PassRequest, from
    the parsed options.

    A control type that cannot be made here (its detector files missing) is a one-line
    UserError before any model loads; not with ``--worker``: the worker has its own files.
    """
    controls = tuple(control_layer(g) for g in getattr(args, "controls", None) or ())
    if not getattr(args, "worker", None):
        for layer in controls:
            reason = unavailable_reason(layer.kind) if layer.enabled else None
            if reason is not None:
                raise UserError(f"--control {layer.kind}: {reason}")
    return {
        "loras": tuple(parse_lora(text) for text in getattr(args, "lora", None) or ()),
        "controls": controls,
        "references": tuple(reference(g) for g in getattr(args, "references", None) or ()),
        "edit_references": tuple(
            load_image(path) for path in getattr(args, "edit_references", None) or ()
        ),
    }
