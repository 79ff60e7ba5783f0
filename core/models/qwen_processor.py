"""Qwen-Image-Edit's text-and-image processor, built without torchvision.

transformers 5's ``Qwen2VLProcessor`` insists on a video processor, which needs torchvision (the
PyPI wheel is a CUDA build that does not load against the CPU torch here), so loading the
``processor`` folder of a Qwen-Image-Edit model fails. The edit pipelines only hand the
processor text and pictures: it is assembled here from the folder's image processor (the PIL
one) and tokenizer, with no video processor, and given to the pipeline's ``from_pretrained``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import ModelError


def image_only_processor(image_processor: Any, tokenizer: Any) -> Any:
    """A ``Qwen2VLProcessor`` of ``image_processor`` and ``tokenizer``, without video."""
    from transformers import Qwen2VLProcessor

    class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
        """Qwen2-VL's processor for pictures and text only (no video processor)."""

        def __init__(self, image_processor: Any = None, tokenizer: Any = None, **kwargs: Any):
            super().__init__(image_processor, tokenizer, **kwargs)

    return ImageOnlyQwen2VLProcessor(image_processor, tokenizer)


def load_processor(folder: Path) -> Any:
    """The processor of a Qwen-Image-Edit folder's ``processor/`` (image processor + tokenizer)."""
    from transformers import AutoTokenizer, Qwen2VLImageProcessorPil

    try:
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(folder, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load the processor in {folder}: {str(exc).splitlines()[0]}"
        ) from None
    return image_only_processor(image_processor, tokenizer)
