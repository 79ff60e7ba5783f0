"""The optional YuNet file: present but broken (garbage, truncated, empty, another network) is a
one-line error naming it, from detection and the ``faces`` command alike (the window's dialog:
tests/gui/test_face_detector_dialog.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from core.cli.main import main
from core.errors import ModelError
from core.imaging.faces import YUNET_FILE, detect_faces

DATA = Path(__file__).parent.parent / "data" / "faces"


def _other_network() -> bytes:
    """A valid ONNX model that is not YuNet (one ReLU, none of YuNet's outputs)."""
    from onnx import TensorProto, helper

    picture = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, None, None])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, None, None])
    graph = helper.make_graph([helper.make_node("Relu", ["input"], ["out"])], "g", [picture], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def broken_yunet(kind: str) -> bytes:
    return {
        "garbage": b"\x00not an onnx model\xff" * 64,
        "empty": b"",
        "truncated": _other_network()[:40],
        "other network": _other_network(),
    }[kind]


KINDS = ["garbage", "empty", "truncated", "other network"]


@pytest.fixture
def astronaut() -> Image.Image:
    return Image.open(DATA / "astronaut.jpg").convert("RGB")


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_file_in_the_data_folder_is_one_line(kind, tmp_path, astronaut):
    model = tmp_path / "data" / YUNET_FILE  # the data folder the conftest points at
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(broken_yunet(kind))
    with pytest.raises(ModelError) as caught:
        detect_faces(astronaut)
    message = str(caught.value)
    assert "\n" not in message and str(model) in message and "Haar" in message


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_named_file_is_one_line_from_the_faces_command(
    kind, tmp_path, monkeypatch, capsys
):
    model, out = tmp_path / "mine.onnx", tmp_path / "out.png"
    model.write_bytes(broken_yunet(kind))
    monkeypatch.setenv("IMG2IMG_STUDIO_FACE_MODEL", str(model))
    code = main(["faces", str(DATA / "astronaut.jpg"), "-o", str(out), "--model", "org/none"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert len(err.strip().splitlines()) == 1 and "mine.onnx" in err and "Traceback" not in err


def test_generate_fix_faces_stops_before_the_pass(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """The pass would be lost if detection failed after it: the file is checked first."""
    from core.engine import Engine

    passes: list[object] = []
    monkeypatch.setattr(Engine, "run_pass", lambda *args, **kw: passes.append(args))
    model, out = tmp_path / "mine.onnx", tmp_path / "out.png"
    model.write_bytes(broken_yunet("other network"))
    monkeypatch.setenv("IMG2IMG_STUDIO_FACE_MODEL", str(model))
    args = ["generate", str(DATA / "astronaut.jpg"), "-o", str(out), "--fix-faces"]
    code = main([*args, "--model", str(tiny_model_dir), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists() and passes == []
    assert len(err.strip().splitlines()) == 1 and "mine.onnx" in err
