from __future__ import annotations

import json

import pytest
from PIL import Image, PngImagePlugin

from core.errors import ImageError, UserError
from core.metadata import (
    RECORD_CHUNK,
    build_infotext,
    decode_user_comment,
    format_summary,
    parse_infotext,
    read_metadata,
    write_png,
)
from tests.tiny_models.images import make_image

A1111_SAMPLE = (
    "masterpiece, a castle on a hill, (oil painting:1.2), <lora:detail:0.8>\n"
    "Negative prompt: blurry, lowres,\n"
    "bad hands\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 1234567890, Size: 512x768, "
    "Model hash: 45dee52b, Model: v1-5-pruned-emaonly, Denoising strength: 0.45, Mask blur: 4, "
    'Lora hashes: "detail: 1a2b3c4d5e6f", Version: v1.7.0'
)


def _record(**changes) -> dict:
    record = {
        "app": "Img2Img Studio",
        "app_version": "0.1.0",
        "kind": "inpaint",
        "prompt": "a castle, (oil painting:1.2)\nsecond line",
        "negative_prompt": "blurry, lowres",
        "strength": 0.45,
        "steps": 30,
        "effective_steps": 13,
        "cfg": 7.0,
        "seed": 1234,
        "scheduler": "DPM++ 2M",
        "width": 512,
        "height": 768,
        "model": {"name": "v1-5", "reference": "org/v1-5", "hash": "abcdef1234"},
        "input_hash": "0123456789abcdef",
        "mask_blur": 4,
        "inpaint_area": "masked",
        "padding": 32,
        "parent": None,
        "workflow": {"type": "multipass", "schedule": [0.7, 0.4], "index": 1},
        "custom_key": {"nested": [1, 2]},
    }
    record.update(changes)
    return record


def test_build_infotext_format():
    text = build_infotext(_record())
    lines = text.split("\n")
    assert lines[0] == "a castle, (oil painting:1.2)"
    assert lines[2] == "Negative prompt: blurry, lowres"
    assert lines[-1] == (
        "Steps: 30, Sampler: DPM++ 2M, CFG scale: 7, Seed: 1234, Size: 512x768, "
        "Model hash: abcdef1234, Model: v1-5, Denoising strength: 0.45, Mask blur: 4, "
        "Inpaint area: Only masked, Masked area padding: 32, Version: img2img-studio 0.1.0"
    )
    plain = build_infotext(_record(kind="img2img", negative_prompt="", inpaint_area=None))
    assert "Negative prompt" not in plain and "Mask blur" not in plain
    assert 'Model: "C:\\\\m\\\\x, y"' in build_infotext(_record(model={"name": "C:\\m\\x, y"}))


def test_infotext_round_trip():
    record = _record()
    parsed = parse_infotext(build_infotext(record))
    assert parsed["prompt"] == record["prompt"]
    assert parsed["negative_prompt"] == record["negative_prompt"]
    assert parsed["steps"] == 30 and parsed["sampler"] == "DPM++ 2M"
    assert parsed["cfg"] == 7.0 and parsed["seed"] == 1234
    assert (parsed["width"], parsed["height"]) == (512, 768)
    assert parsed["strength"] == 0.45 and parsed["mask_blur"] == 4
    assert parsed["model"] == "v1-5" and parsed["model_hash"] == "abcdef1234"
    assert parsed["params"]["Inpaint area"] == "Only masked"
    odd = _record(model={"name": 'a "quoted", odd: name', "hash": ""})
    assert parse_infotext(build_infotext(odd))["model"] == 'a "quoted", odd: name'


def test_parse_real_a1111_sample():
    parsed = parse_infotext(A1111_SAMPLE)
    assert parsed["prompt"] == (
        "masterpiece, a castle on a hill, (oil painting:1.2), <lora:detail:0.8>"
    )
    assert parsed["negative_prompt"] == "blurry, lowres,\nbad hands"
    assert parsed["steps"] == 30 and parsed["sampler"] == "DPM++ 2M Karras"
    assert parsed["cfg"] == 7.5 and parsed["seed"] == 1234567890
    assert (parsed["width"], parsed["height"]) == (512, 768)
    assert parsed["model_hash"] == "45dee52b" and parsed["model"] == "v1-5-pruned-emaonly"
    assert parsed["strength"] == 0.45 and parsed["mask_blur"] == 4
    assert parsed["params"]["Lora hashes"] == "detail: 1a2b3c4d5e6f"
    assert parsed["params"]["Version"] == "v1.7.0"
    assert parsed["params"]["Size"] == "512x768"


def test_parse_prompt_only_and_short_last_line():
    parsed = parse_infotext("a cat\non a mat, Steps: 20")  # < 3 pairs: still prompt
    assert parsed["prompt"] == "a cat\non a mat, Steps: 20"
    assert parsed["negative_prompt"] == "" and parsed["params"] == {}
    assert "steps" not in parsed and "seed" not in parsed
    only = parse_infotext("Steps: 5, Sampler: Euler, Seed: 9")
    assert only["prompt"] == "" and only["steps"] == 5 and "width" not in only


def test_write_and_read_round_trip(tmp_path):
    record = _record(prompt="ünïcode prompt ✓")
    image = make_image(32, 24)
    out = write_png(tmp_path / "out.png", image, record)
    assert out == tmp_path / "out.png"
    meta = read_metadata(out)
    assert meta["record"] == record
    assert meta["parameters"] == build_infotext(record)
    assert meta["parsed"]["prompt"] == "ünïcode prompt ✓" and meta["parsed"]["seed"] == 1234
    assert meta["comfyui"] is False
    with Image.open(out) as img:
        assert img.text["parameters"] == build_infotext(record)
        assert json.loads(img.text[RECORD_CHUNK]) == record
        assert img.convert("RGB").tobytes() == image.tobytes()
    assert read_metadata(Image.open(out))["record"] == record
    assert "Prompt: ünïcode prompt ✓" in format_summary(meta)
    assert "Seed: 1234" in format_summary(meta)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_write_png_refuses_existing_and_overwrites(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"keep me")
    with pytest.raises(UserError, match=r"already exists \(use --overwrite to replace it\)"):
        write_png(path, make_image(8, 8), _record())
    assert path.read_bytes() == b"keep me"
    write_png(path, make_image(8, 8), _record(seed=5), overwrite=True)
    assert read_metadata(path)["record"]["seed"] == 5
    nested = write_png(tmp_path / "a" / "b.png", make_image(8, 8), _record())
    assert nested.exists()


@pytest.mark.parametrize("error", [OSError("disk full"), RuntimeError("boom")])
def test_write_png_leaves_no_temp_file(tmp_path, monkeypatch, error):
    def failing_save(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise error

    monkeypatch.setattr(Image.Image, "save", failing_save)
    path = tmp_path / "y.png"
    with pytest.raises(UserError if isinstance(error, OSError) else RuntimeError):
        write_png(path, make_image(8, 8), _record())
    assert list(tmp_path.iterdir()) == []


def test_exif_user_comment_in_jpeg_and_webp(tmp_path):
    text = build_infotext(_record(prompt="jpeg prompt, é"))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + text.encode("utf-16-be")
    for ext, fmt in (("jpg", "JPEG"), ("webp", "WEBP")):
        path = tmp_path / f"a.{ext}"
        make_image(16, 16).save(path, format=fmt, exif=exif)
        meta = read_metadata(path)
        assert meta["parameters"] == text
        assert meta["parsed"]["prompt"] == "jpeg prompt, é" and meta["record"] is None
    assert decode_user_comment(b"ASCII\0\0\0hello") == "hello"
    assert decode_user_comment(b"UNICODE\0" + "hi".encode("utf-16-le")) == "hi"
    assert decode_user_comment(None) is None


def test_corrupt_record_comfyui_and_empty(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text(RECORD_CHUNK, "{not json")
    info.add_text("prompt", '{"1": {"class_type": "KSampler"}}')
    info.add_text("workflow", "{}")
    path = tmp_path / "comfy.png"
    make_image(8, 8).save(path, pnginfo=info)
    meta = read_metadata(path)
    assert meta == {
        "parameters": None,
        "record": None,
        "parsed": None,
        "comfyui": True,
        "notes": [f"its {RECORD_CHUNK} record is not valid JSON"],
    }
    assert "no generation parameters found" in format_summary(meta)

    plain = tmp_path / "plain.png"
    make_image(8, 8).save(plain)
    assert format_summary(read_metadata(plain)) == "no generation parameters found"


def test_summary_from_record_only():
    summary = format_summary({"parameters": None, "record": _record(), "parsed": None})
    assert summary.startswith("Prompt: a castle, (oil painting:1.2)\n  second line")
    assert "Negative prompt: blurry, lowres" in summary and "Kind: inpaint" in summary
    assert "Workflow: " in summary


def test_read_metadata_errors(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        read_metadata(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(ImageError) as info:
        read_metadata(bad)
    assert "\n" not in str(info.value) and str(bad) in str(info.value)


def test_infotext_names_the_sampler_that_ran_and_lists_control_units_the_webui_way():
    from core.metadata.infotext import build_infotext, parse_infotext

    record = {
        "prompt": "a cat",
        "steps": 20,
        "scheduler": "DPM++ 2M",
        "scheduler_ran": "Euler (flow matching)",
        "cfg": 3.5,
        "seed": 1,
        "controls": [
            {"model": "cn-canny", "kind": "canny", "strength": 0.8, "start": 0.0, "end": 0.8,
             "low_threshold": 100, "high_threshold": 200},
            {"model": "cn-depth", "kind": "image", "strength": 1.0, "start": 0.2, "end": 1.0},
        ],
        "references": [{"model": "ip-sd15", "scale": 0.6, "mode": "style"}],
    }  # fmt: skip
    params = parse_infotext(build_infotext(record))["params"]
    assert params["Sampler"] == "Euler"
    assert params["ControlNet 0"] == (
        "Module: canny, Model: cn-canny, Weight: 0.8, Threshold A: 100, Threshold B: 200, "
        "Guidance Start: 0, Guidance End: 0.8"
    )
    assert params["ControlNet 1"].startswith("Module: none, Model: cn-depth, Weight: 1")
    assert params["ControlNet 2"] == "Module: ip-adapter (style), Model: ip-sd15, Weight: 0.6"
