"""An edit pass's reference pictures in the A1111 infotext: written with their pixel hashes and
sizes (``Edit references: "hash1 48x40, hash2 64x64"``), read back into the parsed parameters
in the pass record's shape, from a PNG too; text written before sizes were added still reads,
and malformed text never raises (the bad items are skipped)."""

from __future__ import annotations

import random

import pytest

from core.hashing import pixel_hash
from core.metadata import build_infotext, parse_infotext, read_metadata, write_png
from core.metadata.infotext import parse_edit_references
from tests.tiny_models.images import make_image

REFERENCES = [
    {"hash": "0123456789abcdef", "width": 48, "height": 40},
    {"hash": "fedcba9876543210", "width": 1024, "height": 768},
]


def _record(**changes) -> dict:
    record = {
        "kind": "img2img",
        "prompt": "put the hat from image 2 on her",
        "steps": 4,
        "cfg": 1.0,
        "seed": 7,
        "width": 64,
        "height": 64,
        "model": {"name": "tiny-klein", "hash": "abcdef1234", "family": "flux2-klein"},
    }
    record.update(changes)
    return record


def test_the_infotext_carries_hashes_and_sizes_and_reads_back_as_the_record_keeps_them():
    text = build_infotext(_record(edit_references=REFERENCES))
    assert 'Edit references: "0123456789abcdef 48x40, fedcba9876543210 1024x768"' in text
    parsed = parse_infotext(text)
    assert parsed["edit_references"] == REFERENCES
    assert parsed["prompt"] == "put the hat from image 2 on her" and parsed["seed"] == 7


def test_a_png_from_an_edit_pass_gives_its_references_back(tmp_path):
    pictures = [make_image(48, 40), make_image(32, 32)]
    references = [{"hash": pixel_hash(p), "width": p.width, "height": p.height} for p in pictures]
    out = write_png(tmp_path / "edit.png", make_image(64, 64), _record(edit_references=references))
    meta = read_metadata(out)
    assert meta["parsed"]["edit_references"] == references == meta["record"]["edit_references"]


def test_a_pass_without_references_has_none_parsed():
    assert "edit_references" not in parse_infotext(build_infotext(_record()))
    assert "Edit references" not in build_infotext(_record(edit_references=[]))


def test_hashes_without_sizes_as_older_versions_wrote_them():
    text = 'a hat\nSteps: 4, Seed: 7, Edit references: "0123456789abcdef, fedcba9876543210"'
    assert parse_infotext(text)["edit_references"] == [
        {"hash": "0123456789abcdef"},
        {"hash": "fedcba9876543210"},
    ]
    # a record without sizes writes the hash alone
    record = _record(edit_references=[{"hash": "0123456789abcdef"}])
    assert parse_infotext(build_infotext(record))["edit_references"] == [
        {"hash": "0123456789abcdef"}
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        (",,, ,", []),
        ("not-a-hash", []),
        ("0123456789abcdef 48x", []),
        ("0123456789abcdef 48x40x3", []),
        ("0123456789abcdef -48x40", []),
        ("0123456789abcdef 9999999x40", []),  # a side of seven digits is no picture's
        ("0123456789ABCDEF 48x40, zz", [{"hash": "0123456789abcdef", "width": 48, "height": 40}]),
        ("short 1x1, abcdef12 2x3", [{"hash": "abcdef12", "width": 2, "height": 3}]),
    ],
)
def test_malformed_items_are_skipped(value, expected):
    assert parse_edit_references(value) == expected


def test_malformed_infotext_never_raises():
    """Random edits of a valid line (characters dropped, doubled, swapped for quotes, commas,
    colons, newlines, letters) parse without an exception, and what they give is well formed."""
    line = build_infotext(_record(edit_references=REFERENCES))
    alphabet = ',:" \nx0123456789abcdefXq\\'
    rng = random.Random(24)
    for _ in range(500):
        chars = list(line)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(chars))
            action = rng.choice(("drop", "double", "swap"))
            if action == "drop":
                del chars[i]
            elif action == "double":
                chars.insert(i, chars[i])
            else:
                chars[i] = rng.choice(alphabet)
        parsed = parse_infotext("".join(chars))
        for reference in parsed.get("edit_references", []):
            assert set(reference) in ({"hash"}, {"hash", "width", "height"})
            assert 8 <= len(reference["hash"]) <= 64


def test_a_long_run_of_items_with_padded_bad_ones():
    """3,000 items, a sixth of them a 64-digit hash followed by spaces and no size."""
    value = ", ".join(["0123456789abcdef 48x40"] * 2500 + ["0" * 64 + " " * 20 + "x"] * 500)
    assert len(parse_edit_references(value)) == 2500
