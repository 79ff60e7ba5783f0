"""The README's table "family × card memory → the mode auto picks", computed by
:func:`~core.models.memory_choice.choose_memory_mode` from each family's measured size.

``python -m core.models.memory_table`` prints it (Markdown)."""

from __future__ import annotations

from core.models.memory_choice import GB, choose_memory_mode

# (label, whole pipeline, biggest component) in bf16/fp16 bytes, summed from each repo's
# safetensors headers: the denoiser, the text encoders and the VAE.
FAMILY_SIZES: tuple[tuple[str, int, int], ...] = (
    ("SD 1.5", int(2.1 * GB), int(1.7 * GB)),
    ("SDXL", int(6.9 * GB), int(5.1 * GB)),
    ("FLUX.2 Klein 4B", int(16.2 * GB), int(8.0 * GB)),
    ("SD 3.5 Large", int(27.6 * GB), int(16.3 * GB)),
    ("FLUX.1-dev", int(33.7 * GB), int(23.8 * GB)),
    ("Qwen-Image", int(57.7 * GB), int(40.9 * GB)),
)
CARDS_GB = (8, 12, 16, 24, 48, 80)
DRIVER_RESERVE = int(0.5 * GB)  # what the driver and a desktop keep of a card


def memory_table() -> str:
    """Rows: families; columns: cards; cells: auto's mode as loaded, then with --quantize fp8."""
    header = "| Family (bf16 size) | " + " | ".join(f"{gb} GB" for gb in CARDS_GB) + " |"
    lines = [header, "|" + "---|" * (len(CARDS_GB) + 1)]
    for label, whole, biggest in FAMILY_SIZES:
        cells = []
        for card in CARDS_GB:
            free = card * GB - DRIVER_RESERVE
            plain = choose_memory_mode(free, None, whole, "cuda", "none", biggest).label
            fp8 = choose_memory_mode(free, None, whole, "cuda", "fp8", biggest).label
            cells.append(plain if plain == fp8 else f"{plain} · fp8: {fp8}")
        lines.append(f"| {label} ({whole / GB:.1f} GB) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(memory_table())
