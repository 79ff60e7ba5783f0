"""Where the model-based control types find their detector files, and why one cannot run.

Every detector is read from disk, never downloaded at run time, and never unpickled:

- ``depth``: a transformers depth estimator in safetensors (a ``depth/`` folder with its
  ``config.json``, or Depth Anything V2 Small / DPT hybrid in the Hugging Face cache);
- ``softedge``: HED (holistically-nested edge detection), the authors' Caffe release run by
  OpenCV's dnn module (a ``softedge/`` folder with ``deploy.prototxt`` and
  ``hed_pretrained_bsds.caffemodel``: protobuf files, no code in them);
- ``pose``: OpenPose's 18-keypoint COCO body model, the CMU authors' Caffe release run by
  OpenCV's dnn module (a ``pose/`` folder with ``pose_deploy_linevec.prototxt`` and
  ``pose_iter_440000.caffemodel``), its people grouped and drawn as ControlNet's OpenPose maps.

The folders live in the annotators folder: ``$IMG2IMG_STUDIO_ANNOTATORS``, else ``annotators``
in the app's data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.conditioning.specs import MODEL_CONTROL_KINDS
from core.errors import ModelError
from core.user_dirs import user_data_dir

ANNOTATORS_ENV = "IMG2IMG_STUDIO_ANNOTATORS"
# Depth estimators in safetensors, looked for in the Hugging Face cache.
DEPTH_REPOS = ("depth-anything/Depth-Anything-V2-Small-hf", "Intel/dpt-hybrid-midas")
HED_FILES = ("deploy.prototxt", "hed_pretrained_bsds.caffemodel")
OPENPOSE_FILES = ("pose_deploy_linevec.prototxt", "pose_iter_440000.caffemodel")
CAFFE_FILES = {"softedge": HED_FILES, "pose": OPENPOSE_FILES}
CAFFE_RELEASES = {
    "softedge": "the HED authors' Caffe release",
    "pose": "OpenPose's COCO body model, Caffe",
}


def annotators_root() -> Path:
    """The folder holding one sub-folder of detector files per control type."""
    configured = os.environ.get(ANNOTATORS_ENV)
    return Path(configured) if configured else user_data_dir(create=False) / "annotators"


def needed_files(kind: str) -> str:
    """What ``kind`` needs on disk, in words (for help texts): "" for the local kinds."""
    folder = annotators_root() / kind
    if kind == "depth":
        return f"a depth estimator (safetensors + config.json) in {folder}"
    if kind in CAFFE_FILES:
        return f"{' and '.join(CAFFE_FILES[kind])} in {folder}"
    return ""


def unavailable_reason(kind: str) -> str | None:
    """Why a control image of ``kind`` cannot be made here and how to get it, one line whose
    headline ends at the first ": "; None when it can."""
    if kind not in MODEL_CONTROL_KINDS:
        return None
    try:
        detector_folder(kind)
    except ModelError as exc:
        return str(exc)
    return None


def detector_folder(kind: str) -> Path:
    """The folder of ``kind``'s detector files; ModelError (one line: what is missing, where to
    put it) when they are not on disk."""
    folder = annotators_root() / kind
    if kind == "depth":
        if (folder / "config.json").is_file():
            return folder
        for repo in DEPTH_REPOS:
            cached = _cached_snapshot(repo)
            if cached is not None:
                return cached
        raise ModelError(
            f"the depth preprocessor needs its detector files: a depth estimator (safetensors + "
            f"config.json) in {folder}, or {' or '.join(DEPTH_REPOS)} in the Hugging Face cache; "
            "or make the depth map elsewhere and use type 'image'"
        )
    if kind in CAFFE_FILES:
        missing = [name for name in CAFFE_FILES[kind] if not (folder / name).is_file()]
        if not missing:
            return folder
        raise ModelError(
            f"the {kind} preprocessor needs its detector files: {' and '.join(missing)} in "
            f"{folder} ({CAFFE_RELEASES[kind]}); or make the {kind} map elsewhere and use type "
            "'image'"
        )
    raise ModelError(f"the {kind} control type has no preprocessor")


def _cached_snapshot(repo: str) -> Path | None:
    """The cached snapshot of a hub repo holding a config and safetensors weights, or None."""
    try:
        from huggingface_hub import snapshot_download

        folder = Path(
            snapshot_download(
                repo, allow_patterns=["*.json", "*.safetensors"], local_files_only=True
            )
        )
    except Exception:  # not cached (the error types differ between hub versions)
        return None
    has_weights = any(folder.glob("*.safetensors"))
    return folder if has_weights and (folder / "config.json").is_file() else None
