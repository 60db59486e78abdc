"""Rewrite one text safely with the default model and the profile's SR_LLM run (found by its settings)."""

from __future__ import annotations

import argparse
import sys

NAME = "debias"
HELP = "rewrite one text safely (the profile's SR_LLM run; 2-shot prompting until it is trained)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="the text to rewrite")
    p.add_argument("--adapter", help="trained adapter folder (default: the profile's SR_LLM run, found by its settings hash)")
    p.add_argument("--profile", default="cpu", help="run profile: smoke, cpu (default) or paper")
    p.add_argument("--quiet", action="store_true", help="no progress bars (weight loading too), warnings or log lines")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from srllm.errors import SrllmError
    from srllm.generation import debias_detail

    if args.adapter is not None and not Path(args.adapter).is_dir():
        raise SrllmError(f"--adapter {args.adapter}: no such folder")
    res = debias_detail(args.text, args.adapter, profile=args.profile)
    if res.adapter_dir is None:
        how = f"base model {res.model} with a 2-shot prompt (no trained adapter found: {res.note})"
    else:
        kind = "prefix-tuned" if res.method == "prefix" else "instruction fine-tuned"
        source = f"the profile's SR_LLM run {res.run}" if res.run else "the adapter you named"
        how = f"{res.model} with {source} ({kind} adapter {res.adapter_dir})"
    print(f"debias: used {how}", file=sys.stderr)
    if not res.text:
        print("debias: the model's rewrite is empty", file=sys.stderr)
    print(res.text)
    return 0
