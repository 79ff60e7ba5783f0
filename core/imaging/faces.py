"""Faces found locally, with no download, and the feathered elliptical masks that refine them.

The detector is YuNet (OpenCV's ``FaceDetectorYN``) when its ONNX weights are on disk — the file
named by ``IMG2IMG_STUDIO_FACE_MODEL``, or any ``face_detection_yunet*.onnx`` in the user data
folder — else the frontal-face Haar cascade that ships inside OpenCV 4.x (``cv2.data``). Big
pictures are searched at about a megapixel and the boxes scaled back, so a 12 MP photo takes a
fraction of a second. A YuNet file that cannot be read as YuNet (broken, truncated, another
network) is a one-line ModelError naming it, never a silent switch to the other detector.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from core.errors import InvalidRequest, ModelError
from core.user_dirs import user_data_dir

DETECT_SIDE = 1024  # pictures are searched at most this many px on their long side
MIN_FACE_FRACTION = 0.03  # faces smaller than this fraction of the short side are ignored
DEFAULT_MIN_CONFIDENCE = 0.65
HAAR_FILE = "haarcascade_frontalface_default.xml"
YUNET_FILE = "face_detection_yunet_2023mar.onnx"  # OpenCV Zoo's YuNet, the file to put in place
YUNET_COLUMNS = 15  # a YuNet face: box (4), five landmarks (10), score


@dataclass(frozen=True)
class FaceBox:
    """A face: its box in picture pixels (``x``, ``y`` top-left; ``w``, ``h``) and how sure the
    detector is (0–1; 1.0 for a box the user drew)."""

    x: int
    y: int
    w: int
    h: int
    confidence: float = 1.0

    def clamped(self, size: tuple[int, int]) -> FaceBox:
        """The box moved/cut to lie inside a picture of ``size``; InvalidRequest when nothing of
        it is left."""
        left, top = max(0, self.x), max(0, self.y)
        right, bottom = min(size[0], self.x + self.w), min(size[1], self.y + self.h)
        if right - left < 4 or bottom - top < 4:
            raise InvalidRequest(f"face box {self.as_list()} lies outside the {size} picture")
        return FaceBox(left, top, right - left, bottom - top, self.confidence)

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    def to_dict(self) -> dict[str, object]:
        return {"box": self.as_list(), "confidence": round(float(self.confidence), 3)}


def detect_faces(
    image: Image.Image, min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> list[FaceBox]:
    """The faces in ``image``, most confident first (boxes in the picture's own pixels)."""
    import cv2

    rgb = np.asarray(image.convert("RGB"))
    scale = min(1.0, DETECT_SIDE / max(image.size))
    if scale < 1.0:
        small = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        rgb = cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)
    model = yunet_weights()
    found = _yunet(rgb, model) if model is not None else _haar(rgb)
    boxes = []
    for x, y, w, h, confidence in found:
        if confidence < min_confidence:
            continue
        box = FaceBox(round(x / scale), round(y / scale), round(w / scale), round(h / scale))
        boxes.append(FaceBox(box.x, box.y, box.w, box.h, float(confidence)))
    boxes = _without_overlaps(boxes)
    return sorted(boxes, key=lambda b: -b.confidence)


def check_face_detector() -> None:
    """Raise the one-line ModelError of a YuNet file that cannot be used (before any pass)."""
    model = yunet_weights()
    if model is not None:
        _yunet(np.zeros((64, 64, 3), np.uint8), model)


def detector_name() -> str:
    """Which detector :func:`detect_faces` uses here ("YuNet" or "Haar cascade")."""
    return "YuNet" if yunet_weights() is not None else "Haar cascade"


def yunet_weights() -> Path | None:
    """YuNet's ONNX weights when present on disk (never downloaded)."""
    named = os.environ.get("IMG2IMG_STUDIO_FACE_MODEL")
    if named:
        path = Path(named)
        return path if path.is_file() else None
    return next(iter(sorted(user_data_dir(create=False).glob("face_detection_yunet*.onnx"))), None)


def _min_side(rgb: np.ndarray) -> int:
    return max(20, int(min(rgb.shape[:2]) * MIN_FACE_FRACTION))


def _haar(rgb: np.ndarray) -> list[tuple[float, float, float, float, float]]:
    """Haar cascade boxes; a box's stage weight (≈2 weak … ≥6 sure) maps to a 0–1 confidence."""
    import cv2

    cascades = cv2.data.haarcascades  # type: ignore[attr-defined]  # cv2 4.x ships it
    cascade = cv2.CascadeClassifier(str(Path(cascades) / HAAR_FILE))
    gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    side = _min_side(rgb)
    boxes, _levels, weights = cascade.detectMultiScale3(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side), outputRejectLevels=True
    )
    return [
        (float(x), float(y), float(w), float(h), 1.0 - math.exp(-max(0.0, float(weight)) / 3.0))
        for (x, y, w, h), weight in zip(boxes, np.ravel(weights), strict=False)
    ]


def _yunet(rgb: np.ndarray, model: Path) -> list[tuple[float, float, float, float, float]]:
    import cv2

    height, width = rgb.shape[:2]
    try:
        detector = cv2.FaceDetectorYN.create(str(model), "", (width, height), 0.3)
        _, faces = detector.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    except cv2.error:
        raise _unreadable_yunet(model) from None
    if faces is None:
        return []
    if faces.ndim != 2 or faces.shape[1] < YUNET_COLUMNS:
        raise _unreadable_yunet(model)
    side = _min_side(rgb)
    return [
        (float(f[0]), float(f[1]), float(f[2]), float(f[3]), float(f[-1]))
        for f in faces
        if min(f[2], f[3]) >= side
    ]


def _unreadable_yunet(model: Path) -> ModelError:
    return ModelError(
        f"the face detector {model} is not a readable YuNet model: replace it with "
        f"{YUNET_FILE} or remove it to use the built-in Haar cascade"
    )


def _without_overlaps(boxes: list[FaceBox]) -> list[FaceBox]:
    """Keep the more confident of two boxes that overlap by more than a third."""
    kept: list[FaceBox] = []
    for box in sorted(boxes, key=lambda b: -b.confidence):
        if all(_overlap(box, other) <= 1 / 3 for other in kept):
            kept.append(box)
    return kept


def _overlap(a: FaceBox, b: FaceBox) -> float:
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / min(a.w * a.h, b.w * b.h)


def face_mask(size: tuple[int, int], box: FaceBox, feather: int | None = None) -> Image.Image:
    """An L mask of ``size``: a filled ellipse a little larger than ``box`` (forehead, chin and
    cheeks), its edge feathered over ``feather`` px (default: a tenth of the face). Pixels further
    than that from the ellipse are 0, so they come back byte-identical."""
    feather = max(2, round(min(box.w, box.h) * 0.1)) if feather is None else max(0, feather)
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    rx, ry = box.w * 0.6, box.h * 0.7  # Haar/YuNet boxes are tight around eyes and mouth
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    if feather:
        mask = mask.filter(ImageFilter.GaussianBlur(feather / 2))
    return mask
