"""PNG text that cannot stall: the infotext reader finds exactly A1111's pairs in linear time and
reads at most 64 Ki characters; the pass record is read within a size and a depth; Pillow's own
text limits end in one line.

The old reader (A1111's regex) took 10 s on 25,000 characters without a colon and about a
minute on 50,000 on the development machine, growing with the square of the length; the timed
cases below are 1 MB.
"""

from __future__ import annotations

import json
import random
import re
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import PngImagePlugin

from core.errors import ImageError
from core.metadata import (
    MAX_INFOTEXT_CHARS,
    RECORD_CHUNK,
    InfotextTooLong,
    build_infotext,
    format_summary,
    parse_infotext,
    read_metadata,
    read_record,
)
from core.metadata.infotext_scan import param_pairs
from tests.tiny_models.images import make_image

# A1111's modules/infotext_utils.py pattern: the reference the scanner must agree with (on short
# texts only: it is quadratic).
A1111_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
TRICKY = 'ab Z_-/:,"\\\t\n é1\u00a0'
MEGABYTE = 1_000_000


def a1111_parse(text: str) -> dict:
    """A1111's parse_generation_parameters (prompt, negative, raw params), for comparison."""
    *lines, lastline = text.strip().replace("\r\n", "\n").split("\n")
    if len(A1111_PARAM.findall(lastline)) < 3:
        lines.append(lastline)
        lastline = ""
    prompt, negative, done = "", "", False
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            done = True
            line = line[len("Negative prompt:") :].strip()
        if done:
            negative += ("" if negative == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    params = {}
    for key, value in A1111_PARAM.findall(lastline):
        value = value.strip()
        if len(value) > 1 and value[0] == value[-1] == '"':
            try:
                loaded = json.loads(value)
            except ValueError:
                loaded = value
            value = loaded if isinstance(loaded, str) else value
        params[key] = value
    return {"prompt": prompt, "negative_prompt": negative, "params": params}


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=TRICKY, max_size=40))
def test_the_scanner_finds_exactly_the_pairs_a1111_finds(line):
    assert param_pairs(line) == A1111_PARAM.findall(line)


_words = st.text(alphabet="abc XYZ-/_:,\"\\'é(1.2)<>", min_size=1, max_size=20)
_line = st.lists(_words, min_size=1, max_size=4).map(", ".join)


@settings(max_examples=200, deadline=None)
@given(
    prompt=st.lists(_line, max_size=3).map("\n".join),
    negative=st.lists(_line, max_size=2).map("\n".join),
    pairs=st.lists(
        st.tuples(st.sampled_from(["Steps", "Mask blur", "Lora hashes", "x/y-z"]), _words),
        min_size=1,
        max_size=6,
    ),
)
def test_infotexts_read_as_a1111_reads_them(prompt, negative, pairs):
    text = prompt
    if negative:
        text += "\nNegative prompt: " + negative
    text += "\n" + ", ".join(f"{key}: {value}" for key, value in pairs)
    parsed = parse_infotext(text)
    expected = a1111_parse(text)
    assert {k: parsed[k] for k in expected} == expected


@settings(max_examples=300, deadline=None)
@given(
    prompt=st.text(alphabet='abc ,:"\\\n()<>é', max_size=60),
    negative=st.text(alphabet='abc ,:"\\()', max_size=30),
    sampler=st.text(alphabet='abcDPM+ ,:"\\', min_size=1, max_size=20).map(str.strip),
    seed=st.integers(0, 2**32 - 1),
    strength=st.floats(0.01, 1.0),
)
def test_what_the_writer_writes_reads_back(prompt, negative, sampler, seed, strength):
    lines = [line.strip() for line in prompt.split("\n") if line.strip()]
    lines = [line for line in lines if not line.startswith("Negative prompt:")]
    negative = negative.strip()
    record = {
        "prompt": "\n".join(lines),
        "negative_prompt": negative,
        "steps": 20,
        "scheduler": sampler or "Euler",
        "cfg": 7.0,
        "seed": seed,
        "strength": strength,
        "width": 512,
        "height": 768,
    }
    parsed = parse_infotext(build_infotext(record))
    assert parsed["prompt"] == record["prompt"]
    assert parsed["negative_prompt"] == negative
    assert parsed["sampler"] == record["scheduler"]
    assert (parsed["steps"], parsed["seed"], parsed["width"], parsed["height"]) == (
        20,
        seed,
        512,
        768,
    )
    assert parsed["strength"] == pytest.approx(strength, abs=1e-6)


def _adversarial(size: int, seed: int = 0) -> str:
    rnd = random.Random(seed)
    return "".join(rnd.choices('ab "\\,:-', k=size))


@pytest.mark.parametrize(
    "line",
    [
        "a" * MEGABYTE,
        _adversarial(MEGABYTE),
        'ab: "' + "\\" * MEGABYTE,
        "ab-cd/ef gh" * (MEGABYTE // 11),
    ],
    ids=["one-run", "quotes-backslashes-commas", "open-quote", "keys-without-colon"],
)
def test_a_megabyte_line_is_scanned_well_under_a_second(line):
    started = time.perf_counter()
    param_pairs(line)
    assert time.perf_counter() - started < 1.0


def test_text_up_to_the_cap_is_read_and_longer_text_is_refused_in_one_line():
    params = "Steps: 20, Sampler: Euler, Seed: 3"
    prompt = "a" * (MAX_INFOTEXT_CHARS - len(params) - 1)
    started = time.perf_counter()
    assert parse_infotext(prompt + "\n" + params)["seed"] == 3
    parse_infotext(_adversarial(MAX_INFOTEXT_CHARS))
    assert time.perf_counter() - started < 1.0
    with pytest.raises(InfotextTooLong) as refused:
        parse_infotext("a" * (MAX_INFOTEXT_CHARS + 1))
    assert "\n" not in str(refused.value) and "65,536" in str(refused.value)


def _png_with_text(path, **chunks: str):
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    make_image(8, 8).save(path, pnginfo=info)
    return path


@pytest.mark.parametrize("text", ["a" * MEGABYTE, _adversarial(MEGABYTE, 1)])
def test_a_megabyte_parameters_chunk_is_read_well_under_a_second(tmp_path, text):
    path = _png_with_text(tmp_path / "big.png", parameters=text)
    started = time.perf_counter()
    meta = read_metadata(path)
    assert time.perf_counter() - started < 1.0
    assert meta["parsed"] is None and meta["parameters"] is None
    assert len(meta["notes"]) == 1 and "over the 65,536-character limit" in meta["notes"][0]
    assert "not read" in format_summary(meta)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * MEGABYTE, "nested too deeply"),
        ('{"a": ' * 40 + "1" + "}" * 40, "over 32 levels"),
        (json.dumps({"prompt": "a" * (1 << 20)}), "over the 1,048,576-character limit"),
        ("[1, 2]", "not a JSON object"),
    ],
    ids=["deep-list", "deep-but-parsable", "too-long", "not-an-object"],
)
def test_records_over_the_limits_are_not_read_and_say_why(tmp_path, text, reason):
    record, problem = read_record(text)
    assert record is None and problem is not None and reason in problem
    assert "\n" not in problem
    path = _png_with_text(tmp_path / "r.png", **{RECORD_CHUNK: text})
    started = time.perf_counter()
    meta = read_metadata(path)
    assert time.perf_counter() - started < 1.0
    assert meta["record"] is None and meta["notes"] == [problem]


def test_a_record_of_ours_is_read():
    record = {"prompt": "a", "controls": [{"kind": "canny", "extra": {"a": [1, {"b": 2}]}}]}
    assert read_record(json.dumps(record)) == (record, None)


def test_pillow_refuses_a_compressed_text_chunk_over_its_limit_in_one_line(tmp_path):
    """Pillow 13 reads at most 1 MiB of each compressed text chunk (MAX_TEXT_CHUNK) and 64 MiB
    of text in all (MAX_TEXT_MEMORY); beyond, opening the file is one ImageError."""
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a" * (2 << 20), zip=True)
    path = tmp_path / "ztxt.png"
    make_image(8, 8).save(path, pnginfo=info)
    assert path.stat().st_size < 64 << 10  # 2 MiB of text compressed to a few kilobytes
    assert len(zlib.compress(b"a" * (2 << 20))) < 64 << 10
    with pytest.raises(ImageError) as refused:
        read_metadata(path)
    assert "\n" not in str(refused.value) and "MAX_TEXT_CHUNK" in str(refused.value)


def test_a_worker_result_with_hostile_text_is_read_at_once(tmp_path):
    """The client reads the record of the PNG a worker sends back with the same capped reader."""
    from core.remote.client import _result
    from core.requests import PassRequest

    path = _png_with_text(
        tmp_path / "result.png",
        parameters=_adversarial(MEGABYTE, 2),
        **{RECORD_CHUNK: "[" * MEGABYTE},
    )
    finished = {
        "seed": 1,
        "effective_steps": 2,
        "duration": 0.5,
        "model_name": "m",
        "model_hash": "h",
        "skipped": False,
        "note": "",
    }
    started = time.perf_counter()
    result = _result(PassRequest(image=make_image(8, 8)), finished, path.read_bytes())
    assert time.perf_counter() - started < 1.0
    assert result.record == {} and result.image.size == (8, 8)
