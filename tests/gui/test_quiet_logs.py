"""A model load prints nothing from the libraries on the terminal; the log file keeps it."""

from __future__ import annotations

import logging

from core.cli.main import main as cli_main
from core.library_logs import log_file
from tests.tiny_models.images import make_image

ENGINE_TIMEOUT = 120_000
CHATTER = ("should be kept in float32", "Loading pipeline components", "Loading weights")


def _assert_quiet(stderr: str) -> None:
    for text in CHATTER:
        assert text not in stderr, stderr[-2000:]


def test_a_cli_pass_prints_no_library_chatter_and_the_log_file_keeps_it(
    tmp_path, tiny_model_dir, capfd
):
    picture = tmp_path / "in.png"
    make_image(64, 64).save(picture)
    out = tmp_path / "out.png"
    args = ["generate", str(picture), "-o", str(out), "--model", str(tiny_model_dir)]
    assert cli_main([*args, "--steps", "2", "--strength", "0.5", "--seed", "1"]) == 0
    assert out.exists()
    # What a library reports after loading goes to the file as well, never to the terminal.
    logging.getLogger("diffusers.models.modeling_utils").warning("a note for developers")
    stderr = capfd.readouterr().err
    _assert_quiet(stderr)
    assert "a note for developers" not in stderr
    assert "a note for developers" in log_file().read_text(encoding="utf-8")
    assert log_file().is_relative_to(tmp_path)  # the user log folder (moved for tests)


def test_the_windows_first_model_load_prints_no_library_chatter(
    main_window, qtbot, capfd, monkeypatch
):
    from gui.run import worker

    monkeypatch.setattr(worker, "_engine", None)  # a fresh engine loads the model, as at start
    main_window.canvas.fill_mask()  # inpaint: diffusers warns about float32 modules as it casts
    capfd.readouterr()
    assert main_window.generate()
    qtbot.waitUntil(lambda: not main_window.busy, timeout=ENGINE_TIMEOUT)
    assert len(main_window.tree) == 2, main_window.error_label.text()
    _assert_quiet(capfd.readouterr().err)
    assert "should be kept in float32" in log_file().read_text(encoding="utf-8")
