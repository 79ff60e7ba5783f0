"""Shared fixtures: tiny random-weight SD 1.x models built offline once per test session."""

from __future__ import annotations

import os

import pytest

from tests.tiny_models.images import make_image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from tests.tiny_models.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_inpaint_dir(tmp_path_factory):
    from tests.tiny_models.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-sd-inpaint", inpaint=True)


@pytest.fixture(scope="session")
def tiny_single_file(tiny_model_dir, tmp_path_factory):
    from tests.tiny_models.ldm_export import export_single_file

    return export_single_file(
        tiny_model_dir, tmp_path_factory.mktemp("models") / "tiny.safetensors"
    )


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path, monkeypatch):
    """Keep tests away from the user's settings and caches."""
    monkeypatch.setenv("IMG2IMG_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("IMG2IMG_STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("IMG2IMG_STUDIO_DATA_DIR", str(tmp_path / "data"))  # autosaves
    monkeypatch.setenv("IMG2IMG_STUDIO_LOG_DIR", str(tmp_path / "log"))  # core/library_logs.py
    # No background model loads behind the tests' backs (tests/gui/test_warm_up.py turns it on).
    monkeypatch.setenv("IMG2IMG_STUDIO_WARM_UP", "0")


@pytest.fixture
def test_image():
    return make_image()
