"""The worker's token: generated on every start, kept in a file only this user can read, found by
local clients; ``serve``'s options for it (``--token-file``, the environment, ``--no-token``)."""

from __future__ import annotations

import os
import socket
import stat
import sys

import pytest

from core.cli.parser import build_parser
from core.cli.serve import access_from_args
from core.errors import UserError
from core.remote.client import WorkerClient
from core.remote.token_file import (
    TOKEN_ENV,
    local_token,
    remove_token_file,
    token_path,
    write_token_file,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@pytest.fixture
def usual_umask():
    old = os.umask(0o022)  # files would be world-readable by default
    yield
    os.umask(old)


@posix_only
def test_the_token_file_is_private_and_found_for_a_local_worker(usual_umask):
    path = write_token_file(7861, "abc")
    assert path == token_path(7861)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert local_token("http://127.0.0.1:7861") == "abc"
    assert local_token("http://localhost:7861/") == "abc"
    assert local_token("http://[::1]:7861") == "abc"
    assert WorkerClient("http://127.0.0.1:7861").token == "abc"
    assert WorkerClient("http://127.0.0.1:7861", "given").token == "given"
    assert local_token("http://gpu-box:7861") is None  # never sent to another machine
    assert local_token("http://127.0.0.1:7862") is None
    path.chmod(0o644)
    assert local_token("http://127.0.0.1:7861") is None  # others could read it: not ours
    write_token_file(7861, "new")  # replaced atomically, private again
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and local_token("http://127.0.0.1:7861")
    remove_token_file(7861, "someone else's")
    assert path.exists()
    remove_token_file(7861, "new")
    assert not path.exists()


def _access(*argv: str):
    return access_from_args(build_parser().parse_args(["serve", *argv]))


def test_serve_generates_a_token_unless_no_token_on_loopback(tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    access, generated = _access()
    assert generated and len(access.token) >= 24 and _access()[0].token != access.token
    assert _access("--no-token")[0].open
    with pytest.raises(UserError, match="loopback only"):
        _access("--host", "0.0.0.0", "--no-token")
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert _access("--token-file", str(token_file)) == (_access("--token", "from-file")[0], False)
    with pytest.raises(UserError, match="cannot read the token file"):
        _access("--token-file", str(tmp_path / "missing"))
    with pytest.raises(UserError, match="disagree"):
        _access("--token", "t", "--no-token")
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert _access()[0].token == "from-env" and not _access()[1]
    assert _access("--no-token")[0].open  # --no-token wins over an inherited variable
    access, _ = _access("--api-auth", "ann:pw", "--allow-host", "gpu.lan", "--allow-origin",
                        "HTTPS://App.Example:443/")  # fmt: skip
    assert access.basic_auth == "ann:pw" and access.allowed_hosts == ("gpu.lan",)
    beyond = _access("--host", "0.0.0.0", "--allow-host", "gpu.lan")[0].allowed_hosts
    assert beyond[0] == "gpu.lan" and socket.gethostname().lower() in beyond  # its own name
    assert access.allowed_origins == ("https://app.example",)
    with pytest.raises(UserError, match="USER:PASS"):
        _access("--api-auth", "ann")
