"""One switch for execution noise: progress bars, library warnings and log lines.

Two users share it. The book runner (:mod:`srllm.book`) starts every notebook kernel
with :data:`QUIET_ENV`, so no notebook needs a cell of its own to silence libraries;
the command line calls :func:`silence` when a command is given ``--quiet``, which also
stops the weight-loading bar that transformers draws when a model is loaded.
Terminal runs without ``--quiet`` keep their bars.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: Environment read by the libraries at import time. tqdm reads ``TQDM_*`` as defaults
#: for every bar (tqdm >= 4.66); transformers and the hub client share the hub's switch,
#: which also covers transformers' "Loading weights" bar; datasets has its own.
QUIET_ENV: dict[str, str] = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "DATASETS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONWARNINGS": "ignore",
    "SRLLM_QUIET": "1",
}

_NOISY_LOGGERS = ("transformers", "datasets", "peft", "trl", "accelerate", "bitsandbytes", "sentence_transformers",
                  "huggingface_hub", "torch", "urllib3", "filelock")


@contextmanager
def quiet_environment() -> Iterator[dict[str, str]]:
    """Set :data:`QUIET_ENV` for the duration (child processes such as notebook kernels inherit it)."""
    saved = {k: os.environ.get(k) for k in QUIET_ENV}
    os.environ.update(QUIET_ENV)
    try:
        yield dict(QUIET_ENV)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def silence() -> None:
    """Silence progress bars, warnings and library log lines in this process (``--quiet``).

    Sets :data:`QUIET_ENV` for libraries imported later and switches off the bars of
    libraries already imported (transformers keeps its own flag once imported).
    """
    os.environ.update(QUIET_ENV)
    warnings.simplefilter("ignore")
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    import sys

    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()


def is_quiet() -> bool:
    """True inside the book runner's kernels or after :func:`silence`."""
    return os.environ.get("SRLLM_QUIET", "") == "1"


#: Library notices that mislead a user of this project, by logger name and message start.
#: bitsandbytes (on CPUs with AVX512-BF16) tries at import to fetch an optional 4-bit
#: kernel from the Hugging Face Hub through the ``kernels`` package and, failing, tells
#: the user to ``pip install kernels``; without it bitsandbytes runs its own CPU path,
#: which is what every result here was computed with, so there is nothing to do.
MISLEADING_NOTICES: dict[str, tuple[str, ...]] = {
    "bitsandbytes.backends.cpu.ops": ("Failed to load CPU gemm_4bit_forward from kernels-community",),
}


#: Deprecation warnings addressed to another library's authors, not to a user of this project:
#: peft 0.21 reads transformers 5's deprecated ``is_gradient_checkpointing`` whenever it wraps a model.
LIBRARY_DEPRECATIONS: tuple[str, ...] = (r"`is_gradient_checkpointing` is deprecated",)


class _DropNotices(logging.Filter):
    def __init__(self, starts: tuple[str, ...]) -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


def drop_misleading_notices() -> None:
    """Filter :data:`MISLEADING_NOTICES` out of their loggers and ignore :data:`LIBRARY_DEPRECATIONS`
    (idempotent; every other message and warning passes).

    Called when ``srllm`` is imported, before any library that emits them at import time.
    """
    for name, starts in MISLEADING_NOTICES.items():
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropNotices) for f in log.filters):
            log.addFilter(_DropNotices(starts))
    for message in LIBRARY_DEPRECATIONS:
        warnings.filterwarnings("ignore", message=message, category=FutureWarning)

