"""The engine records what a pass changed outside its mask; the drift guard on real passes."""

from __future__ import annotations

from core.history import PassTree
from core.history_drift import pass_drift
from core.requests import PassRequest
from tests.tiny_models.images import make_image, make_mask


def _run(engine, spec, image, **kw):
    kw.setdefault("seed", 3)
    request = PassRequest(image=image, prompt="a red house", steps=6, **kw)
    return engine.run_pass(request, spec)


def test_inpaint_records_zero_outside_and_img2img_over_it_drifts(engine, spec):
    image, mask = make_image(96, 64), make_mask(96, 64, box=(30, 20, 60, 44))
    inpaint = _run(engine, spec, image, mask=mask, strength=0.8, mask_blur=4)
    assert inpaint.record["changed_outside_mask"] == 0
    assert inpaint.record["changed_outside_mask_fraction"] == 0

    tree = PassTree()
    tree.set_root(image)
    first = tree.add("root", inpaint.image, inpaint.record, name="Inpaint", mask=mask)
    assert pass_drift(tree, first.id) is None

    plain = _run(engine, spec, inpaint.image, strength=0.6)  # img2img: "outside" = everything
    assert plain.record["changed_outside_mask"] > 0.5 * 96 * 64
    assert 0.5 < plain.record["changed_outside_mask_fraction"] <= 1
    second = tree.add(first.id, plain.image, plain.record)
    drift = pass_drift(tree, second.id)
    assert drift is not None and drift.inpaint_names == ("Inpaint",)

    again = _run(engine, spec, inpaint.image, mask=mask, strength=0.8, mask_blur=4, seed=9)
    third = tree.add(first.id, again.image, again.record, mask=mask)
    assert pass_drift(tree, third.id) is None
