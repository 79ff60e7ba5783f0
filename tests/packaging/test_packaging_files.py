"""The packaging files agree with each other: the PyInstaller spec, the .desktop entry, the icon
sizes, the command's name, the Makefile targets; install_torch.sh picks the right torch build."""

from __future__ import annotations

import ast
import configparser
import os
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from core.resources import RESOURCE_PACKAGE
from gui.window.app_icon import ICON_NAME, ICON_SIZES
from gui.window.settings import APP_NAME

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
COMMAND = "img2img-studio"


def test_the_command_icon_and_spec_share_one_name():
    assert PYPROJECT["project"]["scripts"][COMMAND] == "main:main"
    assert ICON_NAME == COMMAND
    spec = (ROOT / "packaging" / "img2img-studio.spec").read_text()
    ast.parse(spec)  # valid Python
    assert f'APP_NAME = "{COMMAND}"' in spec
    assert '"main.py"' in spec and f'"{RESOURCE_PACKAGE}"' in spec
    assert '"resources"' in spec and (ROOT / "resources" / "icons").is_dir()


def test_desktop_entry_starts_the_command_with_the_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(ROOT / "resources" / f"{COMMAND}.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Name"] == APP_NAME
    assert section["Exec"].split()[0] == COMMAND
    assert section["TryExec"] == COMMAND
    assert section["Icon"] == ICON_NAME
    assert section["Terminal"] == "false"
    assert section["Categories"].endswith(";") and "Graphics" in section["Categories"]


def test_icon_is_an_svg_with_every_png_size():
    svg = ET.parse(ROOT / "resources" / "icons" / f"{ICON_NAME}.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 256 256"
    assert {16, 32, 48, 64, 128, 256, 512} <= set(ICON_SIZES)
    for size in ICON_SIZES:
        with Image.open(ROOT / "resources" / "icons" / f"{ICON_NAME}-{size}.png") as png:
            assert png.size == (size, size) and png.mode == "RGBA"


def test_package_extra_and_package_data_ship_the_icons():
    assert any(
        r.startswith("pyinstaller")
        for r in PYPROJECT["project"]["optional-dependencies"]["package"]
    )
    data = PYPROJECT["tool"]["setuptools"]["package-data"][RESOURCE_PACKAGE]
    assert {"icons/*.svg", "icons/*.png", "*.desktop"} <= set(data)


def test_makefile_builds_the_package_and_smoke_tests_it_outside_make_test():
    makefile = (ROOT / "Makefile").read_text()
    package = makefile.split("\npackage:", 1)[1].split("\n\n", 1)[0]
    assert "pyinstaller" in package and "packaging/img2img-studio.spec" in package
    assert f"packaging/smoke_test.sh dist/{COMMAND}/{COMMAND}" in package
    test = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "pyinstaller" not in test and "package" not in test
    assert "packaging/install_torch.sh $(PY) $(TORCH)" in makefile
    for script in ("smoke_test.sh", "install_torch.sh"):
        assert os.access(ROOT / "packaging" / script, os.X_OK)


# -- the torch build -----------------------------------------------------------------------------
@pytest.fixture
def fake_tools(tmp_path):
    """A fake python (records its pip arguments) and a bin folder for a fake nvidia-smi."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pip.log"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    python.chmod(0o755)
    return python, bin_dir, log


def _install_torch(python: Path, bin_dir: Path, choice: str) -> str:
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    script = ROOT / "packaging" / "install_torch.sh"
    done = subprocess.run(
        ["bash", script, python, choice, "2.13.0"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_without_an_nvidia_driver_the_cpu_build_is_chosen(fake_tools):
    python, bin_dir, log = fake_tools
    out = _install_torch(python, bin_dir, "auto")
    assert "CPU build" in out and "no NVIDIA driver" in out
    assert "--no-index --no-deps torch==2.13.0" in log.read_text()  # a local wheel first
    assert "download.pytorch.org" not in log.read_text()  # found locally: no other index


def test_with_an_nvidia_driver_the_cuda_build_is_chosen(fake_tools):
    python, bin_dir, log = fake_tools
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    out = _install_torch(python, bin_dir, "auto")
    assert "CUDA build" in out and "nvidia-smi found" in out
    assert "download.pytorch.org/whl/cu" in log.read_text()
    assert "CPU build" in _install_torch(python, bin_dir, "cpu")  # the override wins


def test_torch_skip_installs_nothing(fake_tools):
    python, bin_dir, log = fake_tools
    assert "leaving torch" in _install_torch(python, bin_dir, "skip")
    assert not log.exists()


def test_readme_shortcut_table_is_generated_from_the_window(qtbot):
    """packaging/readme_shortcuts.py writes it; rerun that script after changing a shortcut."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "readme_shortcuts", ROOT / "packaging" / "readme_shortcuts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert module.readme_table(readme) == module.generated_table(), (
        "the README's shortcut table is out of date: run packaging/readme_shortcuts.py"
    )


def test_readme_links_point_at_its_own_headings():
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    slugs = set()
    for heading in re.findall(r"^#+ (.+)$", readme, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        slugs.add(slug)
    links = set(re.findall(r"\]\(#([^)]+)\)", readme))
    assert links and links <= slugs, f"README links to missing sections: {sorted(links - slugs)}"
