"""Hostile project archives: unsafe names, links, zip bombs, pixel bombs, lying headers."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from core.errors import ProjectError
from core.project import Session, load_project, save_project
from core.project import archive as project_archive
from tests.tiny_models.images import make_image, make_mask

ROOT = Path(__file__).resolve().parents[2]


def session() -> Session:
    session = Session(mask=make_mask(24, 16), ui={"a": 1})
    session.tree.set_root(make_image(24, 16))
    session.tree.add("root", make_image(24, 16, 1), {"strength": 0.5}, mask=make_mask(24, 16))
    return session


@pytest.fixture
def saved(tmp_path):
    return save_project(tmp_path / "ok.i2i", session())


def members_of(path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def write(path, members) -> object:
    out = path.with_name("hostile.i2i")
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as zf:
        warnings.simplefilter("ignore")  # duplicate names
        for info, data in members:
            zf.writestr(info, data)
    return out


def with_extra(path, info: zipfile.ZipInfo | str, data: bytes = b"x"):
    return write(path, [*members_of(path), (info, data)])


def load_error(path) -> str:
    with pytest.raises(ProjectError) as err:
        load_project(path)
    assert "\n" not in str(err.value)
    return str(err.value)


def patch_central(data: bytes, name: str, offset: int, fmt: str, value: int) -> bytes:
    """Change one field of ``name``'s central-directory entry (offsets from its signature)."""
    at = 0
    while True:
        at = data.index(b"PK\x01\x02", at)
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + length] == name.encode():
            break
        at += 4
    patched = bytearray(data)
    struct.pack_into(fmt, patched, at + offset, value)
    return bytes(patched)


def png_header_only(width: int, height: int, mode_byte: int = 0) -> bytes:
    """A PNG declaring ``width``×``height`` grayscale pixels with (almost) no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, mode_byte, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "name",
    [
        "../evil.png",
        "images/../../evil.png",
        "/etc/passwd",
        "C:/evil.png",
        "c:evil.png",
        "images\\00000.png",
        "..\\evil.png",
    ],
)
def test_unsafe_member_names_are_refused_and_nothing_is_written(saved, tmp_path, name):
    hostile = with_extra(saved, name)
    before = sorted(p for p in tmp_path.parent.rglob("*"))
    assert "unsafe member name" in load_error(hostile)
    assert sorted(p for p in tmp_path.parent.rglob("*")) == before


def test_a_name_with_a_nul_byte_is_refused(saved):
    data = with_extra(saved, "images/0000X.png").read_bytes()
    hostile = saved.with_name("nul.i2i")
    hostile.write_bytes(data.replace(b"images/0000X.png", b"images/0000\0.png"))
    assert "unsafe member name" in load_error(hostile)


@pytest.mark.parametrize(
    "name",
    ["notes.txt", "images/00009.png", "images/./00000.png", "masks/00000.png", "Project.json"],
)
def test_members_the_writer_does_not_write_are_refused(saved, name):
    assert f"unexpected member '{name}'" in load_error(with_extra(saved, name))


def test_symbolic_links_folders_and_duplicates_are_refused(saved):
    link = zipfile.ZipInfo("images/00000.png")
    link.create_system = 3
    link.external_attr = 0o120777 << 16
    members = [(i, d) for i, d in members_of(saved) if i.filename != "images/00000.png"]
    assert "symbolic link" in load_error(write(saved, [*members, (link, b"/etc/passwd")]))
    assert "not a plain file" in load_error(with_extra(saved, "images/", b""))
    fifo = zipfile.ZipInfo("layers/x.png")
    fifo.external_attr = 0o010644 << 16
    assert "not a plain file" in load_error(with_extra(saved, fifo))
    assert "appears twice" in load_error(
        write(saved, [*members_of(saved), *members_of(saved)[1:2]])
    )


def test_encrypted_and_exotic_compression_are_refused(saved):
    bzip = zipfile.ZipInfo("images/00000.png")
    bzip.compress_type = zipfile.ZIP_BZIP2
    members = [(i, d) for i, d in members_of(saved) if i.filename != "images/00000.png"]
    data = dict((i.filename, d) for i, d in members_of(saved))["images/00000.png"]
    assert "unsupported compression" in load_error(write(saved, [*members, (bzip, data)]))
    encrypted = saved.with_name("enc.i2i")
    encrypted.write_bytes(patch_central(saved.read_bytes(), "images/00000.png", 8, "<H", 1))
    assert "encrypted" in load_error(encrypted)


def test_zip_bombs_are_refused_from_the_declared_sizes(saved, monkeypatch):
    monkeypatch.setattr(project_archive, "MAX_MEMBER_BYTES", 1 << 20)
    bomb = zipfile.ZipInfo("images/00000.png")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    members = [(i, d) for i, d in members_of(saved) if i.filename != "images/00000.png"]
    hostile = write(saved, [*members, (bomb, bytes(4 << 20))])
    assert hostile.stat().st_size < 64 << 10
    assert "larger than 1 MiB" in load_error(hostile)
    monkeypatch.setattr(project_archive, "MAX_MEMBER_BYTES", 512 << 20)
    monkeypatch.setattr(project_archive, "MAX_TOTAL_BYTES", 2 << 20)
    assert "members hold over 2 MiB" in load_error(hostile)


def test_a_member_longer_than_its_declared_size_is_not_trusted(saved):
    data = saved.read_bytes()
    lying = saved.with_name("lying.i2i")
    lying.write_bytes(patch_central(data, "project.json", 24, "<I", 10))
    message = load_error(lying)
    assert "damaged" in message or "not valid JSON" in message


def test_pixel_bombs_are_refused_before_decoding(saved, monkeypatch):
    members = [(i, d) for i, d in members_of(saved) if i.filename != "images/00000.png"]
    huge = png_header_only(10_000, 10_000)  # 100 MP declared in 60 bytes
    assert "over the 50,000,000 limit" in load_error(
        write(saved, [*members, ("images/00000.png", huge)])
    )
    # Two 24×16 RGB pictures (four bytes a pixel in memory) and two masks (one byte): 3,840.
    monkeypatch.setattr(project_archive, "MAX_DECODED_BYTES", 3_839)
    assert "would take 3,840 bytes of memory, over the 3,839 bytes" in load_error(saved)
    monkeypatch.setattr(project_archive, "MAX_DECODED_BYTES", 3_840)
    load_project(saved)


def test_members_of_the_wrong_kind(saved):
    members = [(i, d) for i, d in members_of(saved) if i.filename != "masks/00001.png"]
    rgb = io.BytesIO()
    make_image(24, 16).save(rgb, format="PNG")
    assert "should be of mode L, not RGB" in load_error(
        write(saved, [*members, ("masks/00001.png", rgb.getvalue())])
    )
    jpeg = io.BytesIO()
    Image.new("L", (24, 16)).save(jpeg, format="JPEG")
    assert "is damaged" in load_error(
        write(saved, [*members, ("masks/00001.png", jpeg.getvalue())])
    )


def zero_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of black pixels, compressed about a thousand to one."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    packer = zlib.compressobj(9)
    row = bytes(1 + 3 * width)  # filter byte, then the row
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


MEASURE_LOAD = """
import resource, sys
from core.errors import ProjectError
from core.project import load_project
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_project(sys.argv[1])
    print("LOADED")
except ProjectError as exc:
    print("ERROR", exc)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print("GROWN_MB", grown / (1 << 20 if sys.platform == "darwin" else 1 << 10))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="ru_maxrss")
def test_a_small_project_whose_pictures_decode_past_the_budget_allocates_nothing(tmp_path):
    # 46 valid black 7000×7000 RGB pictures: each under the 50 MP limit, 196 MB in memory (Pillow
    # keeps RGB in four bytes), 8.4 GiB together; the archive is a few megabytes.
    count = 46
    tree_session = Session()
    tree_session.tree.set_root(make_image(8, 8))
    for n in range(1, count):
        tree_session.tree.add("root", make_image(8, 8, n), {"seed": n})
    saved = save_project(tmp_path / "small.i2i", tree_session)
    picture = zero_png(7000, 7000)
    members = [
        (info, picture if info.filename.startswith("images/") else data)
        for info, data in members_of(saved)
    ]
    bomb = write(saved, members)
    assert bomb.stat().st_size < 16 << 20
    run = subprocess.run(
        [sys.executable, "-c", MEASURE_LOAD, str(bomb)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=True,
    )
    lines = run.stdout.splitlines()
    assert lines[0] == (
        "ERROR cannot open project " + str(bomb) + ": its pictures would take 8.4 GiB of memory,"
        " over the 8 GiB a project may take; nothing was decoded"
    )
    assert float(lines[1].split()[1]) < 100  # peak memory grew by less than 100 MB
