"""Fix faces: local detection on real photos, the face pass, cancel, the ``faces`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli.main import main
from core.engine import CancelToken
from core.errors import PassCancelled, UserError
from core.imaging.faces import FaceBox, detect_faces, face_mask
from core.metadata import read_metadata
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.faces import NO_FACE_NOTE, FaceSettings, fix_faces

DATA = Path(__file__).parent.parent / "data" / "faces"
ASTRONAUT_FACE = (109, 40, 62, 62)  # found by eye: Eileen Collins' face in the 320 px photo


@pytest.fixture(scope="module")
def astronaut():
    return Image.open(DATA / "astronaut.jpg").convert("RGB")


@pytest.fixture(scope="module")
def two_faces(astronaut):
    pair = Image.new("RGB", (640, 320))
    pair.paste(astronaut, (0, 0))
    pair.paste(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (320, 0))
    return pair


def _near(box: FaceBox, expected: tuple[int, int, int, int], tolerance: int) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(box.as_list(), expected, strict=True))


def test_the_face_in_a_real_photo_is_found_and_none_in_a_photo_without(astronaut):
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    assert _near(faces[0], ASTRONAUT_FACE, 8)
    assert 0.65 < faces[0].confidence <= 1.0
    assert detect_faces(Image.open(DATA / "coffee.jpg")) == []


def test_a_big_photo_is_searched_small_and_its_boxes_scaled_back(astronaut):
    big = astronaut.resize((3200, 3200), Image.Resampling.BICUBIC)
    (face,) = detect_faces(big)
    assert _near(face, tuple(v * 10 for v in ASTRONAUT_FACE), 80)


def test_two_faces_are_found_most_confident_first(two_faces):
    faces = detect_faces(two_faces)
    assert len(faces) == 2
    assert sorted(f.x < 320 for f in faces) == [False, True]
    assert faces[0].confidence >= faces[1].confidence


def test_the_face_mask_is_a_feathered_ellipse_zero_away_from_the_face():
    box = FaceBox(40, 40, 40, 40)
    mask = np.asarray(face_mask((160, 120), box))
    assert mask.shape == (120, 160)
    assert mask[60, 60] == 255
    assert mask[:, :10].max() == 0 and mask[:10].max() == 0 and mask[:, 110:].max() == 0
    assert 0 < mask[60, 35] < 255  # the feathered edge


def _request(image: Image.Image, seed: int = 3) -> PassRequest:
    return PassRequest(image=image, prompt="a face", steps=4, cfg=1.0, seed=seed)


def test_fix_faces_changes_only_the_faces_and_files_one_result(engine, spec, two_faces):
    result = fix_faces(engine, _request(two_faces), spec)
    assert result.image.size == two_faces.size
    record = result.record
    assert record["kind"] == "faces" and len(record["faces"]) == 2
    union = np.zeros((320, 640), bool)
    for face in record["faces"]:
        union |= np.asarray(face_mask(two_faces.size, FaceBox(*face["box"]))) > 0
    before, after = np.asarray(two_faces), np.asarray(result.image)
    assert np.array_equal(before[~union], after[~union])  # every other pixel byte-identical
    for face in record["faces"]:
        x, y, w, h = face["box"]
        assert not np.array_equal(before[y : y + h, x : x + w], after[y : y + h, x : x + w])
    assert record["strength"] == 0.35 and record["inpaint_area"] == "masked"
    assert result.effective_steps == 2 * int(4 * 0.35)
    assert record["color_match"] is True  # on by default for the face detailer
    assert record["seam_delta_e"] >= 0 and record["seam_delta_e_original"] >= 0  # all faces'


def test_given_boxes_are_used_instead_of_detection(engine, spec, astronaut):
    settings = FaceSettings(boxes=(FaceBox(10, 200, 60, 60),), strength=0.5)
    result = fix_faces(engine, _request(astronaut), spec, settings)
    assert [f["box"] for f in result.record["faces"]] == [[10, 200, 60, 60]]
    before, after = np.asarray(astronaut), np.asarray(result.image)
    assert np.array_equal(before[:150], after[:150])  # the detected face was left alone


def test_no_face_returns_the_input_without_loading_a_model(engine, tmp_path):
    coffee = Image.open(DATA / "coffee.jpg").convert("RGB")
    missing = ModelSpec(str(tmp_path / "no-such-model"), device="cpu")
    result = fix_faces(engine, _request(coffee), missing)
    assert result.skipped and result.note == NO_FACE_NOTE
    assert result.image.tobytes() == coffee.tobytes()


def test_cancel_between_faces_returns_nothing(engine, spec, two_faces):
    token = CancelToken()

    def progress(update):
        if update.status == "done":
            token.cancel()  # after the first face

    with pytest.raises(PassCancelled):
        fix_faces(engine, _request(two_faces), spec, on_progress=progress, cancel=token)


def test_bad_settings_are_one_line_errors(engine, spec, astronaut):
    with pytest.raises(UserError, match="face strength"):
        fix_faces(engine, _request(astronaut), spec, FaceSettings(strength=0.0))
    with pytest.raises(UserError, match="outside"):
        boxes = (FaceBox(1000, 1000, 50, 50),)
        fix_faces(engine, _request(astronaut), spec, FaceSettings(boxes=boxes))


COMMON = ["--prompt", "a face", "--steps", "4", "--cfg", "1", "--seed", "5"]


@pytest.mark.usefixtures("one_cli_engine")
def test_faces_command_writes_the_result_and_lists_the_boxes(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out.png"
    args = ["faces", str(DATA / "astronaut.jpg"), "-o", str(out), "--json"]
    assert main([*args, "--model", str(tiny_model_dir), *COMMON]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["faces"]) == 1 and _near(
        FaceBox(*summary["faces"][0]["box"]), ASTRONAUT_FACE, 8
    )
    record = read_metadata(out)["record"]
    assert record["kind"] == "faces" and record["strength"] == 0.35


@pytest.mark.usefixtures("one_cli_engine")
def test_faces_command_without_a_face_writes_the_input_with_a_note(tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(["faces", str(DATA / "coffee.jpg"), "-o", str(out), "--model", "org/none", *COMMON])
    assert code == 0
    assert "no face found" in capsys.readouterr().err
    assert (
        Image.open(out).convert("RGB").tobytes()
        == Image.open(DATA / "coffee.jpg").convert("RGB").tobytes()
    )


def test_faces_command_refuses_a_bad_box(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out.png"
    args = ["faces", str(DATA / "astronaut.jpg"), "-o", str(out), "--box", "1,2,3"]
    assert main([*args, "--model", str(tiny_model_dir), *COMMON]) == 2
    assert "X,Y,W,H" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.usefixtures("one_cli_engine")
def test_generate_and_batch_fix_faces_after_each_pass(tmp_path, tiny_model_dir, astronaut):
    folder = tmp_path / "in"
    folder.mkdir()
    astronaut.save(folder / "a.png")
    out = tmp_path / "one.png"
    # The pass repaints a corner (the tiny model paints noise), so the face is still there.
    mask = Image.new("L", astronaut.size, 0)
    mask.paste(255, (240, 240, 320, 320))
    mask.save(tmp_path / "corner.png")
    model = ["--model", str(tiny_model_dir), *COMMON, "--strength", "0.5"]
    model += ["--mask", str(tmp_path / "corner.png")]
    assert main(["generate", str(folder / "a.png"), "-o", str(out), "--fix-faces", *model]) == 0
    record = read_metadata(out)["record"]
    assert record["kind"] == "inpaint" and record["strength"] == 0.5
    assert len(record["fix_faces"]["faces"]) == 1 and record["fix_faces"]["strength"] == 0.35
    assert main(["batch", str(folder), str(tmp_path / "out"), "--fix-faces", *model]) == 0
    assert len(read_metadata(tmp_path / "out" / "a.png")["record"]["fix_faces"]["faces"]) == 1


def test_fix_faces_refuses_a_multi_pass_schedule(tmp_path, tiny_model_dir, capsys):
    args = ["generate", str(DATA / "astronaut.jpg"), "-o", str(tmp_path / "o.png")]
    code = main([*args, "--passes", "0.5,0.3", "--fix-faces", "--model", str(tiny_model_dir)])
    assert code == 2 and "--fix-faces" in capsys.readouterr().err


def test_a_pass_then_its_faces_is_one_result(engine, spec, astronaut):
    from core.workflows.faces import generate_fixing_faces

    mask = Image.new("L", astronaut.size, 0)
    mask.paste(255, (240, 240, 320, 320))
    request = _request(astronaut).replace(mask=mask, strength=0.5)
    result = generate_fixing_faces(engine, request, spec)
    assert result.record["kind"] == "inpaint"
    assert len(result.record["fix_faces"]["faces"]) == 1
    before, after = np.asarray(astronaut), np.asarray(result.image)
    assert not np.array_equal(before[40:100, 109:170], after[40:100, 109:170])  # the face
    assert np.array_equal(before[200:230, :200], after[200:230, :200])  # neither face nor mask
