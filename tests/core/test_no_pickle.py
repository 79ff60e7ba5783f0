"""No pickle anywhere: loading weights never unpickles (pickles can run code when loaded)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
import torch

from core.errors import ModelError
from core.models import ModelManager, ModelSpec

ROOT = Path(__file__).resolve().parents[2]
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve"}


def _sources() -> list[Path]:
    files = [ROOT / "main.py"]
    for package in ("core", "gui"):
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def _keyword(call: ast.Call, name: str) -> object:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def _receiver(call: ast.Call) -> str:
    func = call.func
    return ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""


def _problems(path: Path, text: str | None = None) -> list[str]:
    if text is None:
        text = path.read_text(encoding="utf-8")
    found = []
    for node in ast.walk(ast.parse(text, filename=str(path))):
        where = f"{path}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} imports {a.name}" for a in node.names if a.name in PICKLE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "") in PICKLE_MODULES:
            found.append(f"{where} imports from {node.module}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, receiver = node.func.attr, _receiver(node)
            weights_only = _keyword(node, "weights_only") is True
            if name == "load" and receiver == "torch" and not weights_only:
                found.append(f"{where} torch.load without weights_only=True")
            if name == "load" and receiver in ("np", "numpy") and _keyword(node, "allow_pickle"):
                found.append(f"{where} numpy.load with allow_pickle")
            weightless = "Tokenizer" in receiver or "ImageProcessor" in receiver  # JSON configs
            safe = _keyword(node, "use_safetensors") is True or weightless
            if name == "from_pretrained" and not safe:  # a tokenizer has no weights
                found.append(f"{where} {receiver}.from_pretrained without use_safetensors=True")
    return found


def test_the_source_tree_never_unpickles():
    problems = [problem for path in _sources() for problem in _problems(path)]
    assert problems == []


def test_the_scan_finds_what_it_looks_for():
    text = (
        "import pickle\nfrom dill import loads\nimport torch, numpy as np\n"
        "torch.load('x')\ntorch.load('x', weights_only=False)\nnp.load('x', allow_pickle=True)\n"
        "Pipe.from_pretrained('x')\nCLIPTokenizer.from_pretrained('x')\n"
        "torch.load('x', weights_only=True)\nPipe.from_pretrained('x', use_safetensors=True)\n"
    )
    assert len(_problems(Path("probe.py"), text)) == 6


def test_a_folder_with_only_pickled_weights_is_refused_without_unpickling(
    tiny_model_dir, tmp_path, monkeypatch
):
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    unet = folder / "unet" / "diffusion_pytorch_model.safetensors"
    torch.save(load_file(unet), unet.with_suffix(".bin"))
    unet.unlink()
    unpickled = []

    def no_torch_load(*args, **kwargs):
        unpickled.append(args)
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", no_torch_load)
    with pytest.raises(ModelError) as caught:
        ModelManager().load(ModelSpec(str(folder), device="cpu"))
    assert str(caught.value) == (
        f"the unet weights in {folder} are only pickle files (diffusion_pytorch_model.bin), "
        "which can run code when loaded; use a model with .safetensors weights"
    )
    assert unpickled == []
