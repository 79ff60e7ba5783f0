"""The README's model table ("What each family can do") is backed by tests.

Every family in ``core.models.families`` has a row. Every cell that claims something (anything
but "refused…", "not yet…" or "—") names, in CLAIMS below, the tests on that family's tiny model
that show it; every "refused…" cell names, in REFUSALS, the test that checks its one-line error.
The named test functions must exist in their files (read with ``ast``, not run), and neither map
may name a cell that does not say what it backs. So a new "yes" without a test, a test renamed
or removed, or a cell turned to "not yet" that still names a test, fails here.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from core.models.families import FAMILIES

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = (
    "img2img", "inpaint", "edit", "references", "LoRA", "ControlNet", "regions", "live",
    "few-step",
)  # fmt: skip

F2026 = "tests/core/test_family_conditioning.py"
LORA_2026 = F2026 + "::test_a_lora_acts_weight_zero_is_none_and_the_record_names_it"
NO_CONTROLNET_2026 = F2026 + "::test_control_layers_are_refused_in_one_line_saying_why"
CONTROLNET_STARTED = (
    "tests/core/test_controlnet_started.py::"
    "test_scale_zero_is_the_img2img_pass_byte_for_byte_and_a_control_changes_it"
)
IP_ADAPTER_2026 = (
    "tests/core/test_ip_adapter_2026_families.py::"
    "test_an_ip_adapter_reference_is_refused_in_one_line"
)
LIVE = (
    "tests/gui/test_live_families.py::"
    "test_live_mode_renders_and_a_stroke_inpaints_leaving_the_rest_exact"
)
OLDER = "tests/core/test_older_families_capabilities.py"
LORA_OLDER = OLDER + "::test_a_lora_acts_and_weight_zero_is_none"
NO_CONTROLNET_OLDER = OLDER + "::test_control_layers_are_refused_in_one_line"
NO_IP_ADAPTER_OLDER = OLDER + "::test_an_ip_adapter_reference_is_refused_in_one_line"
NO_REGIONS_OLDER = OLDER + "::test_regional_prompts_are_refused_in_one_line"
FEW_STEP_OLDER = OLDER + "::test_a_few_step_model_is_known_by_its_name_and_runs_without_cfg"
SD2 = "tests/core/test_family_sd2.py"
SD3 = "tests/core/test_family_sd3.py"
SDXL = "tests/core/test_regional_prompts_sdxl.py"
SDXL_CN = "tests/core/test_controlnet_sdxl.py"
FLUX = "tests/core/test_family_flux.py"
VARIANTS = "tests/core/test_family_flux_variants.py"
ZIMAGE = "tests/core/test_family_zimage.py"
CHROMA = "tests/core/test_family_chroma.py"
QWEN = "tests/core/test_family_qwen_image.py"
EDIT = "tests/core/test_family_qwen_image_edit.py"
PLUS = "tests/core/test_family_qwen_image_edit_plus.py"
KLEIN = "tests/core/test_family_flux2_klein.py"
LIVE_EDIT = "tests/gui/test_live_edit_models.py"

# (family key, column) → the tests that show the cell's claim.
CLAIMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("sd1", "img2img"): (
        "tests/core/test_engine.py::test_effective_steps_reported_and_one_preview_per_step",
    ),
    ("sd1", "inpaint"): (
        "tests/core/test_engine.py::test_inpaint_keeps_unmasked_pixels_byte_identical",
    ),
    ("sd1", "references"): (
        "tests/core/test_ip_adapter.py::"
        "test_scale_zero_equals_no_reference_and_a_scale_changes_the_output",
    ),
    ("sd1", "LoRA"): ("tests/core/test_lora.py::test_a_lora_changes_the_output_and_is_recorded",),
    ("sd1", "ControlNet"): (
        "tests/core/test_controlnet.py::"
        "test_scale_zero_equals_no_controlnet_and_a_scale_changes_the_output",
        "tests/core/test_controlnet.py::"
        "test_two_layers_with_ranges_are_recorded_and_the_controlnet_loads_once",
    ),
    ("sd1", "regions"): (
        "tests/core/test_regional_prompts.py::test_region_prompt_acts_mostly_inside_its_region",
    ),
    ("sd1", "live"): (
        "tests/gui/test_live_mode.py::"
        "test_a_stroke_in_live_mode_renders_without_generate_and_apply_files_it",
    ),
    ("sd1", "few-step"): (
        "tests/core/test_few_step.py::test_a_turbo_model_at_low_strength_runs_a_step_instead_of_none",
        "tests/core/test_few_step.py::test_an_lcm_model_is_known_from_its_scheduler_config",
    ),
    ("sd2", "img2img"): (SD2 + "::test_img2img",),
    ("sd2", "inpaint"): (SD2 + "::test_inpaint_keeps_pixels_outside_the_mask",),
    ("sd2", "LoRA"): (LORA_OLDER + "[sd2]",),
    ("sd2", "regions"): (OLDER + "::test_regional_prompts_act_on_sd2",),
    ("sd2", "live"): (LIVE + "[sd2]",),
    ("sdxl", "img2img"): (SDXL + "::test_img2img_inpaint_and_strength_map_run_on_sdxl",),
    ("sdxl", "inpaint"): (SDXL + "::test_img2img_inpaint_and_strength_map_run_on_sdxl",),
    ("sdxl", "references"): (
        SDXL_CN + "::test_style_and_composition_references_act_in_their_own_blocks",
    ),
    ("sdxl", "LoRA"): (
        "tests/core/test_lora_weight_zero.py::test_sdxl_first_lora_at_zero_then_one_then_zero",
    ),
    ("sdxl", "ControlNet"): (
        SDXL_CN + "::test_sdxl_controlnet_scale_zero_equals_none_and_a_scale_changes_it",
        SDXL_CN + "::test_union_controlnet_layers_with_their_control_modes",
    ),
    ("sdxl", "regions"): (SDXL + "::test_region_prompt_acts_mostly_inside_its_region",),
    ("sdxl", "live"): (LIVE + "[sdxl]",),
    ("sdxl", "few-step"): (FEW_STEP_OLDER + "[sdxl]",),
    ("sd3", "img2img"): (
        SD3 + "::test_img2img_runs_the_flow_matching_scheduler_whatever_is_asked",
    ),
    ("sd3", "inpaint"): (SD3 + "::test_inpaint_keeps_pixels_outside_the_mask",),
    ("sd3", "LoRA"): (LORA_OLDER + "[sd3]",),
    ("sd3", "ControlNet"): (
        CONTROLNET_STARTED + "[sd3]",
        "tests/core/test_controlnet_started.py::test_masked_passes_keep_every_pixel_outside_the_mask"
        "[sd3]",
    ),
    ("sd3", "live"): (LIVE + "[sd3]",),
    ("sd3", "few-step"): (FEW_STEP_OLDER + "[sd3]",),
    ("flux", "img2img"): (
        FLUX + "::test_img2img_runs_the_engines_step_count_with_latent_size_previews",
    ),
    ("flux", "inpaint"): (FLUX + "::test_inpaint_keeps_pixels_outside_the_mask",),
    ("flux", "LoRA"): (LORA_OLDER + "[flux]",),
    ("flux", "ControlNet"): (
        "tests/core/test_controlnet_flux.py::"
        "test_scale_zero_is_the_img2img_pass_byte_for_byte_and_a_control_changes_it",
        "tests/core/test_controlnet_flux.py::test_masked_passes_keep_every_pixel_outside_the_mask",
        "tests/core/test_controlnet_flux.py::test_two_layers_run_as_flux_multi_controlnet",
    ),
    ("flux", "live"): (LIVE + "[flux]",),
    ("flux", "few-step"): (FEW_STEP_OLDER + "[flux]",),
    ("flux-fill", "img2img"): (VARIANTS + "::test_fill_passes",),
    ("flux-fill", "inpaint"): (VARIANTS + "::test_fill_passes",),
    ("flux-fill", "LoRA"): (LORA_OLDER + "[flux-fill]",),
    ("flux-fill", "live"): (LIVE + "[flux-fill]",),
    ("flux-kontext", "img2img"): (
        VARIANTS + "::test_kontext_edit_runs_every_step_and_notes_strength",
    ),
    ("flux-kontext", "inpaint"): (VARIANTS + "::test_kontext_inpaint_and_strength_map",),
    ("flux-kontext", "edit"): (
        VARIANTS + "::test_kontext_edit_runs_every_step_and_notes_strength",
    ),
    ("flux-kontext", "LoRA"): (LORA_OLDER + "[flux-kontext]",),
    ("flux-kontext", "live"): (LIVE + "[flux-kontext]",),
    ("zimage", "img2img"): (
        ZIMAGE + "::test_img2img_runs_the_engines_step_count_with_latent_size_previews",
    ),
    ("zimage", "inpaint"): (
        ZIMAGE + "::test_inpaint_keeps_pixels_outside_the_mask",
        ZIMAGE + "::test_strength_map",
    ),
    ("zimage", "LoRA"): (LORA_2026 + "[zimage]",),
    ("zimage", "ControlNet"): (CONTROLNET_STARTED + "[zimage]",),
    ("zimage", "live"): (LIVE + "[zimage]",),
    ("zimage", "few-step"): (ZIMAGE + "::test_turbo_runs_as_a_few_step_model",),
    ("chroma", "img2img"): (
        CHROMA + "::test_img2img_runs_the_engines_step_count_with_latent_size_previews",
    ),
    ("chroma", "inpaint"): (
        CHROMA + "::test_inpaint_keeps_pixels_outside_the_mask",
        CHROMA + "::test_strength_map",
    ),
    ("chroma", "LoRA"): (LORA_2026 + "[chroma]",),
    ("chroma", "live"): (LIVE + "[chroma]",),
    ("qwen-image", "img2img"): (
        QWEN + "::test_img2img_runs_the_engines_step_count_with_latent_size_previews",
    ),
    ("qwen-image", "inpaint"): (
        QWEN + "::test_inpaint_keeps_pixels_outside_the_mask",
        QWEN + "::test_strength_map",
    ),
    ("qwen-image", "LoRA"): (LORA_2026 + "[qwen-image]",),
    ("qwen-image", "ControlNet"): (
        CONTROLNET_STARTED + "[qwen-image]",
        "tests/core/test_controlnet_started.py::"
        "test_masked_passes_keep_every_pixel_outside_the_mask[qwen-image]",
        "tests/core/test_controlnet_started.py::"
        "test_a_strength_map_with_control_keeps_strength_zero_pixels[qwen-image]",
    ),
    ("qwen-image", "live"): (LIVE + "[qwen-image]",),
    ("qwen-image-edit", "img2img"): (
        EDIT + "::test_the_instruction_edits_the_whole_picture_running_every_step",
    ),
    ("qwen-image-edit", "inpaint"): (
        EDIT + "::test_a_masked_pass_runs_its_inpaint_pipeline_with_the_strength",
        EDIT + "::test_only_masked_on_a_big_picture_repaints_the_crop_alone",
    ),
    ("qwen-image-edit", "edit"): (
        EDIT + "::test_the_instruction_edits_the_whole_picture_running_every_step",
    ),
    ("qwen-image-edit", "LoRA"): (LORA_2026 + "[qwen-image-edit]",),
    ("qwen-image-edit", "live"): (
        LIVE_EDIT + "::test_live_qwen_image_edit_runs_every_step"
        "_and_a_mask_inpaints_with_the_strength",
    ),
    ("qwen-image-edit-plus", "img2img"): (
        PLUS + "::test_references_reach_the_pipeline_and_change_the_edit",
    ),
    ("qwen-image-edit-plus", "inpaint"): (
        PLUS + "::test_a_moved_edit_is_aligned_before_it_is_pasted_back",
        PLUS + "::test_a_masked_edit_keeps_every_pixel_outside_the_blurred_mask",
    ),
    ("qwen-image-edit-plus", "edit"): (
        PLUS + "::test_references_reach_the_pipeline_and_change_the_edit",
    ),
    ("qwen-image-edit-plus", "references"): (
        PLUS + "::test_references_reach_the_pipeline_and_change_the_edit",
        PLUS + "::test_cli_reference_without_ip_adapter_is_an_edit_reference",
        "tests/gui/test_edit_references.py::"
        "test_references_from_a_file_a_card_and_the_canvas_reach_the_request_in_order",
    ),
    ("qwen-image-edit-plus", "LoRA"): (LORA_2026 + "[qwen-image-edit-plus]",),
    ("qwen-image-edit-plus", "live"): (
        "tests/gui/test_edit_model_window.py::"
        "test_live_mode_with_an_edit_model_runs_every_step_with_the_references",
    ),
    ("flux2-klein", "img2img"): (
        KLEIN + "::test_the_instruction_edits_the_whole_picture_running_every_step",
    ),
    ("flux2-klein", "inpaint"): (
        KLEIN + "::test_a_masked_pass_runs_kleins_inpaint_pipeline_with_its_strength",
        KLEIN + "::test_only_masked_inpaints_the_crop_and_keeps_every_pixel_outside",
        KLEIN + "::test_references_reach_the_inpaint_pipeline",
    ),
    ("flux2-klein", "edit"): (
        KLEIN + "::test_the_instruction_edits_the_whole_picture_running_every_step",
    ),
    ("flux2-klein", "references"): (
        KLEIN + "::test_references_change_the_edit",
        KLEIN + "::test_more_references_than_the_model_takes_are_refused",
    ),
    ("flux2-klein", "LoRA"): (LORA_2026 + "[flux2-klein]",),
    ("flux2-klein", "live"): (
        LIVE_EDIT + "::test_live_klein_with_and_without_references",
        LIVE_EDIT + "::test_live_klein_with_a_mask_inpaints_with_the_strength",
    ),
    ("flux2-klein", "few-step"): (
        "tests/gui/test_sampling_defaults.py::"
        "test_picking_klein_moves_steps_and_cfg_and_greys_cfg_with_the_reason",
    ),
}  # fmt: skip

# (family key, column) → the tests that check a "refused" cell's one-line error.
REFUSALS: dict[tuple[str, str], tuple[str, ...]] = {
    ("sd2", "references"): (NO_IP_ADAPTER_OLDER + "[sd2]",),
    ("sd2", "ControlNet"): (
        "tests/core/test_controlnet.py::test_a_family_without_controlnet_gives_a_one_line_error",
    ),
    ("sd3", "references"): (NO_IP_ADAPTER_OLDER + "[sd3]",),
    ("sd3", "regions"): (SD3 + "::test_regions_are_refused_in_one_line",),
    ("flux", "references"): (NO_IP_ADAPTER_OLDER + "[flux]",),
    ("flux", "regions"): (NO_REGIONS_OLDER + "[flux]",),
    ("flux-fill", "references"): (NO_IP_ADAPTER_OLDER + "[flux-fill]",),
    ("flux-fill", "ControlNet"): (NO_CONTROLNET_OLDER + "[flux-fill]",),
    ("flux-fill", "regions"): (NO_REGIONS_OLDER + "[flux-fill]",),
    ("flux-kontext", "references"): (NO_IP_ADAPTER_OLDER + "[flux-kontext]",),
    ("flux-kontext", "ControlNet"): (NO_CONTROLNET_OLDER + "[flux-kontext]",),
    ("flux-kontext", "regions"): (NO_REGIONS_OLDER + "[flux-kontext]",),
    ("zimage", "references"): (IP_ADAPTER_2026 + "[Z-Image]",),
    ("zimage", "regions"): (ZIMAGE + "::test_regions_are_refused_in_one_line",),
    ("chroma", "references"): (IP_ADAPTER_2026 + "[Chroma]",),
    ("chroma", "ControlNet"): (NO_CONTROLNET_2026 + "[chroma]",),
    ("chroma", "regions"): (CHROMA + "::test_regions_are_refused_in_one_line",),
    ("qwen-image", "references"): (IP_ADAPTER_2026 + "[Qwen-Image]",),
    ("qwen-image", "regions"): (QWEN + "::test_regions_are_refused_in_one_line",),
    ("qwen-image-edit", "ControlNet"): (NO_CONTROLNET_2026 + "[qwen-image-edit]",),
    ("qwen-image-edit", "regions"): (EDIT + "::test_regions_are_refused_in_one_line",),
    ("qwen-image-edit-plus", "ControlNet"): (NO_CONTROLNET_2026 + "[qwen-image-edit-plus]",),
    ("qwen-image-edit-plus", "regions"): (PLUS + "::test_regions_are_refused_in_one_line",),
    ("flux2-klein", "ControlNet"): (NO_CONTROLNET_2026 + "[flux2-klein]",),
    ("flux2-klein", "regions"): (KLEIN + "::test_regions_are_refused_in_one_line",),
}

UNCLAIMED = ("—", "not yet")


def readme_table() -> dict[str, dict[str, str]]:
    """``{family key: {column: cell}}`` from the README table headed "| Family | img2img"."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Family | img2img"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    assert tuple(header[1:]) == COLUMNS, header
    labels = sorted(((f.label, key) for key, f in FAMILIES.items()), key=lambda lk: -len(lk[0]))
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == len(header), line
        name = cells[0]
        key = next(k for label, k in labels if re.match(re.escape(label) + r"(\s|$)", name))
        assert key not in rows, f"two rows for {key}"
        rows[key] = dict(zip(COLUMNS, cells[1:], strict=True))
    return rows


def kind(cell: str) -> str:
    if cell.startswith("refused"):
        return "refused"
    if cell.startswith(UNCLAIMED):
        return "unclaimed"
    return "claim"


@cache
def functions_in(path: str) -> tuple[frozenset[str], str]:
    source = (ROOT / path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    names = frozenset(
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )
    return names, source


def missing(node_id: str) -> str | None:
    """Why ``path::function[param]`` names no test in the tree (None: it does)."""
    path, _, rest = node_id.partition("::")
    if not (ROOT / path).is_file():
        return f"{node_id}: no file {path}"
    function, _, param = rest.partition("[")
    names, source = functions_in(path)
    if function not in names:
        return f"{node_id}: no function {function} in {path}"
    if param and f'"{param.rstrip("]")}"' not in source:
        return f"{node_id}: {path} never names {param.rstrip(']')!r}"
    return None


def test_the_table_has_a_row_for_every_family():
    assert sorted(readme_table()) == sorted(FAMILIES)


def _check(wanted: str, mapping: dict[tuple[str, str], tuple[str, ...]]) -> list[str]:
    table = readme_table()
    problems = []
    for family, row in table.items():
        for column, cell in row.items():
            named = mapping.get((family, column))
            if kind(cell) == wanted and not named:
                problems.append(f"{family} / {column} says {cell!r} but names no test")
            if kind(cell) != wanted and named:
                problems.append(f"{family} / {column} says {cell!r}: drop it from the map")
            problems += [why for node in named or () if (why := missing(node))]
    problems += [f"{cell}: no such cell" for cell in mapping if cell[0] not in table]
    problems += [f"{cell}: no such column" for cell in mapping if cell[1] not in COLUMNS]
    return problems


def test_every_claim_names_tests_that_exist():
    assert _check("claim", CLAIMS) == []


def test_every_refusal_names_a_test_that_exists():
    assert _check("refused", REFUSALS) == []


def test_a_claim_without_a_test_or_a_renamed_test_is_caught():
    """The check itself: a "yes" whose entry is gone, and an entry whose test is renamed."""
    without = {cell: tests for cell, tests in CLAIMS.items() if cell != ("sd1", "LoRA")}
    assert _check("claim", without) == ["sd1 / LoRA says 'yes' but names no test"]
    renamed = dict(CLAIMS)
    renamed[("sd1", "LoRA")] = ("tests/core/test_lora.py::test_renamed",)
    assert _check("claim", renamed) == [
        "tests/core/test_lora.py::test_renamed: no function test_renamed in tests/core/test_lora.py"
    ]
    assert _check("claim", {**CLAIMS, ("sd2", "ControlNet"): CLAIMS[("sd1", "LoRA")]}) == [
        "sd2 / ControlNet says 'refused': drop it from the map"
    ]
