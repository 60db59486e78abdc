"""Rewrite one text safely with the profile's SR_LLM run (found by its settings hash), or with a
2-shot prompt until that run is trained. The same code as ``srllm generate --text TEXT``."""

from __future__ import annotations

import argparse

from srllm.commands.generate import add_text_options, run_text

NAME = "debias"
HELP = "rewrite one text safely (= generate --text: the profile's SR_LLM run; 2-shot prompting until it is trained)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The text (positional) and the one-text options of ``srllm generate --text``."""
    p.add_argument("text", help="the text to rewrite")
    add_text_options(p)
    p.set_defaults(method=None)


def run(args: argparse.Namespace) -> int:
    """Rewrite ``args.text``: exactly :func:`srllm.commands.generate.run_text`."""
    return run_text(args)
