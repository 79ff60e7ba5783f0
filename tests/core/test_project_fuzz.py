"""Fuzzing every reader of untrusted files: project archives, images and PNG metadata only ever
raise one-line UserErrors (ProjectError for projects), whatever the bytes.

``I2I_FUZZ_EXAMPLES=5000`` fuzzes deeper than the default 150 examples per test.
"""

from __future__ import annotations

import functools
import io
import json
import os
import struct
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.errors import ProjectError, UserError
from core.imaging import load_image
from core.metadata import format_summary, read_metadata
from core.project import Session, load_project, save_project
from tests.tiny_models.images import make_image, make_mask

FUZZ = settings(
    max_examples=int(os.environ.get("I2I_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@functools.cache
def valid_project() -> bytes:
    session = Session(mask=make_mask(6, 4), ui={"prompt": "cat"})
    session.tree.set_root(make_image(6, 4))
    first = session.tree.add("root", make_image(6, 4, 1), {"strength": 0.5}, mask=make_mask(6, 4))
    session.tree.add(first.id, make_image(6, 4, 2), {"seed": 3}, strength_map=make_mask(6, 4))
    with tempfile.TemporaryDirectory() as folder:
        return save_project(Path(folder) / "valid.i2i", session).read_bytes()


@functools.cache
def valid_members() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(valid_project())) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as zf:
        warnings.simplefilter("ignore")  # duplicate names
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def assert_only_project_errors(path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        load_project(path)
    except ProjectError as exc:
        assert "\n" not in str(exc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
nasty_names = st.sampled_from(
    [
        "project.json",
        "images/00000.png",
        "images/00001.png",
        "masks/00001.png",
        "layers/mask.png",
        "../x",
        "/abs",
        "C:/x",
        "a\\b",
        "images/",
        "images/../project.json",
        "strength_maps/00002.png",
        "layers/strength_map.png",
        "x" * 300,
    ]
) | st.text(min_size=1, max_size=20).filter(lambda name: name.split("\0")[0])


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(work, data):
    assert_only_project_errors(work / "random.i2i", data)


@FUZZ
@given(
    cut=st.just(0) | st.integers(1, 10_000),
    flips=st.lists(st.tuples(st.integers(0), st.integers(0, 255)), max_size=6),
)
def test_truncated_and_corrupted_projects(work, cut, flips):
    data = bytearray(valid_project())
    for position, value in flips:
        data[position % len(data)] = value
    assert_only_project_errors(work / "damaged.i2i", bytes(data[: len(data) - cut % len(data)]))


@FUZZ
@given(
    names=st.lists(nasty_names, max_size=8),
    contents=st.lists(
        st.binary(max_size=64) | st.sampled_from(list(valid_members().values())), max_size=8
    ),
)
def test_archives_with_arbitrary_members(work, names, contents):
    members = [(n, contents[i % len(contents)] if contents else b"") for i, n in enumerate(names)]
    assert_only_project_errors(work / "members.i2i", zip_of(members))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _paths(item, (*prefix, n))


@FUZZ
@given(
    picks=st.lists(
        st.tuples(st.integers(0), st.sampled_from(["set", "drop"]), json_values), max_size=4
    ),
    drop=st.sets(st.sampled_from(sorted(set(valid_members()) - {"project.json"}))),
)
def test_indexes_with_wrong_values_and_missing_members(work, picks, drop):
    index = json.loads(valid_members()["project.json"])
    for pick, action, value in picks:
        paths = [p for p in _paths(index) if p]
        if not paths:
            break
        *parents, last = paths[pick % len(paths)]
        holder = index
        for key in parents:
            holder = holder[key]
        if action == "drop" and isinstance(holder, dict):
            del holder[last]
        else:
            holder[last] = value
    members = {**valid_members(), "project.json": json.dumps(index).encode()}
    kept = [(n, d) for n, d in members.items() if n not in drop]
    assert_only_project_errors(work / "index.i2i", zip_of(kept))


@FUZZ
@given(index=json_values | st.text(max_size=50).map(str.encode))
def test_arbitrary_json_as_the_index(work, index):
    data = index if isinstance(index, bytes) else json.dumps(index).encode()
    assert_only_project_errors(work / "json.i2i", zip_of([("project.json", data)]))


# -- images and PNG metadata ----------------------------------------------------------------------
def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@functools.cache
def base_png_chunks() -> tuple[bytes, list[bytes]]:
    buffer = io.BytesIO()
    Image.new("RGB", (5, 4), (10, 20, 30)).save(buffer, format="PNG")
    data = buffer.getvalue()
    chunks, at = [], 8
    while at < len(data):
        length = struct.unpack_from(">I", data, at)[0]
        chunks.append(data[at : at + 12 + length])
        at += 12 + length
    return data[:8], chunks


infotext_pieces = st.sampled_from(
    [
        "Steps: ",
        "20",
        "Negative prompt: ",
        "Seed: ",
        "Size: ",
        "512x",
        "x",
        "Sampler: ",
        ", ",
        ":",
        '"',
        "\\",
        "\n",
        "Model hash: ",
        "Denoising strength: ",
        "0.5",
        "-1",
        "Template: ",
        "é",
        "\0",
    ]
)
infotext = st.lists(infotext_pieces | st.text(max_size=6), max_size=20).map("".join)
ancillary_names = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3
)
ancillary_names = ancillary_names.map(lambda name: b"x" + name.encode())
keywords = st.sampled_from([b"parameters", b"img2img-studio", b"prompt", b"workflow", b"comment"])
record_keys = st.sampled_from(
    ["steps", "scheduler", "cfg", "seed", "work_size", "width", "height", "model", "kind",
     "strength", "inpaint_area", "mask_blur", "padding", "prompt", "negative_prompt", "parent"]
)  # fmt: skip
records = st.dictionaries(record_keys, json_values | st.sampled_from(["inpaint", "masked"]))
texts = (infotext | (json_values | records).map(json.dumps) | st.text(max_size=30)).map(
    lambda t: t.encode("utf-8", "replace")
)


@st.composite
def text_chunks(draw):
    odd = draw(st.integers(0, 9)) == 0  # mostly keywords and texts the readers look at
    keyword = draw(st.binary(max_size=10) if odd else keywords)
    text = draw(st.binary(max_size=40) if odd else texts)
    kind = draw(st.sampled_from(["tEXt", "zTXt", "iTXt", "iTXt-z", "raw"]))
    if kind == "tEXt":
        return chunk(b"tEXt", keyword + b"\0" + text)
    if kind == "zTXt":
        return chunk(b"zTXt", keyword + b"\0\0" + zlib.compress(text))
    if kind == "raw":
        kind_bytes = draw(st.binary(min_size=4, max_size=4) if odd else ancillary_names)
        return chunk(kind_bytes, draw(st.binary(max_size=40)))
    compressed = kind == "iTXt-z"
    body = zlib.compress(text) if compressed else text
    return chunk(b"iTXt", keyword + b"\0" + bytes([compressed, 0]) + b"en\0\0" + body)


known_chunk = st.tuples(
    st.sampled_from(
        [b"eXIf", b"iCCP", b"tRNS", b"PLTE", b"gAMA", b"pHYs", b"sRGB", b"tIME", b"IHDR"]
    ),
    st.binary(max_size=40),
).map(lambda kb: chunk(*kb))


@FUZZ
@given(
    before=st.lists(text_chunks(), max_size=4),
    odd=st.just(b"") | known_chunk,
    after=st.lists(text_chunks(), max_size=2),
    cut=st.none() | st.integers(0, 200),
    flips=st.just([]) | st.lists(st.tuples(st.integers(8), st.integers(0, 255)), max_size=2),
)
def test_pngs_with_odd_chunks_only_raise_user_errors(work, before, odd, after, cut, flips):
    signature, chunks = base_png_chunks()
    ihdr, *rest = chunks
    data = bytearray(
        signature + ihdr + odd + b"".join(before) + b"".join(rest[:-1]) + b"".join(after) + rest[-1]
    )
    for position, value in flips:
        data[position % len(data)] = value
    path = work / "odd.png"
    path.write_bytes(bytes(data if cut is None else data[: max(0, len(data) - cut)]))
    try:
        assert load_image(path).mode == "RGB"
    except UserError as exc:
        assert "\n" not in str(exc)
    try:
        meta = read_metadata(path)
    except UserError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(format_summary(meta), str)


@FUZZ
@given(
    data=st.binary(max_size=512),
    prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF", b"BM", b"II*\0"]),
)
def test_random_image_bytes_only_raise_user_errors(work, data, prefix):
    path = work / "random.img"
    path.write_bytes(prefix + data)
    for reader in (load_image, read_metadata):
        try:
            reader(path)
        except UserError as exc:
            assert "\n" not in str(exc)
