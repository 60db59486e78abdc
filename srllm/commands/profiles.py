"""Show the run profiles (smoke, cpu, paper), their settings and where each reads its data from."""

from __future__ import annotations

import argparse
import json

NAME = "profiles"
HELP = "show the run profiles and their settings"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="one profile to print in full")


def run(args: argparse.Namespace) -> int:
    from srllm.profiles import PROFILE_NAMES, get_profile

    if args.name:
        print(json.dumps(get_profile(args.name).to_dict(), indent=2))
        return 0
    for n in PROFILE_NAMES:
        p = get_profile(n)
        print(f"{n:6} model={p.model:24} {p.description}")
        for name, src in p.data.sources().items():
            print(f"{'':6} data.{name:8} {src.describe()}")
    return 0
