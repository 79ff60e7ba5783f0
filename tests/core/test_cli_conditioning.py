"""``--lora``, ``--controlnet``/``--control`` and ``--ip-adapter``/``--reference`` on the CLI."""

from __future__ import annotations

import pytest

from core.cli.conditioning_args import conditioning_from_args, parse_lora
from core.cli.main import main
from core.cli.parser import build_parser
from core.conditioning.specs import LoraSpec
from core.metadata import read_metadata
from tests.core.conditioning_helpers import drawing, make_controlnet, make_ip_adapter
from tests.tiny_models.images import make_image


@pytest.fixture(scope="module")
def controlnet(tiny_model_dir, tmp_path_factory):
    return make_controlnet(tmp_path_factory, tiny_model_dir)


@pytest.fixture
def files(tmp_path):
    picture, sketch, reference = tmp_path / "in.png", tmp_path / "sketch.png", tmp_path / "ref.png"
    make_image(64, 64).save(picture)
    drawing().save(sketch)
    make_image(40, 40, seed=2).save(reference)
    return picture, sketch, reference


def parse(*options: str, command: str = "generate"):
    base = {
        "generate": ["generate", "in.png", "-o", "out.png"],
        "upscale": ["upscale", "in.png", "-o", "out.png"],
        "batch": ["batch", "in", "out"],
    }[command]
    return build_parser().parse_args([*base, "--model", "m", *options])


def test_groups_collect_the_options_after_them(files):
    _, sketch, reference = files
    args = parse(
        "--lora", "styles/ink.safetensors:0.7",
        "--controlnet", "cn-canny", "--control", "canny", "--canny-low", "50",
        "--canny-high", "150", "--control-range", "0.0,0.8",
        "--lora", "detail",
        "--controlnet", "cn-scribble", "--control", "scribble", "--control-invert",
        "--control-scale", "0.6", "--control-off",
        "--controlnet", "cn-depth", "--control", str(sketch),
        "--ip-adapter", "ipa.safetensors", "--reference", str(reference), "--ip-scale", "0.8",
        "--ip-adapter", "ipa-xl", "--reference", str(reference), "--ip-mode", "style",
    )  # fmt: skip
    values = conditioning_from_args(args)
    assert values["loras"] == (LoraSpec("styles/ink.safetensors", 0.7), LoraSpec("detail", 1.0))
    canny, scribble, depth = values["controls"]
    assert (canny.model, canny.kind, canny.low_threshold, canny.high_threshold) == (
        "cn-canny", "canny", 50, 150
    )  # fmt: skip
    assert (canny.start, canny.end, canny.strength, canny.enabled) == (0.0, 0.8, 1.0, True)
    assert (scribble.kind, scribble.invert, scribble.strength, scribble.enabled) == (
        "scribble", True, 0.6, False
    )  # fmt: skip
    assert depth.kind == "image" and depth.image.size == (64, 64) and not depth.invert
    first, second = values["references"]
    assert (first.model, first.scale, first.mode) == ("ipa.safetensors", 0.8, "standard")
    assert (second.model, second.scale, second.mode) == ("ipa-xl", 0.6, "style")
    assert args.strength == 0.5  # the group options never touch the pass's own options


def test_a_reference_before_any_ip_adapter_is_an_edit_reference(files):
    _, sketch, reference = files
    args = parse(
        "--reference", str(sketch), "--reference", str(reference),
        "--ip-adapter", "ipa", "--reference", str(reference),
    )  # fmt: skip
    values = conditioning_from_args(args)
    assert [ref.size for ref in values["edit_references"]] == [(64, 64), (40, 40)]
    assert [ref.model for ref in values["references"]] == ["ipa"]
    assert conditioning_from_args(parse())["edit_references"] == ()


@pytest.mark.usefixtures("one_cli_engine")
def test_an_edit_reference_on_a_model_without_references_is_one_line(
    files, tmp_path, tiny_model_dir, capsys
):
    picture, _, reference = files
    out = tmp_path / "out.png"
    code = main(
        [
            "generate", str(picture), "-o", str(out), "--model", str(tiny_model_dir),
            "--device", "cpu", "--steps", "2", "--reference", str(reference),
        ]
    )  # fmt: skip
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the loading messages
    assert code != 0 and last.startswith("error: ") and "takes no reference pictures" in last
    assert "--ip-adapter MODEL before --reference" in last
    assert not out.exists()


@pytest.mark.parametrize("command", ["upscale", "batch"])
def test_the_workflow_commands_take_the_groups_too(command):
    args = parse("--controlnet", "cn", "--control", "lineart", "--lora", "a:0.5", command=command)
    assert args.controls == [{"model": "cn", "option": "--controlnet", "kind": "lineart"}]
    assert args.lora == ["a:0.5"]


def test_lora_values():
    assert parse_lora("a.safetensors") == LoraSpec("a.safetensors", 1.0)
    assert parse_lora("a.safetensors:-0.5") == LoraSpec("a.safetensors", -0.5)
    assert parse_lora("C:\\loras\\ink.safetensors") == LoraSpec("C:\\loras\\ink.safetensors")
    assert parse_lora("C:\\loras\\ink.safetensors:0.3") == LoraSpec(
        "C:\\loras\\ink.safetensors", 0.3
    )


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["--control", "canny"], "--control belongs to a --controlnet group"),
        (["--ip-scale", "0.5"], "--ip-scale belongs to a --ip-adapter group"),
        (["--controlnet", "cn"], "--controlnet cn needs --control"),
        (["--controlnet", "cn", "--control", "canny", "--control", "scribble"], "given twice"),
        (["--controlnet", "cn", "--control", "nothing.png"], "neither a control type"),
        (["--controlnet", "cn", "--control", "canny", "--control-range", "0.8"], "START,END"),
        (["--controlnet", "cn", "--control", "canny", "--control-range", "0.8,0.2"], "range"),
        (["--controlnet", "cn", "--control", "canny", "--control-scale", "5"], "strength"),
        (["--ip-adapter", "ipa"], "--ip-adapter ipa needs --reference"),
        (["--ip-adapter", "ipa", "--reference", "r.png", "--ip-mode", "odd"], "invalid choice"),
        (["--lora", "ink:strong"], "must be a number"),
        (
            ["--ip-adapter", "ipa", "--reference", "r.png", "--reference", "r.png"],
            "edit references go before --ip-adapter",
        ),
    ],
)
def test_bad_groupings_are_one_line_usage_errors(options, needle, files, tmp_path, capsys):
    picture = files[0]
    code = main(["generate", str(picture), "-o", str(tmp_path / "o.png"), "--model", "m", *options])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err
    assert needle in err, err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.usefixtures("one_cli_engine")
def test_generate_with_a_controlnet_and_a_reference_records_both(
    files, tmp_path, tiny_model_dir, tmp_path_factory, controlnet
):
    picture, sketch, reference = files
    adapter = make_ip_adapter(tmp_path_factory, tiny_model_dir)
    out = tmp_path / "out.png"
    code = main(
        [
            "generate", str(picture), "-o", str(out), "--model", str(tiny_model_dir),
            "--device", "cpu", "--steps", "3", "--strength", "0.7", "--seed", "3",
            "--controlnet", str(controlnet), "--control", "canny", "--control-range", "0,0.5",
            "--controlnet", str(controlnet), "--control", str(sketch), "--control-scale", "0.5",
            "--ip-adapter", str(adapter), "--reference", str(reference), "--ip-scale", "0.7",
        ]
    )  # fmt: skip
    assert code == 0
    record = read_metadata(out)["record"]
    canny, image = record["controls"]
    assert (canny["model"], canny["kind"], canny["end"]) == (str(controlnet), "canny", 0.5)
    assert (image["kind"], image["strength"]) == ("image", 0.5)
    (used,) = record["references"]
    assert (used["model"], used["scale"], used["mode"]) == (str(adapter), 0.7, "standard")


@pytest.mark.usefixtures("one_cli_engine")
def test_variations_keep_the_control_layers(files, tmp_path, tiny_model_dir, controlnet):
    picture = files[0]
    code = main(
        [
            "generate", str(picture), "-o", str(tmp_path / "v.png"), "--model",
            str(tiny_model_dir), "--device", "cpu", "--steps", "2", "--strength", "0.5",
            "--seed", "1", "--variations", "2",
            "--controlnet", str(controlnet), "--control", "canny", "--control-scale", "0.4",
        ]
    )  # fmt: skip
    assert code == 0
    for k in (1, 2):
        (layer,) = read_metadata(tmp_path / f"v-v{k}.png")["record"]["controls"]
        assert (layer["kind"], layer["strength"]) == ("canny", 0.4)
