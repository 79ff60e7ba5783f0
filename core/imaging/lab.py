"""sRGB (D65) <-> CIELAB in numpy: the colour space colour matching and LAB files go through."""

from __future__ import annotations

import numpy as np
from PIL import Image

# sRGB (D65) <-> CIELAB, in numpy (float32; sRGB decoding through a 256-entry table).
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZN = (_RGB_TO_XYZ.T / _WHITE).astype(np.float32)  # linear RGB row → XYZ / white
_XYZN_TO_RGB = np.linalg.inv(_RGB_TO_XYZ.T / _WHITE).astype(np.float32)
_EPS = 216 / 24389
_KAPPA = 24389 / 27
_LEVELS = np.arange(256) / 255.0
_SRGB_TO_LINEAR = np.where(
    _LEVELS <= 0.04045, _LEVELS / 12.92, ((_LEVELS + 0.055) / 1.055) ** 2.4
).astype(np.float32)
_FINE = np.arange(65536) / 65535.0
_LINEAR_TO_SRGB = (
    np.where(_FINE <= 0.0031308, _FINE * 12.92, 1.055 * _FINE ** (1 / 2.4) - 0.055) * 255.0
).astype(np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    xyz = _SRGB_TO_LINEAR[rgb.reshape(-1, 3)] @ _RGB_TO_XYZN
    f = np.where(xyz > _EPS, np.cbrt(xyz), (_KAPPA * xyz + 16) / 116).astype(np.float32)
    lab = np.empty_like(f)
    lab[:, 0] = 116 * f[:, 1] - 16
    lab[:, 1] = 500 * (f[:, 0] - f[:, 1])
    lab[:, 2] = 200 * (f[:, 1] - f[:, 2])
    return lab


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """(N, 3) Lab → (N, 3) float sRGB in 0..255 (not rounded; out-of-gamut clipped)."""
    lab = lab.astype(np.float32, copy=False)
    f = np.empty_like(lab)
    f[:, 1] = (lab[:, 0] + 16) / 116
    f[:, 0] = f[:, 1] + lab[:, 1] / 500
    f[:, 2] = f[:, 1] - lab[:, 2] / 200
    cube = f * f * f
    xyz = np.where(cube > _EPS, cube, (116 * f - 16) / np.float32(_KAPPA))
    lin = np.clip(xyz @ _XYZN_TO_RGB, 0.0, 1.0)
    lin *= 65535
    return _LINEAR_TO_SRGB[np.rint(lin, out=lin).astype(np.uint16)]


def lab_image_to_rgb(img: Image.Image) -> np.ndarray:
    """Pillow "LAB" mode (L scaled to 0..255, a/b offset by 128) → uint8 RGB array."""
    arr = np.asarray(img).astype(np.float64).reshape(-1, 3)
    lab = np.stack([arr[:, 0] * 100 / 255, arr[:, 1] - 128, arr[:, 2] - 128], axis=1)
    rgb = np.clip(np.rint(lab_to_rgb(lab)), 0, 255).astype(np.uint8)
    return rgb.reshape(img.height, img.width, 3)


def lab_stats(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return lab.mean(axis=0, dtype=np.float64), lab.std(axis=0, dtype=np.float64)


def image_lab(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 sRGB → (H, W, 3) float32 CIELAB (D65) through OpenCV: the fast path for
    whole areas (colour match, seam measure), within 0.5 ΔE of :func:`rgb_to_lab`."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def image_rgb(lab: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (N, 3) CIELAB → uint8 sRGB (rounded, out-of-gamut clipped), through OpenCV."""
    import cv2

    shaped = np.ascontiguousarray(lab, np.float32).reshape(-1, 1, 3) if lab.ndim == 2 else lab
    rgb = cv2.cvtColor(np.ascontiguousarray(shaped, np.float32), cv2.COLOR_Lab2RGB)
    out = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    return out.reshape(lab.shape)
