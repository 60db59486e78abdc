"""Execute every notebook with papermill (cached by inputs) and build the HTML book."""

from __future__ import annotations

import argparse
import json

from srllm.book import build_book
from srllm.commands.args import add_json, add_profile
from srllm.data.sources import ensure_sources
from srllm.profiles import resolve

NAME = "book"
HELP = "execute the notebooks for a profile and build the HTML book (_build/html/index.html)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options: profile, which notebooks, force, HTML or not, strict warnings, JSON."""
    add_profile(p)
    p.add_argument("--only", nargs="*", help="execute only notebooks whose name contains one of these")
    p.add_argument("--force", action="store_true", help="re-execute notebooks even when nothing changed")
    p.add_argument("--no-html", action="store_true", help="execute notebooks but skip jupyter-book")
    p.add_argument("--strict", action="store_true", help="treat Sphinx warnings (broken references) as errors")
    add_json(p, "the stage timings and the book's path")


def run(args: argparse.Namespace) -> int:
    """Check the profile's data, execute the notebooks, build the HTML; print the stage timings."""
    # The profile's data first (issue 15): a missing Hub dataset stops here with one message, not mid-notebook.
    ensure_sources(resolve(args.profile))
    result = build_book(args.profile, only=args.only, force=args.force, build_html=not args.no_html,
                        strict=args.strict)
    if args.json:
        print(json.dumps({"profile": args.profile, "html": None if args.no_html else str(result.html_index),
                          "timings": [{"stage": t.stage, "seconds": t.seconds, "cached": t.cached}
                                      for t in result.timings]}, indent=2))
        return 0
    for t in result.timings:
        print(f"  {t.stage:32} {t.seconds:8.1f} s {'(cached)' if t.cached else ''}")
    if not args.no_html:
        print(f"book: {result.html_index}")
    return 0
