"""Tiny random-weight Caffe networks in the control detectors' formats, for their tests.

- HED (soft edge), the same shape of network as ``deploy.prototxt``: input ``data``; a first
  convolution padded by 35; side outputs upsampled by a ``Deconvolution`` and centre-cropped back
  by ``Crop`` layers against ``data``; a 1×1 fusion; ``sigmoid-fuse``; two stages of four
  channels instead of VGG-16's five.
- OpenPose (pose), like ``pose_deploy_linevec.prototxt``: input ``data``, three poolings (maps at
  an eighth of the input), a 38-field branch (``L1``) and a 19-map branch (``L2``) concatenated
  maps first; one small stage instead of six.

A ``.caffemodel`` is Caffe's ``NetParameter`` protobuf, written here field by field (caffe is not
installable from PyPI): layer (100) → name (1), blobs (7) → shape (7) → dim (1), data (5).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from core.conditioning.annotator_files import HED_FILES, OPENPOSE_FILES

HED_PROTOTXT = """name: "tiny-hed"
input: "data"
input_dim: 1
input_dim: 3
input_dim: 64
input_dim: 64
layer { name: "conv1_1" type: "Convolution" bottom: "data" top: "conv1_1"
  convolution_param { num_output: 4 kernel_size: 3 pad: 35 } }
layer { name: "relu1_1" type: "ReLU" bottom: "conv1_1" top: "conv1_1" }
layer { name: "score-dsn1" type: "Convolution" bottom: "conv1_1" top: "score-dsn1-up"
  convolution_param { num_output: 1 kernel_size: 1 } }
layer { name: "crop1" type: "Crop" bottom: "score-dsn1-up" bottom: "data" top: "upscore-dsn1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1_1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2_1" type: "Convolution" bottom: "pool1" top: "conv2_1"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu2_1" type: "ReLU" bottom: "conv2_1" top: "conv2_1" }
layer { name: "score-dsn2" type: "Convolution" bottom: "conv2_1" top: "score-dsn2"
  convolution_param { num_output: 1 kernel_size: 1 } }
layer { name: "upsample_2" type: "Deconvolution" bottom: "score-dsn2" top: "score-dsn2-up"
  convolution_param { kernel_size: 4 stride: 2 num_output: 1 bias_term: false } }
layer { name: "crop2" type: "Crop" bottom: "score-dsn2-up" bottom: "data" top: "upscore-dsn2" }
layer { name: "concat" type: "Concat" bottom: "upscore-dsn1" bottom: "upscore-dsn2"
  top: "concat-upscore" concat_param { concat_dim: 1 } }
layer { name: "new-score-weighting" type: "Convolution" bottom: "concat-upscore"
  top: "upscore-fuse" convolution_param { num_output: 1 kernel_size: 1 } }
layer { name: "sigmoid-fuse" type: "Sigmoid" bottom: "upscore-fuse" top: "sigmoid-fuse" }
"""

# layer name → its blobs' shapes (weights, then bias where the layer has one)
HED_BLOBS: dict[str, tuple[tuple[int, ...], ...]] = {
    "conv1_1": ((4, 3, 3, 3), (4,)),
    "score-dsn1": ((1, 4, 1, 1), (1,)),
    "conv2_1": ((4, 4, 3, 3), (4,)),
    "score-dsn2": ((1, 4, 1, 1), (1,)),
    "upsample_2": ((1, 1, 4, 4),),
    "new-score-weighting": ((1, 2, 1, 1), (1,)),
}

POSE_PROTOTXT = """name: "tiny-openpose"
input: "data"
input_dim: 1
input_dim: 3
input_dim: 368
input_dim: 368
layer { name: "conv1_1" type: "Convolution" bottom: "data" top: "conv1_1"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu1_1" type: "ReLU" bottom: "conv1_1" top: "conv1_1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1_1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "pool2" type: "Pooling" bottom: "pool1" top: "pool2"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "pool3" type: "Pooling" bottom: "pool2" top: "pool3"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "Mconv7_stage6_L1" type: "Convolution" bottom: "pool3" top: "Mconv7_stage6_L1"
  convolution_param { num_output: 38 kernel_size: 1 } }
layer { name: "Mconv7_stage6_L2" type: "Convolution" bottom: "pool3" top: "Mconv7_stage6_L2"
  convolution_param { num_output: 19 kernel_size: 1 } }
layer { name: "concat_stage7" type: "Concat" bottom: "Mconv7_stage6_L2"
  bottom: "Mconv7_stage6_L1" top: "net_output" concat_param { axis: 1 } }
"""
POSE_BLOBS: dict[str, tuple[tuple[int, ...], ...]] = {
    "conv1_1": ((4, 3, 3, 3), (4,)),
    "Mconv7_stage6_L1": ((38, 4, 1, 1), (38,)),
    "Mconv7_stage6_L2": ((19, 4, 1, 1), (19,)),
}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _blob(array: np.ndarray) -> bytes:
    shape = _field(1, b"".join(_varint(int(d)) for d in array.shape))  # BlobShape.dim, packed
    return _field(7, shape) + _field(5, array.astype("<f4").tobytes())  # shape, data (packed)


def caffemodel_bytes(blob_shapes: dict[str, tuple[tuple[int, ...], ...]], seed: int = 0) -> bytes:
    """Random weights (normal, σ 0.1) of the layers ``blob_shapes`` names, as a ``NetParameter``."""
    rng = np.random.default_rng(seed)
    layers = []
    for name, shapes in blob_shapes.items():
        blobs = b"".join(_field(7, _blob(rng.normal(0, 0.1, shape))) for shape in shapes)
        layers.append(_field(100, _field(1, name.encode()) + blobs))
    return b"".join(layers)


def _write(folder: str | Path, files: tuple[str, str], prototxt: str, weights: bytes) -> Path:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / files[0]).write_text(prototxt)
    (out / files[1]).write_bytes(weights)
    return out


def build_tiny_hed(folder: str | Path, seed: int = 0) -> Path:
    """Write ``deploy.prototxt`` and ``hed_pretrained_bsds.caffemodel`` into ``folder``."""
    return _write(folder, HED_FILES, HED_PROTOTXT, caffemodel_bytes(HED_BLOBS, seed))


def build_tiny_openpose(folder: str | Path, seed: int = 0) -> Path:
    """Write ``pose_deploy_linevec.prototxt`` and ``pose_iter_440000.caffemodel`` into
    ``folder``."""
    return _write(folder, OPENPOSE_FILES, POSE_PROTOTXT, caffemodel_bytes(POSE_BLOBS, seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a tiny random-weight Caffe detector.")
    parser.add_argument("kind", choices=("softedge", "pose"))
    parser.add_argument("folder")
    args = parser.parse_args(argv)
    build = build_tiny_hed if args.kind == "softedge" else build_tiny_openpose
    print(build(args.folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
