"""Check data files and list the bundled samples.

  srllm data validate FILE [--format cmd|authors-csv|toxigen|jobs|annotations] [--map OLD=NEW ...]
  srllm data samples

``validate`` loads FILE as training and scoring would, prints rows read, kept
and excluded by reason, and exits 0; on bad input it prints one line naming the
file, row and field, and exits 1.
"""

from __future__ import annotations

import argparse
import json

NAME = "data"
HELP = "validate a data file or list the bundled samples"


def _mapping(items: list[str] | None) -> dict[str, str]:
    from srllm.errors import SrllmError

    out: dict[str, str] = {}
    for item in items or []:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise SrllmError(f"--map expects OLD=NEW (a file column and a canonical field), got {item!r}")
        out[old.strip()] = new.strip()
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    v = sub.add_parser("validate", help="load a file, print what was kept and excluded")
    v.add_argument("file", help="a .csv, .tsv, .jsonl or .parquet file")
    v.add_argument("--format", choices=("cmd", "authors-csv", "toxigen", "jobs", "annotations"), default=None,
                   help="the file's layout (detected from its columns when omitted)")
    v.add_argument("--map", dest="mapping", action="append", metavar="OLD=NEW",
                   help="rename a file column to a canonical field (repeatable), e.g. --map sentence=text")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    sub.add_parser("samples", help="list the bundled samples with their sizes")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "validate":
        from srllm.data import validate_file

        report = validate_file(args.file, format=args.format, mapping=_mapping(args.mapping))
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
        return 0
    if args.data_command == "samples":
        from srllm.data import list_samples

        rows = list_samples()
        print(f"{'name':13} {'file':26} {'format':12} {'rows':>6} {'size':>9}  status")
        for r in rows:
            rows_s = "-" if r["rows"] is None else str(r["rows"])
            size = "-" if r["bytes"] is None else f"{r['bytes'] / 1024:.1f} KiB"
            print(f"{r['name']:13} {r['file']:26} {r['format']:12} {rows_s:>6} {size:>9}  {r['status']}")
        return 0
    print("usage: srllm data {validate FILE | samples}; see srllm data --help")
    return 2
