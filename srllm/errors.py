"""The project's one error hierarchy: errors the command line shows as one clear line (no traceback).

The bottom layer of the package: it imports nothing from ``srllm``, so every
module can raise these without an import cycle. Everything a user can fix (a
bad input file, row or field, a profile value, a model that cannot be loaded
here) is a :class:`SrllmError`; the CLI catches that one class.
"""

from __future__ import annotations


class SrllmError(Exception):
    """Base class for errors caused by input, configuration or environment."""


class ProfileError(SrllmError, ValueError):
    """A profile value is out of range; the message names the field.

    Also a ``ValueError``, as before the hierarchy was unified, so callers that
    catch ``ValueError`` keep working.
    """


class ModelUnavailableError(SrllmError, RuntimeError):
    """A model cannot be loaded on this machine now (for example: no Hub access).

    Also a ``RuntimeError``, as before the hierarchy was unified.
    """


class FieldError(SrllmError, ValueError):
    """A single cell of a data file is invalid; the loader adds the file and row to the message.

    ``field`` names the field. Also a ``ValueError``, as before the hierarchy was unified.
    """

    def __init__(self, field_name: str, message: str):
        super().__init__(f"field '{field_name}' {message}")
        self.field = field_name


def is_user_error(exc: BaseException) -> bool:
    """True for errors the CLI reports as one line: every :class:`SrllmError` and a missing file
    (``FileNotFoundError`` from a library that opened a path the user gave)."""
    return isinstance(exc, (SrllmError, FileNotFoundError))
