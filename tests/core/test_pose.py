"""Pose runs for real: OpenPose's Caffe files found in the annotators folder are run by OpenCV's
dnn module (a tiny random-weight network of the same format), and its maps become people drawn as
ControlNet's OpenPose maps (checked on confidence maps and fields made for two known skeletons);
broken or foreign files are one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.conditioning.annotator_files import (
    ANNOTATORS_ENV,
    HED_FILES,
    OPENPOSE_FILES,
    unavailable_reason,
)
from core.conditioning.openpose import (
    LIMB_FIELDS,
    LIMBS,
    PAF_OFFSET,
    PARTS,
    draw_people,
    find_peaks,
    group_people,
)
from core.conditioning.preprocess import control_image
from core.conditioning.specs import ControlLayer
from core.errors import ModelError
from tests.tiny_models.tiny_caffe import build_tiny_hed, build_tiny_openpose

SIZE = (200, 160)  # w, h
# One standing figure, COCO order: nose, neck, right shoulder/elbow/wrist, left shoulder/elbow/
# wrist, right hip/knee/ankle, left hip/knee/ankle, right eye, left eye, right ear, left ear.
FIGURE = (
    (30, 20), (30, 36), (20, 36), (16, 56), (14, 74), (40, 36), (44, 56), (46, 74),
    (24, 76), (24, 104), (24, 132), (36, 76), (36, 104), (36, 132), (27, 17), (33, 17),
    (23, 20), (37, 20),
)  # fmt: skip


@pytest.fixture
def annotators(tmp_path, monkeypatch):
    root = tmp_path / "annotators"
    monkeypatch.setenv(ANNOTATORS_ENV, str(root))
    return root


def skeleton_maps(
    people: list[list[tuple[float, float]]], size: tuple[int, int] = SIZE, sigma: float = 3.0
) -> np.ndarray:
    """Confidence maps (a peak of 1 at each part) and fields (the limb's direction on a band
    along it) as OpenPose would give for ``people``, at ``size``."""
    width, height = size
    maps = np.zeros((PAF_OFFSET + 2 * len(LIMBS), height, width), np.float32)
    ys, xs = np.mgrid[0:height, 0:width]
    for points in people:
        for part, (x, y) in enumerate(points):
            peak = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
            maps[part] = np.maximum(maps[part], peak)
        for (a, b), (fx, fy) in zip(LIMBS, LIMB_FIELDS, strict=True):
            (ax, ay), (bx, by) = points[a], points[b]
            dx, dy = bx - ax, by - ay
            length = max(1e-6, float(np.hypot(dx, dy)))
            along = ((xs - ax) * dx + (ys - ay) * dy) / length
            across = np.abs((xs - ax) * dy - (ys - ay) * dx) / length
            band = (along >= -2) & (along <= length + 2) & (across <= sigma)
            maps[fx][band], maps[fy][band] = dx / length, dy / length
    return maps


def test_two_people_are_found_grouped_and_drawn():
    left = list(FIGURE)
    right = [(x + 110, y + 10) for x, y in FIGURE]
    maps = skeleton_maps([left, right])
    peaks = find_peaks(maps[:PARTS])
    people = group_people(peaks, maps, SIZE[1])
    assert len(people) == 2 and all(len(p.parts) == PARTS for p in people)
    where = {peak.number: (peak.x, peak.y) for part in peaks for peak in part}
    found = sorted([[where[p.parts[part]] for part in range(PARTS)] for p in people])
    for got, expected in zip(found, sorted([left, right]), strict=True):
        assert np.abs(np.array(got) - np.array(expected)).max() <= 1
    drawn = np.asarray(draw_people(peaks, people, SIZE))
    assert drawn.shape == (SIZE[1], SIZE[0], 3)
    for x, y in left + right:
        assert drawn[y, x].max() > 0  # a joint or limb is drawn at every part
    assert drawn[150:, 60:100].max() == 0 and drawn[:8].max() == 0  # nothing away from them
    assert tuple(drawn[20, 30]) != (0, 0, 0) and drawn[20, 30][0] > 0  # the nose is red-ish


def test_a_lone_part_or_a_few_limbs_make_nobody():
    maps = skeleton_maps([list(FIGURE)])
    maps[PARTS:PAF_OFFSET] = 0
    fields = maps[PAF_OFFSET:].copy()
    maps[PAF_OFFSET:] = 0  # no fields: the parts cannot be joined into a person
    assert group_people(find_peaks(maps[:PARTS]), maps, SIZE[1]) == []
    maps[PAF_OFFSET:] = fields
    for part in range(3, PARTS):  # only the nose, neck and right shoulder left: too few
        maps[part] = 0
    assert group_people(find_peaks(maps[:PARTS]), maps, SIZE[1]) == []


def test_the_network_maps_are_read_at_its_size_and_drawn_at_the_pictures(annotators, monkeypatch):
    """The detector's output (an eighth of a 368 px high input) back onto a 200×160 picture."""
    import cv2

    import core.conditioning.openpose as openpose

    build_tiny_openpose(annotators / "pose")
    net_size = (464, 368)  # 200×160 scaled to 368 px high, in multiples of 8
    sx, sy = net_size[0] / SIZE[0], net_size[1] / SIZE[1]
    figure = [(x * 2 * sx, (y + 10) * sy) for x, y in FIGURE]  # bigger, and lower
    maps = skeleton_maps([figure], net_size, sigma=10.0)
    small = np.stack([cv2.resize(m, (58, 46), interpolation=cv2.INTER_AREA) for m in maps])
    monkeypatch.setattr(openpose, "run_caffe", lambda *_args, **_kw: small[None])
    drawn = np.asarray(control_image(ControlLayer("cn", kind="pose"), Image.new("RGB", SIZE), SIZE))
    assert drawn.shape == (SIZE[1], SIZE[0], 3)
    for x, y in figure:
        px, py = round(x / sx), round(y / sy)
        assert drawn[py - 3 : py + 4, px - 3 : px + 4].max() > 0, (px, py)
    assert drawn[:, 120:].max() == 0  # nothing right of the figure


def test_openpose_files_run_through_the_real_detector(annotators):
    build_tiny_openpose(annotators / "pose")
    assert unavailable_reason("pose") is None
    picture = Image.new("RGB", (90, 70), "white")
    picture.paste((0, 0, 0), (20, 10, 50, 60))
    layer = ControlLayer("cn", kind="pose")
    made = control_image(layer, picture, (90, 70))
    assert made.mode == "RGB" and made.size == (90, 70)
    again = control_image(layer, picture, (90, 70))
    assert np.array_equal(np.asarray(again), np.asarray(made))


def test_another_network_under_openpose_names_is_one_line(annotators):
    hed = build_tiny_hed(annotators / "hed")
    folder = annotators / "pose"
    folder.mkdir(parents=True)
    for theirs, ours in zip(HED_FILES, OPENPOSE_FILES, strict=True):
        (folder / ours).write_bytes((hed / theirs).read_bytes())
    with pytest.raises(ModelError) as caught:
        control_image(ControlLayer("cn", kind="pose"), Image.new("RGB", (64, 64)), (64, 64))
    message = str(caught.value)
    assert "\n" not in message and "cannot be run" in message and OPENPOSE_FILES[1] in message


def test_a_broken_weights_file_is_one_line(annotators):
    folder = build_tiny_openpose(annotators / "pose")
    (folder / OPENPOSE_FILES[1]).write_bytes(b"\xff\x00 broken \x01" * 30)
    with pytest.raises(ModelError) as caught:
        control_image(ControlLayer("cn", kind="pose"), Image.new("RGB", (64, 64)), (64, 64))
    assert "\n" not in str(caught.value) and str(folder) in str(caught.value)
