"""Inpaint step previews show what will change: outside the mask they are the picture itself."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.requests import PassRequest
from gui.qt_images import qimage_to_pil
from gui.run.preview_blend import PreviewBlend
from gui.run.preview_mailbox import PreviewMailbox
from tests.tiny_models.images import make_image

ENGINE_TIMEOUT = 120_000


def _mask(size, box) -> Image.Image:
    mask = np.zeros((size[1], size[0]), np.uint8)
    left, top, right, bottom = box
    mask[top:bottom, left:right] = 255
    return Image.fromarray(mask)


def _noise(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_whole_picture_previews_keep_the_unmasked_pixels():
    picture, mask = make_image(96, 64), _mask((96, 64), (10, 10, 50, 40))
    request = PassRequest(image=picture, mask=mask, mask_blur=0)
    blend = PreviewBlend.for_request(request)
    shown = blend.apply(_noise(48, 32), (96, 64))  # a preview at a smaller work size
    outside = np.asarray(mask) == 0
    assert np.array_equal(shown[outside], np.asarray(picture)[outside])
    assert not np.array_equal(shown[~outside], np.asarray(picture)[~outside])


def test_only_masked_previews_land_on_the_mask_box_over_the_picture():
    picture, mask = make_image(96, 64), _mask((96, 64), (60, 20, 80, 40))
    request = PassRequest(image=picture, mask=mask, mask_blur=0, inpaint_area="masked", padding=4)
    blend = PreviewBlend.for_request(request)
    shown = blend.apply(_noise(64, 64), (96, 64))  # the crop's preview, not the picture's shape
    outside = np.asarray(mask) == 0
    assert np.array_equal(shown[outside], np.asarray(picture)[outside])
    inside = ~outside
    assert not np.array_equal(shown[inside], np.asarray(picture)[inside])


def test_no_mask_or_a_strength_map_shows_previews_as_they_come():
    picture = make_image(32, 32)
    assert PreviewBlend.for_request(PassRequest(image=picture)) is None
    painted = Image.new("L", (32, 32), 128)
    request = PassRequest(image=picture, mask=painted, strength_map=painted)
    assert PreviewBlend.for_request(request) is None


def test_the_mailbox_blends_at_the_display_size(qtbot):
    picture, mask = make_image(96, 64), _mask((96, 64), (0, 0, 40, 64))
    mailbox = PreviewMailbox()
    mailbox.display_size = (48, 32)
    mailbox.blend = PreviewBlend.for_request(PassRequest(image=picture, mask=mask, mask_blur=0))
    with qtbot.waitSignal(mailbox.ready) as ready:
        mailbox.offer(1, 1, 0.0, _noise(96, 64))
    shown = np.asarray(qimage_to_pil(ready.args[3]).convert("RGB"))
    assert shown.shape == (32, 48, 3)
    expected = np.asarray(picture.resize((48, 32), Image.Resampling.BILINEAR))
    assert np.array_equal(shown[:, 24:], expected[:, 24:])  # right of the mask: the picture


def test_whole_picture_inpaint_previews_in_the_window_keep_the_picture(main_window, qtbot):
    """The real window and tiny model: every step preview that reaches the canvas is the picture
    outside the mask (it turned the whole canvas to noise)."""
    window = main_window
    picture = window.tree.root.image
    mask = _mask((96, 64), (20, 8, 70, 50))
    window.canvas.set_mask_image(mask)
    window.state.update(mask_blur=0, steps=6, strength=0.8, inpaint_area="whole")
    window.runner.preview_size = lambda: picture.size  # drawn 1:1: compare pixel for pixel
    shown: list[np.ndarray] = []
    window.runner.preview.connect(
        lambda image: image is not None and shown.append(np.asarray(qimage_to_pil(image)))
    )
    assert window.generate()
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    assert shown, "no step preview reached the canvas"
    outside = np.asarray(mask) == 0
    for preview in shown:
        rgb = preview[..., :3]
        assert np.array_equal(rgb[outside], np.asarray(picture.convert("RGB"))[outside])
