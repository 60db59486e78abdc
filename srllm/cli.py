"""The ``srllm`` command line.

Each sub-command lives in its own module under :mod:`srllm.commands` and
exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are discovered at start-up, so adding a command never edits this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import srllm.commands as commands_pkg


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback."""


def _command_modules():
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"srllm.commands.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            yield mod


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srllm", description="Reproduce the SR_LLM study: data, training, "
                                     "safe rewriting, evaluation and the book.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "__doc__", None) or mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    if getattr(args, "quiet", False):  # every command's --quiet: no bars (weight loading too), warnings, log lines
        from srllm.quiet import silence

        silence()
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; finished work is kept in the cache and a rerun resumes", file=sys.stderr)
        return 130
    except Exception as exc:  # known user-facing errors print one clear line
        from srllm.errors import is_user_error

        if is_user_error(exc):
            print(f"srllm {args.command}: error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
