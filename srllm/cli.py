"""The ``srllm`` command line.

Each sub-command lives in its own module under :mod:`srllm.commands` and
exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
the options they share come from :mod:`srllm.commands.args`. Modules are
discovered at start-up, so adding a command never edits this file.

Every error a user can fix is a :class:`srllm.errors.SrllmError` (a bad file,
row or field, a profile value, a model that cannot be loaded here); :func:`main`
prints it as one line, ``srllm COMMAND: error: MESSAGE``, and exits with
:data:`USER_ERROR_EXIT` (2, as argparse does for a wrong option), never with a
traceback. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Iterator
from types import ModuleType

import srllm.commands as commands_pkg
from srllm.errors import is_user_error
from srllm.quiet import silence

USER_ERROR_EXIT = 2
INTERRUPTED_EXIT = 130


def command_modules() -> Iterator[ModuleType]:
    """The modules of :mod:`srllm.commands` that define a sub-command (``NAME`` and ``run``), by name."""
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"srllm.commands.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            yield mod


def build_parser() -> argparse.ArgumentParser:
    """The ``srllm`` parser with one sub-parser per command module."""
    parser = argparse.ArgumentParser(prog="srllm", description="Reproduce the SR_LLM study: data, training, "
                                     "safe rewriting, evaluation and the book.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "__doc__", None) or mod.HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def error_line(command: str | None, exc: BaseException) -> str:
    """The one line a user error is printed as: ``srllm COMMAND: error: MESSAGE`` (newlines folded)."""
    message = " ".join(part.strip() for part in str(exc).splitlines() if part.strip()) or type(exc).__name__
    return f"srllm {command}: error: {message}" if command else f"srllm: error: {message}"


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (user errors: :data:`USER_ERROR_EXIT`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return USER_ERROR_EXIT
    if getattr(args, "quiet", False):  # every command's --quiet: no bars (weight loading too), warnings, log lines
        silence()
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; finished work is kept in the cache and a rerun resumes", file=sys.stderr)
        return INTERRUPTED_EXIT
    except Exception as exc:
        if is_user_error(exc):
            print(error_line(args.command, exc), file=sys.stderr)
            return USER_ERROR_EXIT
        raise


if __name__ == "__main__":
    sys.exit(main())
