"""Soft edges with HED (holistically-nested edge detection), run by OpenCV's dnn module.

The network is the HED authors' Caffe release (``deploy.prototxt`` + ``hed_pretrained_bsds
.caffemodel``): protobuf files read by ``cv2.dnn.readNetFromCaffe``, no unpickling and no torch.
As in OpenCV's ``samples/dnn/edge_detection.py``, Caffe's ``Crop`` layers are replaced by a
centre crop (HED's side outputs are upsampled a little larger than the picture). The output
(``sigmoid-fuse``) is the edge probability, scaled to 0–255 grey levels: soft white edges on
black, as ControlNet's soft-edge models were trained on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.conditioning.annotator_files import HED_FILES
from core.errors import ModelError

HED_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)  # the training set's mean colour
HED_OUTPUT = "sigmoid-fuse"
HED_MAX_SIDE = 1024  # px: bigger pictures are searched at this size (the net is VGG-16 sized)

_NETS: dict[str, Any] = {}  # folder → loaded network
_LOCK = threading.Lock()  # one forward at a time per process (a net is not re-entrant)
_CROP_REGISTERED = False


class _CentreCrop:
    """Caffe's ``Crop`` as HED needs it: the first input cut to the second's size, centred."""

    def __init__(self, params: dict[str, Any], blobs: Sequence[Any]) -> None:
        self.top = self.left = 0
        self.height = self.width = 0

    def getMemoryShapes(self, inputs: Sequence[Sequence[int]]) -> Sequence[Sequence[int]]:  # noqa: N802
        source, target = inputs[0], inputs[1]
        self.height, self.width = int(target[2]), int(target[3])
        self.top = (int(source[2]) - self.height) // 2
        self.left = (int(source[3]) - self.width) // 2
        return [[int(source[0]), int(source[1]), self.height, self.width]]

    def forward(self, inputs: Sequence[Any]) -> Sequence[Any]:
        top, left = self.top, self.left
        return [inputs[0][:, :, top : top + self.height, left : left + self.width]]


def soft_edges(folder: Path, picture: Image.Image) -> Image.Image:
    """HED's soft edges of ``picture`` (RGB, the picture's size): white edges on black."""
    import cv2

    width, height = picture.size
    scale = min(1.0, HED_MAX_SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    bgr = np.ascontiguousarray(np.asarray(picture.convert("RGB").resize(size))[:, :, ::-1])
    blob = cv2.dnn.blobFromImage(bgr, 1.0, size, HED_MEAN_BGR, swapRB=False, crop=False)
    with _LOCK:
        net = _network(folder)
        try:
            net.setInput(blob)
            out = np.asarray(net.forward(HED_OUTPUT))
        except cv2.error:
            raise _unreadable(folder) from None
    if out.ndim != 4 or out.shape[:2] != (1, 1):
        raise _unreadable(folder)
    edges = cv2.resize(out[0, 0].astype(np.float32), (width, height))
    grey = (edges * 255.0).clip(0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def _network(folder: Path) -> Any:
    import cv2

    global _CROP_REGISTERED
    if not _CROP_REGISTERED:  # for every Caffe net in the process: HED is the only one
        cv2.dnn_registerLayer("Crop", _CentreCrop)
        _CROP_REGISTERED = True
    key = str(folder)
    if key not in _NETS:
        prototxt, weights = (str(folder / name) for name in HED_FILES)
        try:
            _NETS[key] = cv2.dnn.readNetFromCaffe(prototxt, weights)
        except cv2.error:
            raise _unreadable(folder) from None
    return _NETS[key]


def _unreadable(folder: Path) -> ModelError:
    return ModelError(
        f"the HED files in {folder} cannot be run (broken, or not HED's {' and '.join(HED_FILES)})"
    )
