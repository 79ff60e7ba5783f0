"""Autosaves: one per process, found again after the process is killed, never half written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.errors import ProjectError
from core.project import AutosaveStore, Session, load_project
from tests.tiny_models.images import make_image, make_mask

ROOT = Path(__file__).resolve().parents[2]


def session(marker: int) -> Session:
    session = Session(mask=make_mask(16, 12), ui={"marker": marker})
    session.tree.set_root(make_image(16, 12))
    session.tree.add("root", make_image(16, 12, marker), {"seed": marker})
    return session


def test_save_writes_this_process_file_and_a_clean_exit_removes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG2IMG_STUDIO_DATA_DIR", str(tmp_path / "data"))
    store = AutosaveStore()
    assert store.folder == tmp_path / "data" / "autosave"
    path = store.save(session(1))
    assert path == store.path and path.name.startswith(f"autosave-{os.getpid()}-")
    store.save(session(2))
    assert load_project(path).ui == {"marker": 2}
    assert sorted(p.suffix for p in store.folder.iterdir()) == [".i2i", ".lock"]
    store.mark_clean_exit()
    assert list(store.folder.iterdir()) == []
    assert AutosaveStore(store.folder).recoverable() == []


def test_a_running_instance_autosave_is_never_recoverable(tmp_path):
    running = AutosaveStore(tmp_path)
    running.save(session(1))
    other = AutosaveStore(tmp_path)
    assert other.recoverable() == [] and running.recoverable() == []
    with pytest.raises(ProjectError, match="running"):
        other.discard(running.path)
    assert running.path.exists()


def test_leftovers_of_dead_processes_without_an_autosave_are_tidied(tmp_path):
    dead = "autosave-999999-0123abcd"
    (tmp_path / f"{dead}.lock").write_text("999999\n")
    (tmp_path / f".{dead}.i2i.0123456789ab.tmp").write_bytes(b"half")
    (tmp_path / "unrelated.txt").write_text("keep")
    assert AutosaveStore(tmp_path).recoverable() == []
    assert [p.name for p in tmp_path.iterdir()] == ["unrelated.txt"]


def test_discard_only_takes_autosaves_of_its_folder(tmp_path):
    store = AutosaveStore(tmp_path / "autosave")
    with pytest.raises(ProjectError, match="not an autosave"):
        store.discard(tmp_path / "autosave-1-0123abcd.i2i")
    with pytest.raises(ProjectError, match="not an autosave"):
        store.discard(tmp_path / "autosave" / "mine.i2i")


CHILD = textwrap.dedent(
    """
    import sys, time
    from core.project import AutosaveStore, Session
    from core.project import files
    from tests.tiny_models.images import make_image

    folder, mode = sys.argv[1], sys.argv[2]
    store = AutosaveStore(folder)
    session = Session(ui={"marker": 1})
    session.tree.set_root(make_image(64, 48))
    for n in range(4):
        session.tree.add("root", make_image(64, 48, n), {"seed": n})
    store.save(session)
    print("saved", store.path, flush=True)
    if mode == "mid-save":
        written = []
        original = files._write_member

        def paused(zf, name, image, level):
            original(zf, name, image, level)
            written.append(name)
            if len(written) == 3:
                zf.fp.flush()
                print("paused", flush=True)
                time.sleep(120)

        files._write_member = paused
        session.ui["marker"] = 2
        store.save(session)
    print("idle", flush=True)
    time.sleep(120)
    """
)


def start_child(tmp_path: Path, mode: str, wait_for: str) -> tuple[subprocess.Popen, Path]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "autosave"), mode],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert child.stdout is not None
    first = child.stdout.readline().split()
    assert first[:1] == ["saved"], first
    while (line := child.stdout.readline().strip()) != wait_for:
        assert line, f"the child ended before {wait_for!r}"
    return child, Path(first[1])


def kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert child.stdout is not None
    child.stdout.close()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_an_autosave_of_a_killed_process_is_recovered(tmp_path):
    child, path = start_child(tmp_path, "idle", "idle")
    store = AutosaveStore(tmp_path / "autosave")
    try:
        assert path.exists() and store.recoverable() == []  # still running
    finally:
        kill(child)
    assert store.recoverable() == [path]
    recovered = load_project(path)
    assert recovered.ui == {"marker": 1} and len(recovered.tree) == 5
    store.discard(path)
    assert list(store.folder.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_kill_in_the_middle_of_a_save_recovers_the_previous_complete_autosave(tmp_path):
    child, path = start_child(tmp_path, "mid-save", "paused")
    kill(child)
    folder = tmp_path / "autosave"
    partial = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert len(partial) == 1 and partial[0].stat().st_size > 0  # killed while writing
    store = AutosaveStore(folder)
    assert store.recoverable() == [path]
    recovered = load_project(path)
    assert recovered.ui == {"marker": 1} and len(recovered.tree) == 5
    with pytest.raises(ProjectError):
        load_project(partial[0])  # what was being written is not a project
    store.discard(path)
    assert list(folder.iterdir()) == []
