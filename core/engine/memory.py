"""Running out of memory during a pass: a one-line error with advice, and memory given back.

``guard_memory`` wraps the model load and the denoise. When either runs out of memory (a CUDA or
MPS allocation, the CPU allocator, Python's ``MemoryError``) the pass's own tensors are dropped
(the failed frames' locals are cleared, the allocator's cache emptied) and :class:`OutOfMemory`
says what to try. A model that was loaded stays loaded, so the next pass starts at once.
"""

from __future__ import annotations

import contextlib
import gc
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

from core.errors import UserError

# Lower-case fragments of the messages torch raises when an allocation fails: CUDA ("CUDA out of
# memory"), MPS ("MPS backend out of memory"), the CPU allocator ("can't allocate memory",
# "not enough memory" on Windows).
_OOM_TEXT = ("out of memory", "can't allocate memory", "not enough memory")


class OutOfMemory(UserError):
    """A pass ran out of memory; its memory was given back and a loaded model stays loaded."""


@dataclass
class MemoryWatch:
    """What the guarded block has got to: the device, and the work size once chosen."""

    device: str = ""
    work_size: tuple[int, int] | None = None
    full_precision: bool = False

    def reached(self, device: str, dtype: object, work_size: tuple[int, int]) -> None:
        """The model is loaded on ``device`` in ``dtype`` and will work at ``work_size``."""
        self.device, self.work_size = device, work_size
        self.full_precision = str(dtype).endswith("float32")

    def message(self) -> str:
        """The one-line error for running out of memory at this point."""
        on = f" on {self.device}" if self.device else ""
        later = "memory-saving modes such as CPU offload are not available yet"
        precision = ", or fp16 precision" if self.full_precision and self.device != "cpu" else ""
        if self.work_size is None:
            return (
                f"out of memory while loading the model{on}: close other programs using that "
                f"memory{precision}, or use the cpu device; {later}"
            )
        width, height = self.work_size
        return (
            f"out of memory at {width}×{height}{on}: try a smaller work size (or smaller tiles "
            f"when upscaling){precision}; the model stays loaded; {later}"
        )


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (torch's OutOfMemoryError, MemoryError, or a
    RuntimeError whose message says so)."""
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(fragment in text for fragment in _OOM_TEXT)


def release_memory() -> None:
    """Collect garbage and empty the CUDA / MPS allocator caches."""
    gc.collect()
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        torch.mps.empty_cache()


@contextlib.contextmanager
def guard_memory() -> Iterator[MemoryWatch]:
    """Turn running out of memory inside the block into :class:`OutOfMemory`; other exceptions
    pass through. The block fills in the yielded :class:`MemoryWatch` as it goes."""
    watch = MemoryWatch()
    try:
        yield watch
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        # The failed frames hold the pass's tensors (latents, activations): drop them now.
        traceback.clear_frames(exc.__traceback__)
        exc.__traceback__ = None
        del exc
        release_memory()
        raise OutOfMemory(watch.message()) from None
