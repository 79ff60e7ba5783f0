"""``python main.py models list|download|scan|remove``."""

from __future__ import annotations

import json

import pytest

from core.cli.main import main
from core.library.catalog import DEFAULT_MODEL_ID
from tests.core.fake_hub import REPO, FakeHub
from tests.core.library_helpers import a1111_tree, comfyui_tree


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def _one_line_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and needle in err, err


def test_scan_prints_every_registered_file_with_kind_and_family(tmp_path, capsys):
    root = a1111_tree(tmp_path / "webui")
    assert main(["models", "scan", str(root)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    for kind, family, name in [
        ("checkpoint", "SD 1.x", "dreamy_v1"),
        ("checkpoint", "SDXL", "ponyish"),
        ("lora", "SD 1.x", "InkStyle"),
        ("controlnet", "SD 1.x", "control_canny"),
        ("vae", "any family", "vae-ft-mse"),
    ]:
        assert any(line.split()[:1] == [kind] and family in line and name in line for line in lines)
    assert lines[-1].startswith("registered 5 models in place from") and "(a1111)" in lines[-1]
    assert "skipped: old.ckpt: refused" in err and "broken.safetensors" in err


def test_scan_json_and_a_comfyui_tree(tmp_path, capsys):
    assert main(["models", "scan", str(comfyui_tree(tmp_path)), "--json", "--no-hash"]) == 0
    found = json.loads(capsys.readouterr().out)
    kinds = {item["name"]: item["kind"] for item in found["items"]}
    assert kinds["flux1-schnell"] == "unet" and kinds["clip_l"] == "text_encoder"
    assert all(item["hash"] == "" for item in found["items"]) and found["skipped"] == []


def test_scan_of_a_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["models", "scan", str(tmp_path / "nope")]) == 2
    _one_line_error(capsys, "is not a folder")


def test_list_shows_the_catalog_and_the_library(tmp_path, hub_cache, capsys):
    main(["models", "scan", str(a1111_tree(tmp_path / "webui"))])
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "SD-Turbo" in out and "FLUX.1 Fill" in out and "needs HF_TOKEN" in out
    assert "  lora · SD 1.x" in out and "InkStyle" in out

    assert main(["models", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["default"] == DEFAULT_MODEL_ID
    turbo = next(row for row in listing["catalog"] if row["id"] == DEFAULT_MODEL_ID)
    assert turbo["default"] and not turbo["cached"] and turbo["size_bytes"] > 0
    assert {"licence", "good_for", "family", "gated", "inpaint"} <= set(turbo)
    assert len(listing["library"]) == 5 and len(listing["folders"]) == 1


def test_remove_forgets_a_scanned_model_and_keeps_the_file(tmp_path, capsys):
    root = a1111_tree(tmp_path / "webui")
    main(["models", "scan", str(root)])
    capsys.readouterr()
    assert main(["models", "remove", "InkStyle"]) == 0
    assert "forgot" in capsys.readouterr().out
    assert (root / "models" / "Lora" / "InkStyle.safetensors").is_file()
    assert main(["models", "remove", str(root)]) == 0  # the whole folder
    assert "forgot" in capsys.readouterr().out
    main(["models", "list", "--json"])
    assert json.loads(capsys.readouterr().out)["library"] == []
    assert main(["models", "remove", "InkStyle"]) == 2
    _one_line_error(capsys, "nothing called 'InkStyle'")


@pytest.fixture
def hub(tiny_model_dir, tmp_path, monkeypatch):
    fake = FakeHub(tiny_model_dir, tmp_path / "fakehub").install(monkeypatch)
    yield fake
    fake.close()


def test_download_then_remove_a_hub_model_with_confirmation(hub, capsys):
    assert main(["models", "download", REPO, "--fp16", "no"]) == 0
    assert str(hub.snapshot()) in capsys.readouterr().out

    assert main(["models", "remove", REPO]) == 2
    _one_line_error(capsys, "add --yes to confirm")
    assert hub.snapshot().is_dir()
    assert main(["models", "remove", REPO, "--yes"]) == 0
    assert "deleted" in capsys.readouterr().out and not hub.snapshot().exists()


def test_download_errors_are_one_line(hub, capsys):
    hub.gated = True
    assert main(["models", "download", REPO]) == 2
    _one_line_error(capsys, "HF_TOKEN")
    assert main(["models", "download", "not-a-repo-id"]) == 2
    _one_line_error(capsys, "not a hub repo id")
