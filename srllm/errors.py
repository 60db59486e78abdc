"""Error types shown to users as one clear line (no traceback) by the CLI."""

from __future__ import annotations


class SrllmError(Exception):
    """Base class for errors caused by input, configuration or environment."""


def is_user_error(exc: BaseException) -> bool:
    from srllm.models import ModelUnavailableError
    from srllm.profiles import ProfileError

    return isinstance(exc, (SrllmError, ModelUnavailableError, ProfileError, FileNotFoundError))
