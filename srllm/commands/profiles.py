"""Show the run profiles (smoke, cpu, paper), their settings and where each reads its data from."""

from __future__ import annotations

import argparse
import json

from srllm.commands.args import add_json
from srllm.profiles import PROFILE_NAMES, resolve

NAME = "profiles"
HELP = "show the run profiles and their settings"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """An optional profile name to print in full; JSON."""
    p.add_argument("name", nargs="?", choices=PROFILE_NAMES, help="one profile to print in full (as JSON)")
    add_json(p, "every profile's settings")


def run(args: argparse.Namespace) -> int:
    """Print one profile in full, or every profile's model, purpose and data sources."""
    if args.name:
        print(json.dumps(resolve(args.name).to_dict(), indent=2))
        return 0
    if args.json:
        print(json.dumps({n: resolve(n).to_dict() for n in PROFILE_NAMES}, indent=2, default=str))
        return 0
    for n in PROFILE_NAMES:
        p = resolve(n)
        print(f"{n:6} model={p.model:24} {p.description}")
        for name, src in p.data.sources().items():
            print(f"{'':6} data.{name:8} {src.describe()}")
    return 0
