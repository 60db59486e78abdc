"""Execute every notebook with papermill (cached by inputs) and build the HTML book."""

from __future__ import annotations

import argparse

NAME = "book"
HELP = "execute the notebooks for a profile and build the HTML book (_build/html/index.html)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="cpu", help="run profile: smoke, cpu (default) or paper")
    p.add_argument("--only", nargs="*", help="execute only notebooks whose name contains one of these")
    p.add_argument("--force", action="store_true", help="re-execute notebooks even when nothing changed")
    p.add_argument("--no-html", action="store_true", help="execute notebooks but skip jupyter-book")
    p.add_argument("--strict", action="store_true", help="treat Sphinx warnings (broken references) as errors")


def run(args: argparse.Namespace) -> int:
    from srllm.book import build_book
    from srllm.data.sources import ensure_sources
    from srllm.profiles import get_profile

    # The profile's data first (issue 15): a missing Hub dataset stops here with one message, not mid-notebook.
    ensure_sources(get_profile(args.profile))
    result = build_book(args.profile, only=args.only, force=args.force, build_html=not args.no_html,
                        strict=args.strict)
    for t in result.timings:
        print(f"  {t.stage:32} {t.seconds:8.1f} s {'(cached)' if t.cached else ''}")
    if not args.no_html:
        print(f"book: {result.html_index}")
    return 0
