from __future__ import annotations

import hashlib
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core import imaging
from core.errors import ImageError
from core.hashing import file_sha256, pixel_hash
from core.imaging import (
    blur_mask,
    composite,
    fit_within,
    load_image,
    load_mask,
    mask_bbox,
    mask_is_empty,
    match_colors,
    normalize_image,
    resize_to,
)
from tests.tiny_models.images import make_image, make_mask


def _one_line_error(path, match: str | None = None) -> str:
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    if match:
        assert match in message
    return message


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"),
                                     ("BMP", "bmp"), ("TIFF", "tif")])  # fmt: skip
def test_each_format_loads_as_rgb(tmp_path, fmt, ext):
    src = make_image(40, 30)
    path = tmp_path / f"img.{ext}"
    src.save(path, format=fmt)
    img = load_image(path)
    assert img.mode == "RGB" and img.size == (40, 30)
    diff = np.abs(np.asarray(img, np.int16) - np.asarray(src, np.int16))
    assert diff.mean() < 12


def test_exif_orientation_6_rotates(tmp_path):
    src = Image.new("RGB", (40, 20), (0, 0, 255))
    src.paste((255, 0, 0), (0, 0, 8, 8))  # red in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rot.jpg"
    src.save(path, exif=exif, quality=95)
    img = load_image(path)
    assert img.size == (20, 40)
    r, g, b = img.getpixel((16, 3))  # rotated 90° clockwise: now top-right
    assert r > 200 and b < 60


def test_rgba_flattened_onto_white(tmp_path):
    src = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    src.putpixel((0, 0), (255, 0, 0, 255))
    src.putpixel((1, 0), (0, 0, 0, 128))
    path = tmp_path / "a.png"
    src.save(path)
    img = load_image(path)
    assert img.mode == "RGB"
    assert img.getpixel((3, 3)) == (255, 255, 255)
    assert img.getpixel((0, 0)) == (255, 0, 0)
    assert all(120 <= v <= 135 for v in img.getpixel((1, 0)))


def test_grayscale_palette_cmyk(tmp_path):
    gray = Image.new("L", (3, 3), 77)
    gray.save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").getpixel((0, 0)) == (77, 77, 77)

    pal = Image.new("P", (3, 3), 1)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    img = load_image(tmp_path / "p.png")
    assert img.getpixel((0, 0)) == (255, 255, 255)
    assert img.getpixel((2, 2)) == (10, 200, 30)

    Image.new("CMYK", (3, 3), (0, 0, 0, 0)).save(tmp_path / "c.tif")
    assert load_image(tmp_path / "c.tif").getpixel((1, 1)) == (255, 255, 255)
    Image.new("CMYK", (3, 3), (0, 0, 0, 255)).save(tmp_path / "c.jpg")
    assert max(load_image(tmp_path / "c.jpg").getpixel((1, 1))) < 10


def test_sixteen_bit_scaled_not_clipped(tmp_path):
    arr = np.array([[0, 32768, 65535, 1000]], dtype=np.uint16)
    src = Image.fromarray(arr)
    assert src.mode == "I;16"
    src.save(tmp_path / "d.png")
    img = load_image(tmp_path / "d.png")
    assert [img.getpixel((x, 0))[0] for x in range(4)] == [0, 128, 255, 3]
    assert normalize_image(src.convert("I")).getpixel((2, 0)) == (255, 255, 255)
    big_endian = Image.frombytes("I;16B", (4, 1), arr.astype(">u2").tobytes())
    assert normalize_image(big_endian).getpixel((1, 0)) == (128, 128, 128)
    floats = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), "F")
    assert [normalize_image(floats).getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]


def test_missing_file_and_directory(tmp_path):
    assert _one_line_error(tmp_path / "nope.png").startswith("no such file:")
    _one_line_error(tmp_path, "folder")


def test_not_an_image(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("hello\nworld\n")
    _one_line_error(text, "not a supported image file")
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(bytes(range(256)) * 8)
    _one_line_error(junk)
    fake_png = tmp_path / "fake.png"
    fake_png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    _one_line_error(fake_png)
    (tmp_path / "empty.png").write_bytes(b"")
    _one_line_error(tmp_path / "empty.png")


def test_truncated_files(tmp_path):
    src = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg")):
        full = tmp_path / f"full.{ext}"
        src.save(full, format=fmt)
        cut = tmp_path / f"cut.{ext}"
        cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        _one_line_error(cut, "cannot read image")


def test_pixel_limit_checked_from_header(tmp_path):
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_header(20000, 20000))
    message = _one_line_error(huge, "over the 50 MP limit")
    assert "400.0 MP" in message
    big = tmp_path / "big.png"
    big.write_bytes(_png_header(8000, 8000))
    assert "8000×8000 = 64.0 MP" in _one_line_error(big)


def test_pixel_limit_parameter(tmp_path, monkeypatch):
    path = tmp_path / "s.png"
    make_image(40, 30).save(path)
    with pytest.raises(ImageError, match=r"40×30 = 0\.0 MP, over the 0\.001 MP limit"):
        load_image(path, max_pixels=1000)
    assert imaging.MAX_PIXELS == 50_000_000


def test_load_mask_alpha_luminance_and_size(tmp_path):
    rgba = Image.new("RGBA", (48, 32), (0, 0, 0, 0))
    rgba.paste((0, 0, 0, 255), (10, 10, 20, 20))
    mask = load_mask(rgba, (48, 32))
    assert mask.mode == "L" and mask.getpixel((15, 15)) == 255 and mask.getpixel((0, 0)) == 0

    rgb = Image.new("RGB", (48, 32), "black")
    rgb.paste((255, 255, 255), (0, 0, 24, 32))
    big = load_mask(rgb, (96, 64))
    assert big.size == (96, 64)
    assert big.getpixel((10, 30)) == 255 and big.getpixel((90, 30)) == 0

    opaque = Image.new("RGBA", (8, 8), (255, 255, 255, 255))
    assert load_mask(opaque, (8, 8)).getpixel((3, 3)) == 255  # no transparency → luminance

    path = tmp_path / "m.png"
    rgba.save(path)
    assert load_mask(path, (24, 16)).getpixel((7, 7)) == 255
    with pytest.raises(ImageError):
        load_mask(tmp_path / "missing.png", (8, 8))


def test_blur_mask_and_bbox():
    mask = make_mask(96, 64, (30, 20, 60, 40))
    assert blur_mask(mask, 0).tobytes() == mask.tobytes()
    blurred = blur_mask(mask, 4)
    assert blurred.mode == "L" and blurred.tobytes() != mask.tobytes()
    assert mask_bbox(mask) == (30, 20, 61, 41)
    assert mask_bbox(Image.new("L", (5, 5))) is None
    assert mask_is_empty(Image.new("L", (5, 5)))
    assert not mask_is_empty(mask)
    assert mask_bbox(blurred, threshold=200) is not None


def test_composite_byte_identical_outside_mask():
    original = make_image(96, 64, seed=1)
    generated = make_image(96, 64, seed=2).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    mask = blur_mask(make_mask(96, 64), 4)
    out = np.asarray(composite(original, generated, mask))
    m = np.asarray(mask)
    assert (m == 0).any() and ((m > 0) & (m < 255)).any()
    assert np.array_equal(out[m == 0], np.asarray(original)[m == 0])
    assert np.array_equal(out[m == 255], np.asarray(generated)[m == 255])

    half = composite(Image.new("RGB", (2, 2)), Image.new("RGB", (2, 2), "white"),
                     Image.new("L", (2, 2), 128))  # fmt: skip
    assert half.getpixel((0, 0)) == (128, 128, 128)
    with pytest.raises(ValueError):
        composite(original, generated, Image.new("L", (10, 10)))


def test_match_colors_fixes_darkening_and_keeps_identity():
    ref = make_image(96, 64, seed=3)
    dark = Image.fromarray((np.asarray(ref) * 0.7).astype(np.uint8))
    fixed = match_colors(dark, ref)
    assert fixed.mode == "RGB"
    assert abs(np.asarray(fixed).mean() - np.asarray(ref).mean()) <= 2
    assert abs(np.asarray(dark).mean() - np.asarray(ref).mean()) > 20
    same = np.asarray(match_colors(ref, ref), np.int16)
    assert np.abs(same - np.asarray(ref, np.int16)).max() <= 2
    assert match_colors(dark, ref, amount=0).tobytes() == dark.tobytes()
    part = np.asarray(match_colors(dark, ref, amount=0.5)).mean()
    assert np.asarray(dark).mean() < part < np.asarray(fixed).mean()


def test_hashes(tmp_path):
    a = make_image(20, 10)
    assert pixel_hash(a) == pixel_hash(a.copy()) and len(pixel_hash(a)) == 16
    assert pixel_hash(a) != pixel_hash(a.convert("RGBA"))
    assert pixel_hash(Image.new("L", (2, 8))) != pixel_hash(Image.new("L", (8, 2)))
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 3000)
    assert file_sha256(path, chunk=1024) == hashlib.sha256(b"x" * 3000).hexdigest()


def test_resize_and_fit():
    img = make_image(200, 100)
    assert resize_to(img, (64, 48)).size == (64, 48)
    assert fit_within(img, 50).size == (50, 25)
    small = fit_within(img, 500)
    assert small.size == (200, 100) and small is not img
