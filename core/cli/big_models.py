"""The big-model options every pass-making command shares: quantized weights, step caching,
regional compilation and the out-of-memory retry."""

from __future__ import annotations

import argparse

from core.models.quantize import QUANTIZE_MODES
from core.models.step_cache import SPEED_MODES


def add_big_model_options(p: argparse.ArgumentParser) -> None:
    """--quantize, --speed, --compile and --oom-retry."""
    p.add_argument(
        "--quantize",
        default="none",
        choices=QUANTIZE_MODES,
        help="quantized weights: int8 (torchao, CPU too), fp8 (torchao) or nf4 (bitsandbytes) "
        "on CUDA; a .gguf file is quantized already (none)",
    )
    p.add_argument(
        "--speed",
        default="off",
        choices=SPEED_MODES,
        help="step caching for transformer models: fast (First-Block Cache), fastest "
        "(TaylorSeer); slightly softer results (off)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="compile the repeated blocks on CUDA (the first pass pays; the cache is kept)",
    )
    p.add_argument(
        "--oom-retry",
        action="store_true",
        help="after running out of GPU memory, retry once with the next lighter memory mode",
    )
