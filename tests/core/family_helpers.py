"""Shared by the per-family tests: one pass of each kind on a tiny model, and the invariants
every family must keep (sizes, seeds, protected pixels, step counts, record, previews)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.cli.main import main
from core.events import PassStarted, StepPreview
from core.imaging.masks import blur_mask
from core.metadata import read_metadata
from core.requests import PassRequest
from tests.tiny_models.images import make_image

SIZE = 64  # the picture's side: 8×8 latents (4×4 FLUX tokens)
STEPS = 3


def left_half_mask() -> Image.Image:
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(255, (0, 0, SIZE // 2, SIZE))
    return mask


def two_level_map() -> Image.Image:
    """Strength 0.8 on the left half, 0 on the right."""
    strength = Image.new("L", (SIZE, SIZE), 0)
    strength.paste(204, (0, 0, SIZE // 2, SIZE))
    return strength


def run(engine, spec, **kw):
    """(result, events) of a pass on the SIZE×SIZE test picture at its own size."""
    events: list = []
    kw.setdefault("prompt", "a red cat")
    kw.setdefault("seed", 7)
    kw.setdefault("steps", STEPS)
    kw.setdefault("strength", 0.7)
    request = PassRequest(image=make_image(SIZE, SIZE), work_size="input", **kw)
    return engine.run_pass(request, spec, on_event=events.append), events


def previews(events) -> list[np.ndarray]:
    return [e.image for e in events if isinstance(e, StepPreview) and e.image is not None]


def changed(result) -> np.ndarray:
    """Per pixel: whether the result differs from the input picture."""
    before = np.asarray(make_image(SIZE, SIZE))
    return (np.asarray(result.image) != before).any(axis=2)


def check_img2img(engine, spec, family: str, steps_run: int = 2) -> dict:
    """Size, determinism, recorded family and steps, one preview per step at latent size."""
    result, events = run(engine, spec)
    again, _ = run(engine, spec)
    assert result.image.size == (SIZE, SIZE)
    assert result.image.tobytes() == again.image.tobytes()  # same seed, same picture
    assert changed(result).any()
    assert result.record["model"]["family"] == family
    assert result.record["effective_steps"] == steps_run == result.effective_steps
    started = [e for e in events if isinstance(e, PassStarted)]
    assert started and started[0].effective_steps == steps_run
    shown = previews(events)
    assert len(shown) == steps_run
    assert all(p.shape == (SIZE // 8, SIZE // 8, 3) and p.dtype == np.uint8 for p in shown)
    other, _ = run(engine, spec, seed=8)
    assert other.image.tobytes() != result.image.tobytes()
    return result.record


def check_inpaint(engine, spec, family: str) -> dict:
    """Pixels outside the blurred mask keep the input's bytes; inside, the model repaints."""
    mask = left_half_mask()
    result, _ = run(engine, spec, mask=mask, mask_blur=4)
    outside = np.asarray(blur_mask(mask, 4)) == 0
    diff = changed(result)
    assert not diff[outside].any()
    assert diff[~outside].mean() > 0.5
    assert result.record["model"]["family"] == family and result.record["kind"] == "inpaint"
    return result.record


def check_strength_map(engine, spec, family: str) -> dict:
    """Strength 0 keeps the input's bytes; the 0.8 half runs int(3 × 0.8) = 2 steps."""
    result, events = run(engine, spec, strength_map=two_level_map())
    diff = changed(result)
    assert not diff[:, SIZE // 2 :].any()
    assert diff[:, : SIZE // 2].mean() > 0.5
    assert result.record["kind"] == "differential" and result.record["effective_steps"] == 2
    assert len(previews(events)) == 2
    assert result.record["model"]["family"] == family
    return result.record


def check_cli(folder, tmp_path, family: str) -> None:
    """``generate`` runs img2img, --mask and --strength-map and records the family."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    picture, mask, strength = tmp_path / "in.png", tmp_path / "mask.png", tmp_path / "map.png"
    make_image(SIZE, SIZE).save(picture)
    left_half_mask().save(mask)
    two_level_map().save(strength)
    base = ["--model", str(folder), "--device", "cpu", "--steps", str(STEPS), "--seed", "3"]
    base += ["--work-size", "input"]  # --device cpu: the spec of the tests, no reload
    for name, extra in (
        ("img", []),
        ("mask", ["--mask", str(mask)]),
        ("map", ["--strength-map", str(strength)]),
    ):
        out = tmp_path / f"out-{name}.png"
        assert (
            main(["generate", str(picture), "-o", str(out), "--strength", "0.7", *base, *extra])
            == 0
        )
        record = read_metadata(out)["record"]
        assert record["model"]["family"] == family
        assert Image.open(out).size == (SIZE, SIZE)
