"""Print what a profile will run, before it runs: every stage's rows, tokens, optimizer steps,
estimated time and peak memory (from the benchmark records), and which parts need the network.
Offline; downloads nothing (for example `srllm plan --profile paper`)."""

from __future__ import annotations

import argparse
import json

from srllm.commands.args import add_json, add_profile
from srllm.plan import build_plan, format_plan

NAME = "plan"
HELP = "show a profile's stages, sizes, estimated time and memory, and network use (offline)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options: profile, JSON, and whether to time a few training steps here."""
    add_profile(p)
    add_json(p, "the plan")
    p.add_argument("--measure", action="store_true",
                   help="also time 3 optimizer steps of each training method on this machine (needs the model "
                        "and the data here; downloads nothing)")


def run(args: argparse.Namespace) -> int:
    """Build the profile's plan (offline) and print it."""
    plan = build_plan(args.profile, measure=args.measure)
    print(json.dumps(plan, indent=2, default=str) if args.json else format_plan(plan))
    return 0
