"""``serve --preload``: the worker loads its --model in the background at start, into the engine
its passes run on, with the spec those passes use (so the first one loads nothing)."""

from __future__ import annotations

import pytest

from core.cli import serve
from core.cli.main import main
from core.models import ModelSpec


def test_preload_loads_the_model_passes_use_into_the_served_engine(
    tiny_model_dir, monkeypatch, capsys
):
    import core.remote.server as server

    served, handles = [], []
    make_app = server.make_app

    def recording_make_app(*args, **kwargs):
        served.append(kwargs["engine"])
        return make_app(*args, **kwargs)

    async def stop_at_once(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl+C as soon as it would listen

    real_preload = serve.preload
    monkeypatch.setattr(server, "make_app", recording_make_app)
    monkeypatch.setattr(server, "start_server", stop_at_once)
    monkeypatch.setattr(serve, "preload", lambda *a: handles.append(real_preload(*a)))
    model = str(tiny_model_dir)
    assert main(["serve", "--no-token", "--model", model, "--device", "cpu", "--preload"]) == 0
    assert handles[0].wait(120).startswith("warmed up: ")
    loaded = served[0].models.loaded
    # what a pass on the "default" model asks for (core.remote.server's submit)
    assert loaded is not None and loaded.spec == ModelSpec(model, None, "cpu", "auto", "auto")
    err = capsys.readouterr().err
    assert f"preloading {tiny_model_dir.name}…" in err and "warmed up: " in err


def test_without_preload_nothing_loads_at_start(tiny_model_dir, monkeypatch):
    import core.remote.server as server

    async def stop_at_once(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(server, "start_server", stop_at_once)
    monkeypatch.setattr(serve, "preload", lambda *a: pytest.fail("preloaded without --preload"))
    assert main(["serve", "--no-token", "--model", str(tiny_model_dir), "--device", "cpu"]) == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [([], "--preload needs --model"), (["--model", "M", "--ray"], "works without --ray")],
)
def test_preload_refuses_what_it_cannot_do_in_one_line(options, message, tmp_path, capsys):
    options = [str(tmp_path) if o == "M" else o for o in options]
    (tmp_path / "model_index.json").write_text("{}")
    assert main(["serve", "--no-token", "--preload", *options]) == 2
    assert message in capsys.readouterr().err
