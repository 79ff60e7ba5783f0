"""Fixtures of the core tests: an engine per module and the tiny model's spec."""

from __future__ import annotations

import pytest

from core.engine import Engine
from core.models import ModelSpec


@pytest.fixture(scope="module")
def engine():
    return Engine(previews=False)


@pytest.fixture
def spec(tiny_model_dir):
    return ModelSpec(str(tiny_model_dir), device="cpu")
