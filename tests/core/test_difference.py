"""Difference figures on constructed pairs, the heat map, and the drift guard's rule."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.history import PassTree
from core.history_drift import DRIFT_TOLERANCE, pass_drift
from core.imaging.difference import (
    changed_outside,
    difference_stats,
    heat_map_array,
    heat_map_image,
)
from tests.tiny_models.images import make_image


def _pair_with_square():
    a = Image.new("RGB", (20, 10), (10, 20, 30))
    b = a.copy()
    b.paste((200, 20, 30), (0, 0, 4, 4))  # 16 pixels, red +190
    mask = Image.new("L", (20, 10), 0)
    mask.paste(255, (2, 0, 20, 10))  # columns 2.. are inside: 8 of the 16 changed
    return a, b, mask


def test_identical_pictures_change_nothing():
    image = make_image(32, 24)
    stats = difference_stats(image, image.copy())
    assert stats.changed_pixels == stats.changed_outside_mask == stats.changed_inside_mask == 0
    assert stats.mean_change == stats.max_change == stats.delta_e == 0
    assert heat_map_array(image, image.copy(), 32).max() == 0


def test_known_square_counts_inside_and_outside():
    a, b, mask = _pair_with_square()
    stats = difference_stats(a, b, mask)
    assert (stats.changed_pixels, stats.changed_inside_mask, stats.changed_outside_mask) == (
        16,
        8,
        8,
    )
    assert stats.mask_pixels == 180
    assert stats.changed_outside_mask_fraction == pytest.approx(8 / 20)
    assert stats.max_change == 190
    assert stats.mean_change == pytest.approx(16 * 190 / (200 * 3))
    no_mask = difference_stats(a, b)  # without a mask the whole picture is "outside"
    assert (no_mask.changed_inside_mask, no_mask.changed_outside_mask) == (0, 16)
    assert changed_outside(a, b, mask) == {
        "changed_outside_mask": 8,
        "changed_outside_mask_fraction": 0.4,
    }


def test_delta_e_of_known_colours():
    def delta_e(c1, c2):
        return difference_stats(Image.new("RGB", (3, 2), c1), Image.new("RGB", (3, 2), c2)).delta_e

    assert delta_e((0, 0, 0), (255, 255, 255)) == pytest.approx(100.0, abs=0.01)
    assert delta_e((255, 0, 0), (0, 0, 255)) == pytest.approx(176.31, abs=0.05)


def test_second_picture_is_resized_to_the_first():
    a = Image.new("RGB", (8, 8), (50, 50, 50))
    stats = difference_stats(a, Image.new("RGB", (4, 4), (50, 50, 50)))
    assert (stats.width, stats.height, stats.changed_pixels) == (8, 8, 0)


def test_heat_map_gain_outside_only_and_legend():
    a, b, mask = _pair_with_square()
    heat = heat_map_array(a, b, 1)
    assert heat.shape == (10, 20, 3) and heat[0, 0].any() and not heat[9, 19].any()
    outside = heat_map_array(a, b, 1, mask, outside_only=True)
    assert outside[0, 0].any() and not outside[0, 3].any()  # column 3 is inside the mask
    weak = Image.new("RGB", (4, 4), (100, 100, 100))
    weaker = Image.new("RGB", (4, 4), (104, 100, 100))
    assert (
        heat_map_array(weak, weaker, 32)[0, 0].sum() > heat_map_array(weak, weaker, 1)[0, 0].sum()
    )
    image = heat_map_image(a, b, 8)
    assert image.height > 10 and image.width >= 20  # the scale bar sits underneath


def _tree_with_inpaint():
    """root → p1 (inpaint, left half masked, changed only there)."""
    tree = PassTree()
    root = Image.new("RGB", (40, 20), (90, 90, 90))
    tree.set_root(root)
    mask = Image.new("L", (40, 20), 0)
    mask.paste(255, (0, 0, 20, 20))
    inpainted = root.copy()
    inpainted.paste((200, 50, 50), (0, 0, 20, 20))
    params = {"kind": "inpaint", "mask_blur": 0, **changed_outside(root, inpainted, mask)}
    p1 = tree.add("root", inpainted, params, name="Face", mask=mask)
    return tree, p1


def test_img2img_over_an_inpaint_drifts():
    tree, p1 = _tree_with_inpaint()
    changed = p1.image.copy()
    changed.paste((10, 200, 10), (30, 0, 40, 20))  # the kept right half: 200 of 400 pixels
    p2 = tree.add(p1.id, changed, {"kind": "img2img", **changed_outside(p1.image, changed, None)})
    drift = pass_drift(tree, p2.id)
    assert drift is not None
    assert (drift.protected_pixels, drift.changed_protected) == (400, 200)
    assert drift.inpaint_names == ("Face",) and "Face" in drift.message()


def test_inpaint_passes_and_passes_without_earlier_inpaint_do_not_drift():
    tree, p1 = _tree_with_inpaint()
    assert pass_drift(tree, "root") is None
    assert pass_drift(tree, p1.id) is None  # no inpaint before it
    plain = tree.add("root", Image.new("RGB", (40, 20), (0, 0, 0)), {"kind": "img2img"})
    assert pass_drift(tree, plain.id) is None
    # A second inpaint in the kept area changes only inside its own mask: no drift.
    hands = Image.new("L", (40, 20), 0)
    hands.paste(255, (30, 0, 40, 20))
    repainted = p1.image.copy()
    repainted.paste((0, 0, 255), (30, 0, 40, 20))
    p3 = tree.add(p1.id, repainted, {"kind": "inpaint", "mask_blur": 0}, mask=hands)
    assert pass_drift(tree, p3.id) is None


def test_only_changes_outside_the_earlier_masks_count():
    tree, p1 = _tree_with_inpaint()
    arr = np.asarray(p1.image).copy()
    arr[0, 39] += 1  # one of 400 protected pixels
    p2 = tree.add(p1.id, Image.fromarray(arr), {"kind": "img2img"})
    assert DRIFT_TOLERANCE < 1 / 400 and pass_drift(tree, p2.id) is not None
    arr = np.asarray(p1.image).copy()
    arr[0, 5] += 1  # inside the earlier mask: not protected
    p3 = tree.add(p1.id, Image.fromarray(arr), {"kind": "img2img"})
    assert pass_drift(tree, p3.id) is None


def test_a_pass_that_resizes_the_picture_is_not_judged():
    tree, p1 = _tree_with_inpaint()
    outpainted = Image.new("RGB", (60, 20), (0, 0, 0))
    outpainted.paste(p1.image, (20, 0))  # the kept pixels moved: they cannot be compared
    bigger = tree.add(p1.id, outpainted, {"kind": "outpaint"})
    assert pass_drift(tree, bigger.id) is None


def test_big_pictures_are_checked_at_about_a_megapixel_with_full_size_counts():
    from core.history import PassTree

    root = Image.new("RGB", (4000, 3000), (40, 80, 120))
    mask = Image.new("L", root.size, 0)
    mask.paste(255, (0, 0, 2000, 3000))  # the left half was inpainted; the right half is kept
    inpainted = root.copy()
    inpainted.paste((200, 30, 30), (0, 0, 2000, 3000))
    tree = PassTree()
    tree.set_root(root)
    face = tree.add("root", inpainted, {"kind": "inpaint", "mask_blur": 8}, name="Face", mask=mask)
    assert pass_drift(tree, face.id) is None
    changed = inpainted.copy()
    changed.paste((10, 200, 10), (3000, 0, 4000, 3000))  # a quarter of the picture
    p2 = tree.add(face.id, changed, {"kind": "img2img"})
    drift = pass_drift(tree, p2.id)
    assert drift is not None
    assert 5_850_000 < drift.protected_pixels < 6_000_000  # the blurred mask eats a thin band
    assert abs(drift.changed_protected - 3_000_000) < 15_000


def test_the_pass_records_figures_equal_the_full_statistics():
    from PIL import Image, ImageDraw

    from core.imaging.difference import changed_outside, difference_stats

    before = Image.effect_noise((96, 64), 40).convert("RGB")
    after = before.copy()
    ImageDraw.Draw(after).rectangle((10, 5, 60, 40), fill=(1, 2, 3))
    mask = Image.new("L", before.size, 0)
    ImageDraw.Draw(mask).rectangle((30, 0, 95, 63), fill=128)
    for used in (None, mask, mask.resize((48, 32))):
        stats = difference_stats(before, after, used)
        fields = changed_outside(before, after, used)
        assert fields["changed_outside_mask"] == stats.changed_outside_mask > 0
        fraction = round(stats.changed_outside_mask_fraction, 6)
        assert fields["changed_outside_mask_fraction"] == fraction
