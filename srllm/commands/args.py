"""The options every ``srllm`` command shares, added the same way everywhere.

One helper per option, so that ``--input``, ``--profile``, ``--json``,
``--no-cache`` and ``--quiet`` have the same name, choices and meaning in every
command (issue 12, item 4). The names that older versions used for the input
file (a positional ``FILE``, ``--data``, ``--predictions``) are still parsed, as
hidden aliases of ``--input``; :func:`input_path` merges them.
"""

from __future__ import annotations

import argparse
from typing import Any

from srllm.errors import SrllmError
from srllm.profiles import DEFAULT_PROFILE, PROFILE_NAMES

LEGACY_POSITIONAL = "legacy_input"  # dest of the hidden positional FILE some commands took before --input


def add_profile(p: argparse.ArgumentParser, *, default: str = DEFAULT_PROFILE, what: str = "") -> None:
    """``--profile NAME`` restricted to the known profiles (``smoke``, ``cpu``, ``paper``)."""
    extra = f"; {what}" if what else ""
    p.add_argument("--profile", default=default, choices=PROFILE_NAMES,
                   help=f"run profile: {', '.join(PROFILE_NAMES)} (default {default}){extra}")


def add_input(p: argparse.ArgumentParser, help: str, *, legacy_positional: bool = False,
              legacy_options: tuple[str, ...] = (), group: Any = None) -> None:
    """``--input FILE``, the one way to name the file a command reads.

    ``legacy_positional`` also accepts the file as a hidden positional argument and
    ``legacy_options`` (e.g. ``("--data",)``) as hidden option names, as earlier
    versions did; :func:`input_path` returns whichever was given. ``group`` puts
    ``--input`` into a (mutually exclusive) group instead of the parser itself.
    """
    (group or p).add_argument("--input", metavar="FILE", help=help)
    for name in legacy_options:
        (group or p).add_argument(name, dest="input", metavar="FILE", help=argparse.SUPPRESS)
    if legacy_positional:
        p.add_argument(LEGACY_POSITIONAL, nargs="?", metavar="FILE", help=argparse.SUPPRESS)


def input_path(args: argparse.Namespace, *, required: bool = True) -> str | None:
    """The input file named by ``--input`` or by a hidden legacy alias; a :class:`SrllmError` when
    ``required`` and none was given, or when two different files were."""
    given = getattr(args, "input", None)
    legacy = getattr(args, LEGACY_POSITIONAL, None)
    if given and legacy and given != legacy:
        raise SrllmError(f"two input files given ({legacy} and --input {given}); give one, with --input FILE")
    path = given or legacy
    if required and not path:
        raise SrllmError("give the input file with --input FILE")
    return path


def add_json(p: argparse.ArgumentParser, what: str = "the report") -> None:
    """``--json``: print the command's report as JSON instead of text."""
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def add_no_cache(p: argparse.ArgumentParser, what: str = "the cache") -> None:
    """``--no-cache``: neither read nor write the command's cache."""
    p.add_argument("--no-cache", action="store_true", help=f"neither read nor write {what}")


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bars (weight loading too), library warnings or log lines."""
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars (weight loading too), warnings or log lines")


__all__ = ["add_input", "add_json", "add_no_cache", "add_profile", "add_quiet", "input_path"]
