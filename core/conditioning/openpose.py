"""Pose maps with OpenPose's COCO body model, run by OpenCV's dnn module.

The network is the CMU authors' Caffe release (``pose_deploy_linevec.prototxt`` +
``pose_iter_440000.caffemodel``, :mod:`core.conditioning.caffe_nets`): for a picture scaled to
368 px high it gives, at an eighth of that size, 19 confidence maps (18 body parts and the
background) followed by 38 part-affinity fields (x and y of 19 limbs). Parts are the maps'
peaks; each limb joins the pair of peaks whose field points along it (OpenPose's greedy
matching); limbs sharing a part make one person. People are drawn as ControlNet's OpenPose maps:
coloured limbs and joints on black.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from core.conditioning.annotator_files import OPENPOSE_FILES
from core.conditioning.caffe_nets import run_caffe, unreadable

NET_HEIGHT = 368  # px: the height the body model was trained at
NET_STRIDE = 8  # its maps are an eighth of its input
NET_MAX_WIDTH = 4 * NET_HEIGHT  # a very wide picture is squeezed to this (memory)
PARTS = 18  # nose, neck, right/left shoulder, elbow, wrist, hip, knee, ankle, eyes, ears
PAF_OFFSET = 19  # the fields follow the 19 confidence maps
PEAK_THRESHOLD = 0.1  # a part's confidence map must reach this at a peak
FIELD_THRESHOLD = 0.05  # a limb's samples must point along it at least this much…
FIELD_SAMPLES = 10  # …at most of these points between its two parts
MIN_PARTS = 4  # people with fewer parts, or a lower mean score, are dropped
MIN_MEAN_SCORE = 0.4
# (part a, part b) of each limb, and the fields (x, y) that point from a to b; COCO order.
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
    (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17),
)  # fmt: skip
LIMB_FIELDS = (
    (31, 32), (39, 40), (33, 34), (35, 36), (41, 42), (43, 44), (19, 20), (21, 22), (23, 24),
    (25, 26), (27, 28), (29, 30), (47, 48), (49, 50), (53, 54), (51, 52), (55, 56), (37, 38),
    (45, 46),
)  # fmt: skip
DRAWN_LIMBS = 17  # the last two (ear–shoulder) help grouping but are not drawn
COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
LIMB_WIDTH = 4  # px: half the width of a drawn limb; joints are circles of this radius


@dataclass(frozen=True)
class Peak:
    """One candidate body part: where (picture pixels), how sure, and its number."""

    x: float
    y: float
    score: float
    number: int


@dataclass(eq=False)  # people are told apart by identity
class Person:
    """A grouped person: part index → peak number, and the sum of its scores."""

    parts: dict[int, int] = field(default_factory=dict)
    score: float = 0.0


def pose_map(folder: Path, picture: Image.Image) -> Image.Image:
    """The OpenPose map of ``picture`` (RGB, the picture's size)."""
    import cv2

    width, height = picture.size
    net_width = round(min(width * NET_HEIGHT / height, NET_MAX_WIDTH) / NET_STRIDE) * NET_STRIDE
    net_width = max(NET_STRIDE, net_width)
    bgr = np.ascontiguousarray(np.asarray(picture.convert("RGB"))[:, :, ::-1])
    size = (net_width, NET_HEIGHT)
    blob = cv2.dnn.blobFromImage(bgr, 1 / 256, size, (128, 128, 128), swapRB=False, crop=False)
    out = run_caffe(folder, OPENPOSE_FILES, blob, "OpenPose")
    if out.ndim != 4 or out.shape[:2] != (1, PAF_OFFSET + 2 * len(LIMBS)):
        raise unreadable(folder, OPENPOSE_FILES, "OpenPose")
    # The maps at the network's input size (not the picture's: 57 planes of a big picture
    # would take hundreds of MB), the parts scaled to the picture for drawing.
    maps = np.stack([cv2.resize(plane, size, interpolation=cv2.INTER_CUBIC)
                     for plane in out[0].astype(np.float32)])  # fmt: skip
    peaks = find_peaks(maps[:PARTS])
    people = group_people(peaks, maps, NET_HEIGHT)
    sx, sy = width / net_width, height / NET_HEIGHT
    scaled = [[Peak(p.x * sx, p.y * sy, p.score, p.number) for p in part] for part in peaks]
    return draw_people(scaled, people, (width, height))


def find_peaks(confidence: np.ndarray) -> list[list[Peak]]:
    """Per part, its maps' local maxima above the threshold (after a light blur)."""
    import cv2

    peaks: list[list[Peak]] = []
    number = 0
    for plane in confidence:
        smooth = cv2.GaussianBlur(plane, (0, 0), 3)
        padded = np.pad(smooth, 1, constant_values=-np.inf)
        centre = padded[1:-1, 1:-1]
        is_peak = (
            (centre >= padded[:-2, 1:-1])
            & (centre >= padded[2:, 1:-1])
            & (centre >= padded[1:-1, :-2])
            & (centre >= padded[1:-1, 2:])
            & (centre > PEAK_THRESHOLD)
        )
        ys, xs = np.nonzero(is_peak)
        found = []
        for x, y in zip(xs, ys, strict=True):
            found.append(Peak(float(x), float(y), float(plane[y, x]), number))
            number += 1
        peaks.append(found)
    return peaks


def _limb_score(a: Peak, b: Peak, fields: np.ndarray, height: int) -> float | None:
    """How well the field points from ``a`` to ``b`` (None: not a limb)."""
    dx, dy = b.x - a.x, b.y - a.y
    norm = max(1e-3, math.hypot(dx, dy))
    xs = np.rint(np.linspace(a.x, b.x, FIELD_SAMPLES)).astype(int)
    ys = np.rint(np.linspace(a.y, b.y, FIELD_SAMPLES)).astype(int)
    along = fields[0, ys, xs] * dx / norm + fields[1, ys, xs] * dy / norm
    score = float(along.mean()) + min(0.5 * height / norm - 1, 0.0)  # long limbs cost
    if np.count_nonzero(along > FIELD_THRESHOLD) > 0.8 * FIELD_SAMPLES and score > 0:
        return score
    return None


def _limbs(peaks: list[list[Peak]], maps: np.ndarray, height: int) -> list[list[tuple]]:
    """Per limb: the chosen (peak a, peak b, score), each peak used once, best first."""
    chosen: list[list[tuple]] = []
    for (part_a, part_b), (fx, fy) in zip(LIMBS, LIMB_FIELDS, strict=True):
        fields = maps[[fx, fy]]
        scored = []
        for a in peaks[part_a]:
            for b in peaks[part_b]:
                score = _limb_score(a, b, fields, height)
                if score is not None:
                    scored.append((score, a, b))
        used_a: set[int] = set()
        used_b: set[int] = set()
        limbs = []
        for score, a, b in sorted(scored, key=lambda item: -item[0]):
            if a.number not in used_a and b.number not in used_b:
                limbs.append((a, b, score))
                used_a.add(a.number)
                used_b.add(b.number)
        chosen.append(limbs)
    return chosen


def group_people(peaks: list[list[Peak]], maps: np.ndarray, height: int) -> list[Person]:
    """The people the limbs make (``maps``: confidence maps then fields, at picture size)."""
    people: list[Person] = []
    for limb_number, limbs in enumerate(_limbs(peaks, maps, height)):
        part_a, part_b = LIMBS[limb_number]
        for a, b, score in limbs:
            owners = [p for p in people if a.number == p.parts.get(part_a, -1)]
            owners += [p for p in people if b.number == p.parts.get(part_b, -1) and p not in owners]
            if not owners:
                if limb_number < DRAWN_LIMBS:  # a new person (never from an ear–shoulder limb)
                    parts = {part_a: a.number, part_b: b.number}
                    people.append(Person(parts, a.score + b.score + score))
            elif len(owners) == 2 and not set(owners[0].parts) & set(owners[1].parts):
                first, second = owners  # two halves of one person: join them
                first.parts.update(second.parts)
                first.score += second.score + score
                people.remove(second)
            elif owners[0].parts.get(part_b) != b.number:
                owners[0].parts[part_b] = b.number
                owners[0].score += b.score + score
    return [
        p for p in people if len(p.parts) >= MIN_PARTS and p.score / len(p.parts) >= MIN_MEAN_SCORE
    ]


def draw_people(
    peaks: list[list[Peak]], people: list[Person], size: tuple[int, int]
) -> Image.Image:
    """ControlNet's OpenPose drawing: joints as dots, limbs as translucent ellipses, on black."""
    import cv2

    where = {peak.number: peak for part in peaks for peak in part}
    canvas: np.ndarray = np.zeros((size[1], size[0], 3), np.uint8)
    for part in range(PARTS):
        for person in people:
            if part in person.parts:
                peak = where[person.parts[part]]
                cv2.circle(canvas, (int(peak.x), int(peak.y)), LIMB_WIDTH, COLOURS[part], -1)
    for limb in range(DRAWN_LIMBS):
        part_a, part_b = LIMBS[limb]
        for person in people:
            if part_a not in person.parts or part_b not in person.parts:
                continue
            a, b = where[person.parts[part_a]], where[person.parts[part_b]]
            length = math.hypot(a.x - b.x, a.y - b.y)
            angle = math.degrees(math.atan2(a.y - b.y, a.x - b.x))
            centre = (int((a.x + b.x) / 2), int((a.y + b.y) / 2))
            axes = (int(length / 2), LIMB_WIDTH)
            polygon = np.array(cv2.ellipse2Poly(centre, axes, int(angle), 0, 360, 1), np.int32)
            layer = canvas.copy()
            cv2.fillConvexPoly(layer, polygon, COLOURS[limb])
            canvas = np.asarray(cv2.addWeighted(canvas, 0.4, layer, 0.6, 0), np.uint8)
    return Image.fromarray(canvas, "RGB")
