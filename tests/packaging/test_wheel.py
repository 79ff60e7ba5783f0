"""`pip install .` (not editable) gives a working app: packages, bundled files, the command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

from core.metadata import read_metadata
from tests.tiny_models.images import make_image

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_in_the_tree_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("core", "gui")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, f"add to pyproject's packages: {sorted(found - listed)}"
    assert "img2img_studio_resources" in listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            out,
            ROOT,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    (found,) = out.glob("img2img_studio-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; its dependencies come from the dev venv's
    site-packages (added as a plain path, so the editable install's finder is not loaded)."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=False)
    site = next(env_dir.glob("lib/python*/site-packages"))
    (site / "dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-index",
            wheel,
        ],
        check=True,
        capture_output=True,
    )
    return env_dir


def _run(env_dir: Path, program: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [str(env_dir / "bin" / program), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def test_installed_wheel_finds_its_code_and_bundled_configs(installed, tmp_path):
    code = (
        "import core, gui, main; from core.models.files import BUNDLED_CONFIGS as c; "
        "print(core.__file__); print(c); "
        "assert (c / 'sd15' / 'tokenizer' / 'vocab.json').is_file()"
    )
    done = _run(installed, "python", "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert str(ROOT) not in done.stdout, "imported the checkout, not the installed wheel"
    assert "site-packages" in done.stdout


def test_installed_command_generates_from_a_single_file(
    installed, tiny_single_file, tiny_model_dir, tmp_path
):
    make_image(64, 64).save(tmp_path / "in.png")
    args = ["generate", "in.png", "-o", "out.png", "--model", str(tiny_single_file)]
    args += ["--model-config", str(tiny_model_dir), "--steps", "2", "--seed", "1", "--json"]
    done = _run(installed, "img2img-studio", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert read_metadata(tmp_path / "out.png")["record"]["model"]["name"] == "tiny"


def test_wheel_declares_the_command_and_ships_the_icon_and_desktop_entry(wheel):
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "[console_scripts]" in text and "img2img-studio = main:main" in text
    assert "img2img_studio_resources/img2img-studio.desktop" in names
    assert "img2img_studio_resources/icons/img2img-studio.svg" in names
    assert "img2img_studio_resources/icons/img2img-studio-512.png" in names


@pytest.mark.skipif(
    shutil.which("xvfb-run") is None or shutil.which("xwininfo") is None,
    reason="needs xvfb-run and xwininfo (apt-get install xvfb xauth x11-utils)",
)
def test_installed_command_opens_the_window_under_xvfb(installed):
    """packaging/smoke_test.sh on the wheel's command: the window appears and closes by itself."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "QT_QPA_PLATFORM")}
    done = subprocess.run(
        ["bash", ROOT / "packaging" / "smoke_test.sh", installed / "bin" / "img2img-studio"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SMOKE-TEST: window shown" in done.stdout
