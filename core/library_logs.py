"""Library chatter into the log file, not onto the terminal.

diffusers, transformers and huggingface_hub print warnings that say nothing to a user ("modules
that should be kept in float32", deprecation notes) and progress bars of their own ("Loading
pipeline components…") on stderr. :func:`quiet_libraries` sends their log records to
``<user log dir>/img2img-studio.log`` instead and turns their progress bars off: the engine
reports loading and steps itself (``ModelLoading``, ``StepPreview``), which the window shows on
its progress bar and the CLI on its progress line.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import logging.handlers
import threading
from pathlib import Path

from core.user_dirs import user_log_dir

LOG_FILE_NAME = "img2img-studio.log"
LIBRARIES = ("diffusers", "transformers", "huggingface_hub", "accelerate", "peft")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_lock = threading.Lock()
_handler: logging.handlers.RotatingFileHandler | None = None


def log_file() -> Path:
    """The log file's path (in the user log folder, ``IMG2IMG_STUDIO_LOG_DIR`` moves it)."""
    return user_log_dir(create=False) / LOG_FILE_NAME


def quiet_libraries() -> Path:
    """Route the libraries' log records to the log file and turn their progress bars off.

    Safe to call again (each Engine does): a moved log folder gets a new handler. Imports the
    libraries' logging modules, so call it where torch and diffusers load anyway. Returns the
    log file's path.
    """
    path = log_file()
    with _lock:
        handler = _file_handler(path)
        _silence_default_handlers()
        for name in LIBRARIES:
            logger = logging.getLogger(name)
            for old in list(logger.handlers):
                if type(old) is logging.StreamHandler:  # the library's own, onto stderr
                    logger.removeHandler(old)
            if handler not in logger.handlers:
                logger.addHandler(handler)
            logger.propagate = False  # nothing reaches the root logger's stderr either
    return path


def _file_handler(path: Path) -> logging.Handler:
    global _handler
    if _handler is not None and Path(_handler.baseFilename) == path.absolute():
        return _handler
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=1_000_000, backupCount=2, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    if _handler is not None:  # the folder moved (tests): the old file is no longer written
        for name in LIBRARIES:
            logging.getLogger(name).removeHandler(_handler)
        _handler.close()
    _handler = handler
    return handler


def _silence_default_handlers() -> None:
    """The libraries' own switches: no default stderr handler, no tqdm progress bars."""
    for name in ("diffusers", "transformers"):
        with contextlib.suppress(ImportError):
            library_logging = importlib.import_module(f"{name}.utils.logging")
            library_logging.disable_default_handler()
            library_logging.disable_progress_bar()
    with contextlib.suppress(ImportError):
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
