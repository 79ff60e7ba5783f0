"""Fixtures of the core tests: an engine per module and the tiny model's spec."""

from __future__ import annotations

import pytest

import core.cli.common
from core.engine import Engine
from core.models import ModelSpec


@pytest.fixture(scope="module")
def engine():
    return Engine(previews=False)


@pytest.fixture
def spec(tiny_model_dir):
    return ModelSpec(str(tiny_model_dir), device="cpu")


@pytest.fixture(scope="module")
def shared_engine():
    """One engine per module for CLI tests, so the tiny model loads once."""
    return Engine(previews=False)


@pytest.fixture
def one_cli_engine(shared_engine, monkeypatch):
    """Every CLI command in the test reuses ``shared_engine`` (use with ``usefixtures``)."""
    monkeypatch.setattr(core.cli.common, "Engine", lambda: shared_engine)
    return shared_engine
