"""Check in about a minute that this installation can run the workshop, and say what is missing."""

from __future__ import annotations

import argparse
import json

NAME = "doctor"
HELP = "check that the model loads, the offline scorer answers and one text is rewritten (about a minute)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"],
                   help="run profile whose model is checked (default cpu, the workshop's)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars or library warnings")


def run(args: argparse.Namespace) -> int:
    from srllm.doctor import healthy, run_checks

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
