"""LoRAs on the tiny SD 1.x model: each changes the output and is recorded, weight 0 is no LoRA,
two at once, prompt tags, switching without reloading the model, clear errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import core.conditioning.lora_files as lora_files
from core.conditioning.specs import LoraSpec
from core.metadata.infotext import build_infotext, parse_infotext
from tests.core import lora_helpers
from tests.core.lora_helpers import lora_pass
from tests.tiny_models.images import make_mask

lora_dir = lora_helpers.lora_dir
lora_engine = lora_helpers.lora_engine


def pixels(result):
    return np.asarray(result.image)


@pytest.fixture(scope="module")
def plain(lora_engine, tiny_model_dir):
    """The pass before any LoRA was ever loaded on the model."""
    return lora_pass(lora_engine, tiny_model_dir)


def test_a_lora_changes_the_output_and_is_recorded(lora_engine, tiny_model_dir, lora_dir, plain):
    path = lora_dir / "style.safetensors"
    result = lora_pass(lora_engine, tiny_model_dir, loras=(LoraSpec(str(path), 0.8),))
    assert not np.array_equal(pixels(result), pixels(plain))
    (entry,) = result.record["loras"]
    assert entry["name"] == "style" and entry["path"] == str(path.resolve())
    assert entry["weight"] == 0.8 and len(entry["hash"]) == 12
    parsed = parse_infotext(build_infotext(result.record))
    assert parsed["lora_hashes"] == {"style": entry["hash"]}
    assert parsed["prompt"] == "a red house"


def test_weight_zero_and_a_later_pass_without_loras_equal_no_lora(
    lora_engine, tiny_model_dir, lora_dir, plain
):
    style = str(lora_dir / "style.safetensors")
    zero = lora_pass(lora_engine, tiny_model_dir, loras=(LoraSpec(style, 0.0),))
    assert np.array_equal(pixels(zero), pixels(plain))
    assert zero.record["loras"][0]["weight"] == 0.0
    lora_pass(lora_engine, tiny_model_dir, loras=(LoraSpec(style, 1.0),))
    after = lora_pass(lora_engine, tiny_model_dir)
    assert np.array_equal(pixels(after), pixels(plain))
    assert "loras" not in after.record


def test_two_loras_with_weights_and_switching_keeps_the_model(
    lora_engine, tiny_model_dir, lora_dir
):
    style = LoraSpec(str(lora_dir / "style.safetensors"), 0.7)
    character = LoraSpec(str(lora_dir / "character.safetensors"), 0.5)
    first = lora_pass(lora_engine, tiny_model_dir, loras=(style,))
    model = lora_engine.models.loaded
    base_pipe, identity = model.base_pipe, model.identity
    both = lora_pass(lora_engine, tiny_model_dir, loras=(style, character))
    alone = lora_pass(lora_engine, tiny_model_dir, loras=(character,))
    again = lora_pass(lora_engine, tiny_model_dir, loras=(style,))
    assert [e["name"] for e in both.record["loras"]] == ["style", "character"]
    assert [e["weight"] for e in both.record["loras"]] == [0.7, 0.5]
    for other in (first, alone):
        assert not np.array_equal(pixels(both), pixels(other))
    assert np.array_equal(pixels(again), pixels(first))  # switching back gives the same picture
    assert lora_engine.models.loaded.base_pipe is base_pipe
    assert lora_engine.models.loaded.identity == identity


def test_prompt_tags_are_resolved_removed_and_combined(lora_engine, tiny_model_dir, lora_dir):
    from core.library.registry import ModelLibrary

    ModelLibrary().scan(lora_dir, hashes=False)  # the LoRA folder, registered in place
    tagged = lora_pass(
        lora_engine, tiny_model_dir, prompt="a red house, <lora:style:0.7>, <lora:character:.5>"
    )
    spelled = lora_pass(
        lora_engine,
        tiny_model_dir,
        prompt="a red house",
        loras=(LoraSpec("style", 0.7), LoraSpec(str(lora_dir / "character.safetensors"), 0.5)),
    )
    assert np.array_equal(pixels(tagged), pixels(spelled))
    assert tagged.record["prompt"] == "a red house, <lora:style:0.7>, <lora:character:.5>"
    assert {e["name"]: e["weight"] for e in tagged.record["loras"]} == {
        "style": 0.7,
        "character": 0.5,
    }
    mixed = lora_pass(
        lora_engine,
        tiny_model_dir,
        prompt="a red house <lora:character:0.5>",
        loras=(LoraSpec("style", 0.7),),
    )
    assert np.array_equal(pixels(mixed), pixels(spelled))


def test_split_lora_tags():
    text, specs = lora_files.split_lora_tags("<lora:a>a cat, <lora:b b:0.25:0.5> on a mat, ")
    assert text == "a cat, on a mat"
    assert specs == [LoraSpec("a", 1.0), LoraSpec("b b", 0.25)]


def test_the_inpaint_path_uses_the_lora(lora_engine, tiny_model_dir, lora_dir):
    mask = make_mask(64, 64, (8, 8, 56, 56))
    lora = (LoraSpec(str(lora_dir / "style.safetensors"), 1.0),)
    without = lora_pass(lora_engine, tiny_model_dir, mask=mask, mask_blur=0)
    with_lora = lora_pass(lora_engine, tiny_model_dir, mask=mask, mask_blur=0, loras=lora)
    assert not np.array_equal(pixels(with_lora), pixels(without))
    assert with_lora.record["loras"][0]["name"] == "style"


def test_a_changed_file_is_loaded_again(lora_engine, tiny_model_dir, lora_dir, tmp_path):
    path = tmp_path / "mine.safetensors"
    shutil.copy(lora_dir / "style.safetensors", path)
    first = lora_pass(lora_engine, tiny_model_dir, loras=(LoraSpec(str(path)),))
    shutil.copy(lora_dir / "character.safetensors", path)
    changed = lora_pass(lora_engine, tiny_model_dir, loras=(LoraSpec(str(path)),))
    reference = lora_pass(
        lora_engine, tiny_model_dir, loras=(LoraSpec(str(lora_dir / "character.safetensors")),)
    )
    assert not np.array_equal(pixels(changed), pixels(first))
    assert np.array_equal(pixels(changed), pixels(reference))
    assert changed.record["loras"][0]["hash"] == reference.record["loras"][0]["hash"]
