"""``generate … --worker URL``: the pass runs on a worker and the file equals a local run's."""

from __future__ import annotations

from PIL import Image

from core.cli.main import main
from core.metadata import read_metadata, write_png
from core.remote.token_file import remove_token_file, write_token_file
from tests.core.remote_helpers import running_worker
from tests.tiny_models.images import make_image

ARGS = ["--prompt", "a cat", "--steps", "4", "--strength", "0.5", "--cfg", "1", "--seed", "3"]


def test_generate_on_a_worker_writes_the_local_file(tiny_model_dir, tmp_path, capsys):
    source = tmp_path / "in.png"
    make_image(64, 64).save(source)
    model = ["--model", str(tiny_model_dir), "--device", "cpu"]
    local, remote = tmp_path / "local.png", tmp_path / "remote.png"
    assert main(["generate", str(source), "-o", str(local), *model, *ARGS]) == 0
    with running_worker(str(tiny_model_dir), token="t0k") as url:
        worker = ["--worker", url, "--token", "t0k"]
        assert main(["generate", str(source), "-o", str(remote), *model, *ARGS, *worker]) == 0
        assert main(["generate", str(source), "-o", str(tmp_path / "x.png"), *model,
                     *ARGS, "--worker", url]) == 2  # fmt: skip
        assert "valid token" in capsys.readouterr().err
    # Byte for byte, once the pass's own duration (the one value two runs never share) agrees.
    remote_record = read_metadata(remote)["record"]
    local_record = read_metadata(local)["record"]
    same = write_png(
        tmp_path / "same.png",
        Image.open(local),
        {**local_record, "duration": remote_record["duration"]},
    )
    assert same.read_bytes() == remote.read_bytes()
    assert not (tmp_path / "x.png").exists()


def test_generate_on_a_local_worker_reads_its_token_file(tiny_model_dir, tmp_path, capsys):
    source = tmp_path / "in.png"
    make_image(64, 64).save(source)
    args = ["generate", str(source), "--model", "default", *ARGS, "--steps", "1"]
    with running_worker(str(tiny_model_dir), token="from-the-file") as url:
        assert main([*args, "-o", str(tmp_path / "a.png"), "--worker", url]) == 2
        assert "valid token" in capsys.readouterr().err  # no file yet: refused
        write_token_file(int(url.rsplit(":", 1)[1]), "from-the-file")
        assert main([*args, "-o", str(tmp_path / "b.png"), "--worker", url]) == 0
        remove_token_file(int(url.rsplit(":", 1)[1]), "from-the-file")
        mine = tmp_path / "token"
        mine.write_text("from-the-file\n")
        worker = ["--worker", url.replace("127.0.0.1", "localhost"), "--token-file", str(mine)]
        assert main([*args, "-o", str(tmp_path / "c.png"), *worker]) == 0
    assert (tmp_path / "b.png").exists() and not (tmp_path / "a.png").exists()
