"""List the known models, where each comes from and whether it loads here now."""

from __future__ import annotations

import argparse
import json

from srllm.commands.args import add_json
from srllm.models import DEFAULT_MODEL, list_models

NAME = "models"
HELP = "list known models and whether each is available on this machine"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options: JSON."""
    add_json(p, "the list")


def run(args: argparse.Namespace) -> int:
    """Print the known models and whether each loads here now."""
    rows = list_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':24} {'source':13} {'available':9}  description")
    for r in rows:
        star = "*" if r["name"] == DEFAULT_MODEL else " "
        print(f"{r['name']:23}{star} {r['source']:13} {'yes' if r['available'] else 'no':9}  {r['description']}")
    print("* default. Any hub id 'org/name' or local folder also works where the Hub or the folder is reachable.")
    return 0
