"""Check in about a minute that this installation can run the workshop, and say what is missing."""

from __future__ import annotations

import argparse
import json

from srllm.commands.args import add_json, add_profile, add_quiet
from srllm.doctor import healthy, run_checks

NAME = "doctor"
HELP = "check that the model loads, the offline scorer answers and one text is rewritten (about a minute)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options: profile, JSON, quiet."""
    add_profile(p, what="its model is checked (cpu is the workshop's)")
    add_json(p, "the checks")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    """Run the checks and print them; 0 when the installation is ready, else 1."""
    checks = run_checks(args.profile)
    ok = healthy(checks)
    if args.json:
        print(json.dumps({"ok": ok, "checks": [c.to_dict() for c in checks]}, indent=2))
        return 0 if ok else 1
    mark = {True: "ok  ", False: "FAIL", None: "--  "}
    for c in checks:
        print(f"[{mark[c.ok]}] {c.name:28} {c.detail}" + (f"  ({c.seconds:.1f} s)" if c.seconds >= 0.1 else ""))
    missing = [c for c in checks if c.fix and (c.ok is False or not c.required)]
    if missing:
        print("\nwhat is missing:")
        for c in missing:
            print(f"  - {c.name}: {c.fix}")
    print("\nready for the workshop" if ok else "\nNOT ready: fix the FAIL lines above, then run `srllm doctor` again")
    return 0 if ok else 1
