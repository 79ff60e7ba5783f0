"""Caffe networks run by OpenCV's dnn module: the control detectors' shared loading and running.

A ``.prototxt`` (text) and a ``.caffemodel`` (binary protobuf) hold only the layers and their
weights, never code, so reading them is safe. Networks are loaded once per folder and run one at
a time (a loaded network is not re-entrant). Caffe's ``Crop`` layers are replaced by a centre
crop, as in OpenCV's ``samples/dnn/edge_detection.py`` (HED's side outputs are upsampled a little
larger than the picture and cut back around their centre).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelError

_NETS: dict[tuple[object, ...], Any] = {}  # files and their change times → loaded network
_LOCK = threading.Lock()
_CROP_REGISTERED = False


class _CentreCrop:
    """Caffe's ``Crop``: the first input cut to the second's height and width, centred."""

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


def run_caffe(
    folder: Path, files: tuple[str, str], blob: np.ndarray, what: str, output: str = ""
) -> np.ndarray:
    """The output ``output`` (default: the last layer's) of the network ``files`` (prototxt,
    weights) in ``folder`` for the input ``blob``; ModelError (one line, naming ``what``) when
    the files cannot be read or run."""
    import cv2

    prototxt, weights = (str(folder / name) for name in files)
    with _LOCK:
        try:
            net = _network(prototxt, weights)
            net.setInput(blob)
            return np.asarray(net.forward(output) if output else net.forward())
        except (cv2.error, OSError):
            raise unreadable(folder, files, what) from None


def unreadable(folder: Path, files: tuple[str, str], what: str) -> ModelError:
    return ModelError(
        f"the {what} files in {folder} cannot be run (broken, or not {' and '.join(files)})"
    )


def _network(prototxt: str, weights: str) -> Any:
    import cv2

    global _CROP_REGISTERED
    if not _CROP_REGISTERED:  # for every Caffe net in the process: they are all ours
        cv2.dnn_registerLayer("Crop", _CentreCrop)
        _CROP_REGISTERED = True
    key = tuple((name, Path(name).stat().st_mtime_ns) for name in (prototxt, weights))
    if key not in _NETS:  # a file replaced on disk is read again
        _NETS[key] = cv2.dnn.readNetFromCaffe(prototxt, weights)
    return _NETS[key]
