"""A loaded model: its pipelines (img2img and inpaint share weights) and what the engine needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.hashing import BackgroundHash, Cancelled
from core.library.few_step_names import FewStep
from core.model_spec import ModelSpec
from core.models.device import split_cpu_precision
from core.models.families import Family, family
from core.models.hashes import short_hash
from core.models.quantize import pipeline_from


@dataclass
class LoadedModel:
    """A loaded pipeline and what the engine needs to know about it."""

    spec: ModelSpec
    name: str
    family: str  # a key of core.models.families.FAMILIES
    is_inpaint_model: bool
    device: str
    dtype: Any
    base_pipe: Any  # the pipeline as loaded (img2img, or inpaint for 9-channel models)
    weights_file: Path | None  # the file the model hash is taken from
    identity: str = ""  # unique per load: what caches of per-model state are keyed by
    memory_mode: str = "none"  # the memory mode in use (core.models.memory_modes)
    quantize: str = "none"  # the weights' quantization in use (core.models.quantize)
    compiled: str = "off"  # regional compilation of the repeated blocks (core.models.compile)
    memory_reason: str = ""  # why auto chose the memory mode ("" when it was asked for)
    few_step: FewStep | None = None  # set for few-step (distilled) models
    _inpaint_pipe: Any = None
    _hasher: BackgroundHash | None = field(default=None, repr=False)

    @property
    def img2img_pipe(self) -> Any:
        return None if self.is_inpaint_model else self.base_pipe

    @property
    def inpaint_pipe(self) -> Any:
        """The inpaint pipeline, sharing the loaded weights (``from_pipe``: no reload)."""
        if self.is_inpaint_model:
            return self.base_pipe
        if self._inpaint_pipe is None:
            import diffusers

            class_name = self.family_info.inpaint_pipeline
            if class_name is None:
                raise ModelError(f"{self.family_info.label} models have no inpainting pipeline")
            # dtype: from_pipe casts every shared module to it (fp32 when not given)
            pipe = pipeline_from(getattr(diffusers, class_name), self.base_pipe, self.dtype)
            split_cpu_precision(pipe, "", self.device)  # from_pipe cast a bf16 denoiser back
            pipe.set_progress_bar_config(disable=True)
            self._inpaint_pipe = pipe
        return self._inpaint_pipe

    @property
    def family_info(self) -> Family:
        return family(self.family)

    @property
    def native_size(self) -> int:
        """The side (px) the model was trained at: UNet sample size × VAE scale factor; for
        transformer models the VAE's sample size (1024 for SD 3.5 and FLUX.1), else the family's."""
        unet = getattr(self.base_pipe, "unet", None)
        if unet is not None:
            return int(unet.config.sample_size) * int(self.base_pipe.vae_scale_factor)
        vae_size = getattr(self.base_pipe.vae.config, "sample_size", None)
        if isinstance(vae_size, int) and vae_size >= 64:
            return vae_size
        return self.family_info.native_size

    @property
    def size_multiple(self) -> int:
        """Work sizes are multiples of this: the VAE's scale factor (at least 8), times the
        transformer's patch size (SD 3.5) or the 2×2 latent packing (FLUX), and at least what
        the pipeline's image processor rounds to (Z-Image: scale factor × 2)."""
        scale = max(8, int(self.base_pipe.vae_scale_factor))
        processor = getattr(self.base_pipe, "image_processor", None)
        rounds_to = int(getattr(getattr(processor, "config", None), "vae_scale_factor", 1) or 1)
        if self.family_info.packed_latents:
            return max(scale * 2, rounds_to)
        transformer = getattr(self.base_pipe, "transformer", None)
        patch = getattr(transformer.config, "patch_size", 1) if transformer is not None else 1
        return max(scale * int(patch or 1), rounds_to)

    @property
    def hash(self) -> str:
        """The short model hash (see ``core.models.hashes``) if known yet, else ""; never waits."""
        return short_hash(self._hasher.value) if self._hasher is not None else ""

    def wait_for_hash(self, timeout: float | None = None, cancel: Cancelled | None = None) -> str:
        """The short model hash, waiting up to ``timeout`` s (None: until done) or until ``cancel``
        is cancelled; "" when not known by then, when hashing was cancelled, or with no file."""
        return short_hash(self._hasher.wait(timeout, cancel)) if self._hasher is not None else ""

    def cancel_hash(self) -> None:
        """Stop hashing (between two chunks); the model is being unloaded or the app quits."""
        if self._hasher is not None:
            self._hasher.cancel()
