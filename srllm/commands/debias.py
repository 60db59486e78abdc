"""Rewrite one text safely with the default model and the newest trained adapter."""

from __future__ import annotations

import argparse
import sys

NAME = "debias"
HELP = "rewrite one text safely (newest trained adapter; 2-shot prompting when none is trained)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="the text to rewrite")
    p.add_argument("--adapter", help="trained adapter folder (default: the newest trained run for the model)")
    p.add_argument("--profile", default="cpu", help="run profile: smoke, cpu (default) or paper")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from srllm.errors import SrllmError
    from srllm.generate import debias_detail

    if args.adapter is not None and not Path(args.adapter).is_dir():
        raise SrllmError(f"--adapter {args.adapter}: no such folder")
    res = debias_detail(args.text, args.adapter, profile=args.profile)
    if res.adapter_dir is None:
        how = f"base model {res.model} with a 2-shot prompt (no trained adapter found)"
    else:
        how = f"{res.model} with the {'prefix-tuned' if res.method == 'prefix' else 'instruction fine-tuned'} adapter {res.adapter_dir}"
    print(f"debias: used {how}", file=sys.stderr)
    if not res.text:
        print("debias: the model's rewrite is empty", file=sys.stderr)
    print(res.text)
    return 0
