"""ControlNet on Qwen-Image, Z-Image and SD 3.5 (tiny models, tiny random ControlNets): diffusers'
text-to-image ``QwenImageControlNetPipeline`` / ``ZImageControlNetPipeline`` /
``StableDiffusion3ControlNetPipeline`` started at the
strength (``core.engine.strength_start``) is the img2img pass itself, byte for byte, when the
control adds nothing; a control changes it; masked passes keep every pixel outside the mask;
what a family's ControlNet pipeline cannot run is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.conditioning.specs import ControlLayer
from core.engine import Engine
from core.engine.family_call import flow_strength
from core.engine.strength_start import started_arguments, started_scheduler
from core.errors import ModelError
from core.hashing import pixel_hash
from core.imaging.masks import blur_mask
from core.models import ModelSpec
from core.requests import PassRequest
from tests.tiny_models.images import make_image
from tests.tiny_models.tiny_controlnet import (
    build_tiny_qwen_controlnet,
    build_tiny_sd3_controlnet,
    build_tiny_zimage_controlnet,
)
from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image
from tests.tiny_models.tiny_sd3 import build_tiny_sd3
from tests.tiny_models.tiny_zimage import build_tiny_zimage

SIZE = 64


def build_tiny_sd3_two_blocks(out):
    """The tiny SD 3.5 model with two blocks: SD3's last block takes no ControlNet residual."""
    return build_tiny_sd3(out, num_layers=2)


PROMPT = "a red cat"
# family → (model builder, ControlNet builder, img2img pipeline, ControlNet pipeline, CFG)
FAMILIES = {
    "qwen-image": (
        build_tiny_qwen_image, build_tiny_qwen_controlnet, "QwenImageImg2ImgPipeline",
        "QwenImageControlNetPipeline", {"negative_prompt": " ", "true_cfg_scale": 4.0},
    ),
    "zimage": (
        build_tiny_zimage, build_tiny_zimage_controlnet, "ZImageImg2ImgPipeline",
        "ZImageControlNetPipeline", {"negative_prompt": "blurry", "guidance_scale": 4.0},
    ),
    "sd3": (
        build_tiny_sd3_two_blocks, build_tiny_sd3_controlnet, "StableDiffusion3Img2ImgPipeline",
        "StableDiffusion3ControlNetPipeline", {"negative_prompt": "blurry", "guidance_scale": 4.0},
    ),
}  # fmt: skip
ALL = list(FAMILIES)
CONTROLNET_CLASSES = {"qwen-image": "QwenImageControlNetModel", "zimage": "ZImageControlNetModel",
                      "sd3": "SD3ControlNetModel"}  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``{family: (model folder, {"random": …, "other": …, "zero": …})}``."""
    folder = tmp_path_factory.mktemp("started-controlnets")
    out = {}
    for family, (build_model, build_controlnet, *_) in FAMILIES.items():
        model = build_model(folder / family)
        nets = {
            "random": build_controlnet(folder / f"{family}-random", model),
            "other": build_controlnet(folder / f"{family}-other", model, seed=3),
            "zero": build_controlnet(folder / f"{family}-zero", model, zero=True),
        }
        out[family] = (model, nets)
    return out


@pytest.fixture(scope="module")
def engine():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Engine(previews=False)
    torch.set_num_threads(threads)


def run(engine, built, family, **kw):
    kw.setdefault("prompt", PROMPT)
    kw.setdefault("seed", 7)
    kw.setdefault("steps", 6)
    kw.setdefault("strength", 0.6)
    request = PassRequest(image=make_image(SIZE, SIZE), work_size="input", **kw)
    return engine.run_pass(request, ModelSpec(str(built[family][0]), device="cpu"))


def canny(built, family, net="random", **values) -> ControlLayer:
    return ControlLayer(str(built[family][1][net]), kind="canny", **values)


@pytest.fixture(scope="module")
def plain(engine, built):
    """Each family's img2img pass without control."""
    return {family: run(engine, built, family) for family in FAMILIES}


@pytest.mark.parametrize("family", ALL)
def test_scale_zero_is_the_img2img_pass_byte_for_byte_and_a_control_changes_it(
    engine, built, plain, family
):
    off = run(engine, built, family, controls=(canny(built, family, strength=0.0),))
    on = run(engine, built, family, controls=(canny(built, family, strength=1.0),))
    img2img_name, controlnet_name = FAMILIES[family][2:4]
    assert off.image.tobytes() == plain[family].image.tobytes()
    assert on.image.tobytes() != plain[family].image.tobytes()
    assert plain[family].record["pipeline"] == img2img_name
    assert off.record["pipeline"] == on.record["pipeline"] == controlnet_name
    assert on.effective_steps == on.record["effective_steps"] == int(6 * 0.6) == 3
    (record,) = on.record["controls"]
    assert record["model"] == str(built[family][1]["random"]) and record["kind"] == "canny"
    assert record["strength"] == 1.0
    (shown,) = on.control_images
    assert shown.size == (SIZE, SIZE) and record["image_hash"] == pixel_hash(shown)


@pytest.mark.parametrize("family", ALL)
def test_a_zero_initialised_controlnet_adds_exactly_nothing(engine, built, plain, family):
    """diffusers starts these ControlNets' output projections at zero."""
    result = run(engine, built, family, controls=(canny(built, family, "zero", strength=1.0),))
    assert result.image.tobytes() == plain[family].image.tobytes()


@pytest.mark.parametrize("family", ALL)
@pytest.mark.parametrize(("steps", "strength"), [(6, 0.6), (7, 0.3), (4, 1.0), (10, 0.95)])
def test_the_started_controlnet_pipeline_is_a_bare_img2img_call(built, family, steps, strength):
    """Against diffusers alone: the img2img pipeline at the strength the engine gives it and
    the ControlNet pipeline with ``started_arguments`` (a zero-output ControlNet) make the same
    schedule and the same bytes, running int(steps × strength) steps."""
    import diffusers
    import torch

    model, nets = built[family]
    img2img_name, controlnet_name, cfg = FAMILIES[family][2:]
    img2img = getattr(diffusers, img2img_name).from_pretrained(model)
    controlnet = getattr(diffusers, CONTROLNET_CLASSES[family]).from_pretrained(nets["zero"])
    started = getattr(diffusers, controlnet_name)(**img2img.components, controlnet=controlnet)
    for pipe in (img2img, started):
        pipe.set_progress_bar_config(disable=True)
    picture = make_image(SIZE, SIZE)
    to_run = int(steps * strength)
    common = {"prompt": PROMPT, "num_inference_steps": steps, "output_type": "np", **cfg}
    expected = img2img(
        image=picture,
        strength=flow_strength(steps, to_run),
        generator=torch.Generator().manual_seed(3),
        height=SIZE,
        width=SIZE,
        **common,
    ).images[0]
    img2img_sigmas = img2img.scheduler.sigmas.clone()[-(to_run + 1) :]
    arguments = started_arguments(
        img2img,
        img2img.scheduler,
        {"image": picture, "strength": strength, "generator": torch.Generator().manual_seed(3)},
        steps,
        to_run,
    )
    started.scheduler = started_scheduler(img2img, img2img.scheduler)
    got = started(control_image=picture, **arguments, **common).images[0]
    assert len(arguments["sigmas"]) == to_run
    assert torch.equal(started.scheduler.sigmas, img2img_sigmas)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("family", ALL)
def test_masked_passes_keep_every_pixel_outside_the_mask(engine, built, family):
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(255, (0, 0, SIZE // 2, SIZE))
    outside = np.asarray(blur_mask(mask, 4)) == 0
    before = np.asarray(make_image(SIZE, SIZE))
    layer = canny(built, family, strength=1.0)
    plain = run(engine, built, family, mask=mask, mask_blur=4)
    for area in ("whole", "masked"):
        result = run(
            engine, built, family, mask=mask, mask_blur=4, inpaint_area=area, controls=(layer,)
        )
        pixels = np.asarray(result.image)
        assert np.array_equal(pixels[outside], before[outside])
        assert (pixels[~outside] != before[~outside]).any()
        assert result.record["pipeline"] == FAMILIES[family][3]
        assert result.record["kind"] == "inpaint" and result.record["controls"]
        if area == "whole":
            assert result.image.tobytes() != plain.image.tobytes()


@pytest.mark.parametrize("family", ALL)
def test_a_strength_map_with_control_keeps_strength_zero_pixels(engine, built, family):
    strength_map = Image.new("L", (SIZE, SIZE), 0)
    strength_map.paste(204, (0, 0, SIZE // 2, SIZE))
    layer = canny(built, family, strength=1.0)
    result = run(engine, built, family, strength_map=strength_map, controls=(layer,))
    before = np.asarray(make_image(SIZE, SIZE))
    pixels = np.asarray(result.image)
    assert np.array_equal(pixels[:, SIZE // 2 :], before[:, SIZE // 2 :])
    assert (pixels[:, : SIZE // 2] != before[:, : SIZE // 2]).any()
    assert result.record["kind"] == "differential" and result.record["effective_steps"] == 4


def test_qwen_image_layers_share_one_controlnet_and_two_controlnets_are_refused(
    engine, built, plain
):
    both = (
        canny(built, "qwen-image", strength=0.7, end=0.5),
        ControlLayer(str(built["qwen-image"][1]["random"]), kind="scribble", strength=0.5),
    )
    result = run(engine, built, "qwen-image", controls=both)
    assert len(result.record["controls"]) == 2 and len(result.control_images) == 2
    assert result.image.tobytes() != plain["qwen-image"].image.tobytes()
    missing = str(built["qwen-image"][0].parent / "no-such-controlnet")  # refused before loading
    for second in (canny(built, "qwen-image", "other"), ControlLayer(missing, kind="canny")):
        mixed = (canny(built, "qwen-image"), second)
        with pytest.raises(ModelError, match="^Qwen-Image takes one ControlNet per pass: "):
            run(engine, built, "qwen-image", controls=mixed)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ((dict(), dict()), "Z-Image takes one control layer per pass (2 given)"),
        ((dict(end=0.5),), "Z-Image's ControlNet acts over the whole denoise: set the control "
         "layer's start to 0 and end to 1"),
    ],
)  # fmt: skip
def test_what_z_image_controlnet_pipeline_cannot_run_is_refused_before_it_loads(
    engine, built, layers, message
):
    missing = str(built["zimage"][0].parent / "no-such-controlnet")
    controls = tuple(ControlLayer(missing, kind="canny", **values) for values in layers)
    with pytest.raises(ModelError) as caught:
        run(engine, built, "zimage", controls=controls)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("family", "other", "message"),
    [("qwen-image", "zimage", "is a ZImageControlNetModel, not a ControlNet for Qwen-Image "
      "models (QwenImageControlNetModel)"),
     ("zimage", "qwen-image", "is a QwenImageControlNetModel, not a ControlNet for Z-Image "
      "models (ZImageControlNetModel)"),
     ("sd3", "qwen-image", "is a QwenImageControlNetModel, not a ControlNet for SD 3.5 "
      "models (SD3ControlNetModel)"),
     ("qwen-image", "sd3", "is a SD3ControlNetModel, not a ControlNet for Qwen-Image "
      "models (QwenImageControlNetModel)")],
)  # fmt: skip
def test_a_controlnet_for_another_family_is_refused_in_one_line(
    engine, built, family, other, message
):
    foreign = built[other][1]["random"]
    with pytest.raises(ModelError) as caught:
        run(engine, built, family, controls=(ControlLayer(str(foreign), kind="canny"),))
    assert str(caught.value) == f"{foreign} {message}"


def test_an_inpainting_qwen_image_controlnet_is_refused_in_one_line(
    engine, built, tmp_path_factory
):
    folder = tmp_path_factory.mktemp("inpainting-controlnet") / "inpaint"
    net = build_tiny_qwen_controlnet(folder, built["qwen-image"][0], extra_condition_channels=4)
    with pytest.raises(ModelError, match="is an inpainting ControlNet") as caught:
        run(engine, built, "qwen-image", controls=(ControlLayer(str(net), kind="canny"),))
    assert "\n" not in str(caught.value)


def test_an_inpainting_sd3_controlnet_is_refused_in_one_line(engine, built, tmp_path):
    """Its mask channel is what ``StableDiffusion3ControlNetInpaintingPipeline`` gives it."""
    from diffusers import SD3ControlNetModel

    net = SD3ControlNetModel.from_pretrained(built["sd3"][1]["random"])
    inpainting = SD3ControlNetModel.from_config({**net.config, "extra_conditioning_channels": 1})
    inpainting.save_pretrained(tmp_path / "inpainting", safe_serialization=True)
    layer = ControlLayer(str(tmp_path / "inpainting"), kind="canny")
    with pytest.raises(ModelError, match="is an inpainting ControlNet") as caught:
        run(engine, built, "sd3", controls=(layer,))
    assert "\n" not in str(caught.value)


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI test reuses this module's engine (``one_cli_engine``)."""
    return engine


@pytest.mark.usefixtures("one_cli_engine")
def test_the_cli_runs_a_masked_qwen_image_controlnet_pass_and_refuses_what_z_image_cannot(
    built, tmp_path, capsys
):
    from core.cli.main import main
    from core.metadata import read_metadata

    picture, mask = tmp_path / "in.png", tmp_path / "mask.png"
    make_image(SIZE, SIZE).save(picture)
    square = Image.new("L", (SIZE, SIZE), 0)
    square.paste(255, (16, 16, 48, 48))
    square.save(mask)
    base = ["--device", "cpu", "--steps", "4", "--strength", "0.5", "--seed", "3"]
    base += ["--work-size", "input"]
    out = tmp_path / "out.png"
    qwen_model, qwen_nets = built["qwen-image"]
    args = ["generate", str(picture), "-o", str(out), "--model", str(qwen_model), *base]
    args += ["--mask", str(mask), "--controlnet", str(qwen_nets["random"]), "--control", "canny"]
    assert main(args) == 0
    record = read_metadata(out)["record"]
    assert record["pipeline"] == "QwenImageControlNetPipeline" and record["kind"] == "inpaint"
    assert record["effective_steps"] == 2 and record["controls"][0]["kind"] == "canny"
    refused = tmp_path / "refused.png"
    zimage_model, zimage_nets = built["zimage"]
    args = ["generate", str(picture), "-o", str(refused), "--model", str(zimage_model), *base]
    args += ["--controlnet", str(zimage_nets["random"]), "--control", "canny"]
    assert main([*args, "--control-range", "0,0.5"]) != 0
    assert not refused.exists()
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Z-Image's ControlNet acts over the whole denoise" in error


@pytest.mark.parametrize("family", ["qwen-image", "zimage"])
def test_the_library_tells_their_controlnets_by_family(built, family):
    """What the scanned folders (and so the Control panel's list) see of a ControlNet's weights:
    before, a Qwen-Image one read as FLUX and a Z-Image one as an unknown file."""
    from core.library.detect import detect_file

    weights = built[family][1]["random"] / "diffusion_pytorch_model.safetensors"
    info = detect_file(weights)
    assert (info.kind, info.family) == ("controlnet", family)
