"""Files shipped with the app (model configs, tokenizer files), found through importlib.resources.

The repository's ``resources/`` folder is installed as the package ``img2img_studio_resources``
(see ``pyproject.toml``), so the same lookup works from a checkout, an editable install and a wheel.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

RESOURCE_PACKAGE = "img2img_studio_resources"


def bundled_resource(name: str) -> Path:
    """The path of a bundled resource file or folder (``model_configs``, …)."""
    return Path(str(files(RESOURCE_PACKAGE) / name))
