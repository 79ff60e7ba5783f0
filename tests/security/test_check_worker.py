"""The security check against a real ``python main.py serve`` on the tiny model: every class
passes; the worker's token is printed once and found in its private token file, which is gone
once the worker stops; and the check does fail a worker that asks no token."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.remote.token_file import local_token, token_path
from tests.security.check_worker import main as check_worker

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"worker listening on (http://127\.0\.0\.1:(\d+))")


@contextmanager
def served(
    model: Path, *options: str, stop: int = signal.SIGINT
) -> Iterator[tuple[str, list[str]]]:
    """``main.py serve`` on a free port; yields its URL and the lines it printed so far; ``stop``
    is the signal that ends it."""
    command = [sys.executable, "main.py", "serve", "--model", str(model), "--port", "0",
               "--device", "cpu", *options]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.strip())
            if line.startswith(("token file", "no token")):
                break
        found = next((LISTENING.search(line) for line in lines if LISTENING.search(line)), None)
        assert found, lines
        yield found.group(1), lines
    finally:
        proc.send_signal(stop)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="stops the worker with SIGINT")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "terminate"])
def test_a_real_worker_passes_the_security_check(tiny_model_dir, capsys, stop):
    with served(tiny_model_dir, stop=stop) as (url, lines):
        printed = [line.removeprefix("token: ") for line in lines if line.startswith("token: ")]
        assert len(printed) == 1  # printed once
        port = int(url.rsplit(":", 1)[1])
        path = token_path(port)
        assert local_token(url) == printed[0]
        if os.name == "posix":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert check_worker([url, "--token", printed[0]]) == 0
        report = capsys.readouterr().out
        for kind in ("CORS", "rebinding", "token", "headers", "bombs"):
            assert f"PASS  {kind}" in report
        assert "FAIL" not in report
        assert check_worker([url]) == 0  # without the token: refused at the door, still passes
    assert not path.exists()  # the stopped worker took its token file away


@pytest.mark.skipif(sys.platform == "win32", reason="stops the worker with SIGINT")
def test_the_check_fails_a_worker_that_asks_no_token(tiny_model_dir, capsys):
    with served(tiny_model_dir, "--no-token") as (url, lines):
        assert "no token: only this machine can connect" in lines
        assert check_worker([url]) == 1
    report = capsys.readouterr().out
    assert "FAIL  token" in report and "PASS  CORS" in report and "PASS  rebinding" in report
