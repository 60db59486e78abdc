"""Measure the built book's executed pages in Chromium at 1280 px (for a cpu or paper build).

The smoke build is checked by tests/test_book_build.py; after ``make book`` run

    PYTHONPATH=. .venv/bin/python tests/check_pages.py

to print, for every executed page: its height in px, progress bars, library warnings,
log lines, paths of this machine and table cells with 5+ decimals (the acceptance
numbers of issue 13). Exits 1 when any page has a problem or is taller than 15,000 px.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_book_build import _LONG_DECIMAL, _NOISE, _page_report  # noqa: E402

from srllm.book import machine_paths, repo_root  # noqa: E402


def main() -> int:
    import tempfile

    root = repo_root()
    paths = [p for p, _ in machine_paths(root)]
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for page in sorted((root / "_build" / "html" / "book" / "executed").glob("[0-9][0-9]_*.html")):
            text, cells, height, html, bars = _page_report(page, Path(tmp) / f"{page.stem}.png")
            noise = {what: len(p.findall(text)) for what, p in _NOISE.items()}
            found = {"html progress bars": bars, **noise, "machine paths": sum(html.count(p) for p in paths),
                     "5+-decimal cells": sum(1 for c in cells if _LONG_DECIMAL.match(c))}
            problems = {k: v for k, v in found.items() if v}
            bad += bool(problems) or height > 15000
            print(f"{page.name:40} {height:7,d} px  " + (", ".join(f"{k}: {v}" for k, v in problems.items()) or "clean"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
