"""Soft edges with HED (holistically-nested edge detection), run by OpenCV's dnn module.

The network is the HED authors' Caffe release (``deploy.prototxt`` + ``hed_pretrained_bsds
.caffemodel``, :mod:`core.conditioning.caffe_nets`). Its fused output (``sigmoid-fuse``) is the
edge probability, scaled to 0–255 grey levels: soft white edges on black, as ControlNet's
soft-edge models were trained on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.conditioning.annotator_files import HED_FILES
from core.conditioning.caffe_nets import run_caffe, unreadable

HED_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)  # the training set's mean colour
HED_OUTPUT = "sigmoid-fuse"
HED_MAX_SIDE = 1024  # px: bigger pictures are searched at this size (the net is VGG-16 sized)


def soft_edges(folder: Path, picture: Image.Image) -> Image.Image:
    """HED's soft edges of ``picture`` (RGB, the picture's size): white edges on black."""
    import cv2

    width, height = picture.size
    scale = min(1.0, HED_MAX_SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    bgr = np.ascontiguousarray(np.asarray(picture.convert("RGB").resize(size))[:, :, ::-1])
    blob = cv2.dnn.blobFromImage(bgr, 1.0, size, HED_MEAN_BGR, swapRB=False, crop=False)
    out = run_caffe(folder, HED_FILES, blob, "HED", HED_OUTPUT)
    if out.ndim != 4 or out.shape[:2] != (1, 1):
        raise unreadable(folder, HED_FILES, "HED")
    edges = cv2.resize(out[0, 0].astype(np.float32), (width, height))
    grey = (edges * 255.0).clip(0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")
