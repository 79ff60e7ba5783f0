"""The typed pass context: conditioning reads and writes only PassContext's declared fields.

Conditioning (LoRAs, ControlNet layers, IP-Adapter references) is given a
:class:`~core.conditioning.context.PassContext`, never the engine's PassRun, and the engine reads
what it wrote (the record, the control images) back from that context's declared fields.
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core.engine.pass_run as pass_run_module
from core.conditioning import apply, control, ip_adapter, lora
from core.conditioning.context import PassContext
from core.conditioning.preprocess import control_image
from core.conditioning.specs import ControlLayer
from core.events import ModelLoading
from core.hashing import pixel_hash
from core.imaging import resize_to
from tests.core.conditioning_helpers import base_request, cpu_spec, drawing, make_controlnet

ROOT = Path(__file__).resolve().parents[2]
RUN_NAMES = {"run", "context"}  # the parameter names a pass's state travels under


@pytest.fixture(scope="module")
def controlnet_dir(tiny_model_dir, tmp_path_factory):
    return make_controlnet(tmp_path_factory, tiny_model_dir)


def test_the_context_declares_what_conditioning_reads_and_writes():
    fields = {f.name: f for f in dataclasses.fields(PassContext)}
    assert set(fields) == {
        "model",
        "request",
        "emit",
        "region_box",
        "record_extra",
        "control_images",
    }
    hints = typing.get_type_hints(PassContext)
    assert hints["control_images"] == tuple[Image.Image, ...]
    assert fields["control_images"].default == ()
    assert fields["region_box"].default is None


@pytest.mark.parametrize(
    "function",
    [
        apply.prepare_call,
        lora.apply_loras,
        control.control_call,
        control.layer_image,
        ip_adapter.reference_kwargs,
    ],
)
def test_conditioning_entry_points_take_the_context(function):
    assert typing.get_type_hints(function)["context"] is PassContext


def _run_parameters_typed_any(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for arg in node.args.args + node.args.kwonlyargs:
                annotation = ast.unparse(arg.annotation) if arg.annotation else ""
                if arg.arg in RUN_NAMES and annotation in ("", "Any", "typing.Any"):
                    found.append(f"{node.name}({arg.arg}: {annotation or 'untyped'})")
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("getattr", "hasattr"):
            target = node.args[0] if node.args else None
            if target is not None and ast.unparse(target).split(".")[0] in RUN_NAMES:
                found.append(ast.unparse(node))
    return found


def test_no_pass_state_travels_as_any_or_is_read_with_getattr():
    """A guard against the untyped run object coming back in conditioning or the engine."""
    offences = []
    for folder in ("core/conditioning", "core/engine"):
        for path in sorted((ROOT / folder).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            offences += [f"{path.name}: {o}" for o in _run_parameters_typed_any(tree)]
    assert offences == []


def test_the_guard_finds_an_untyped_run_and_a_getattr_read_back():
    source = (
        "def f(run: Any, pipe): return getattr(run, 'control_images', ())\n"
        "def g(context): pass\n"
        "def h(context: PassContext, run: PassRun): return getattr(pipe, 'unet', None)\n"
    )
    found = _run_parameters_typed_any(ast.parse(source))
    assert found == [
        "f(run: Any)",
        "g(context: untyped)",
        "getattr(run, 'control_images', ())",
    ]


def test_conditioning_runs_on_a_bare_context_without_the_engine(
    engine, tiny_model_dir, controlnet_dir
):
    """No PassRun at all: the context alone carries what the ControlNet layer needs (the
    request, the model, the crop) and receives its control image and record."""
    model = engine.models.load(cpu_spec(tiny_model_dir))
    own = drawing().resize((128, 128))
    layer = ControlLayer(str(controlnet_dir), kind="lineart", image=own, invert=True)
    request = base_request(controls=(layer,))
    events: list[object] = []
    box = (20, 20, 52, 52)
    context = PassContext(model, request, events.append, region_box=box)
    work = resize_to(request.image.crop(box), (64, 64))
    prepared = apply.prepare_call(context, model.img2img_pipe, {"image": work, "strength": 0.8})
    assert type(prepared.pipe).__name__ == "StableDiffusionControlNetImg2ImgPipeline"
    assert prepared.prompt == "a house"
    (shown,) = context.control_images
    expected = control_image(
        layer, own.resize((64, 64), Image.Resampling.LANCZOS).crop(box), work.size
    )
    assert np.array_equal(np.asarray(shown), np.asarray(expected))
    assert prepared.kwargs["control_image"] is shown
    (record,) = context.record_extra["controls"]
    assert record["image_hash"] == pixel_hash(shown) and record["kind"] == "lineart"
    assert any(isinstance(e, ModelLoading) and "ControlNet" in e.message for e in events)


def test_the_pass_result_takes_its_control_images_and_record_from_the_context(
    engine, tiny_model_dir, controlnet_dir, monkeypatch
):
    seen: list[PassContext] = []
    real = pass_run_module.prepare_call

    def watching(context, pipe, kwargs):
        assert isinstance(context, PassContext)  # never the PassRun itself
        seen.append(context)
        return real(context, pipe, kwargs)

    monkeypatch.setattr(pass_run_module, "prepare_call", watching)
    request = base_request(controls=(ControlLayer(str(controlnet_dir)),))
    result = engine.run_pass(request, cpu_spec(tiny_model_dir))
    (context,) = seen
    assert len(context.control_images) == 1
    assert result.control_images is context.control_images
    assert result.record["controls"] == context.record_extra["controls"]
    plain = engine.run_pass(request.replace(controls=()), cpu_spec(tiny_model_dir))
    assert plain.control_images == () and seen[-1].control_images == ()
