"""Check data files, list the bundled samples, show and fetch a profile's datasets::

  srllm data validate --input FILE_OR_FOLDER [--format cmd|authors-csv|toxigen|jobs|annotations] [--map OLD=NEW ...]
                                     [--split NAME]
  srllm data samples [--json]
  srllm data sources [--profile NAME] [--json]
  srllm data fetch [--profile NAME] [--only cmd|toxigen] [--force] [--json]

``validate`` loads FILE as training and scoring would, prints rows read, kept
and excluded by reason, and exits 0; on bad input it prints one line naming the
file, row and field, and exits 2. A folder is read as a dataset: a copy made by
``fetch``, a ``datasets`` dataset saved with ``save_to_disk``, or a folder in the
Hub's layout (``--split`` picks a split when it has several).

``fetch`` downloads the profile's Hub datasets once into the cache
(``$SRLLM_CACHE/data``) with the commit they came from, so that a machine without
internet can run the profile from a copy fetched elsewhere (copy that folder over).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from srllm.commands.args import add_input, add_json, add_profile, input_path
from srllm.data import list_samples, validate_file
from srllm.data.sources import describe_sources, fetch, load_folder
from srllm.errors import SrllmError
from srllm.profiles import resolve

NAME = "data"
HELP = "validate a data file, list the bundled samples, show or fetch a profile's datasets"


def _mapping(items: list[str] | None) -> dict[str, str]:
    """``--map OLD=NEW`` items as a column mapping; a malformed item is a :class:`SrllmError`."""
    out: dict[str, str] = {}
    for item in items or []:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise SrllmError(f"--map expects OLD=NEW (a file column and a canonical field), got {item!r}")
        out[old.strip()] = new.strip()
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Actions ``validate``, ``samples``, ``sources`` and ``fetch``, each with its options."""
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    v = sub.add_parser("validate", help="load a file or dataset folder, print what was kept and excluded")
    add_input(v, "a .csv, .tsv, .jsonl or .parquet file, or a dataset folder", legacy_positional=True)
    v.add_argument("--format", choices=("cmd", "authors-csv", "toxigen", "jobs", "annotations"), default=None,
                   help="the file's layout (detected from its columns when omitted)")
    v.add_argument("--map", dest="mapping", action="append", metavar="OLD=NEW",
                   help="rename a file column to a canonical field (repeatable), e.g. --map sentence=text")
    v.add_argument("--split", help="for a dataset folder with several splits: the split to read")
    add_json(v, "the report")
    sm = sub.add_parser("samples", help="list the bundled samples with their sizes")
    add_json(sm, "the list")
    s = sub.add_parser("sources", help="show where a profile reads each dataset from (offline)")
    add_profile(s)
    add_json(s, "the sources")
    f = sub.add_parser("fetch", help="download a profile's Hub datasets once into the cache, with their revision")
    add_profile(f, default="paper")
    f.add_argument("--only", choices=("cmd", "toxigen"), action="append", help="fetch only this dataset")
    f.add_argument("--force", action="store_true", help="download again even when a copy is in the cache")
    add_json(f, "what was fetched")


def _validate(args: argparse.Namespace) -> int:
    given = input_path(args)
    path = Path(given)
    if path.is_dir():
        if args.mapping:
            raise SrllmError("column mapping is not supported for dataset folders; validate an exported file")
        _, report, info = load_folder(path, split=args.split, format=args.format)
        if args.json:
            print(json.dumps({**report.to_dict(), "folder": info}, indent=2, default=str))
        else:
            print(report.summary())
            if info.get("hub_id"):
                print(f"fetched copy of {info['hub_id']} at revision {info.get('revision')}; "
                      f"splits {info.get('splits')}")
        return 0
    report = validate_file(given, format=args.format, mapping=_mapping(args.mapping))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; without one, print the usage and return 2."""
    if args.data_command == "validate":
        return _validate(args)
    if args.data_command == "samples":
        rows = list_samples()
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
            return 0
        print(f"{'name':13} {'file':26} {'format':12} {'rows':>6} {'size':>9}  status")
        for r in rows:
            rows_s = "-" if r["rows"] is None else str(r["rows"])
            size = "-" if r["bytes"] is None else f"{r['bytes'] / 1024:.1f} KiB"
            print(f"{r['name']:13} {r['file']:26} {r['format']:12} {rows_s:>6} {size:>9}  {r['status']}")
        return 0
    if args.data_command == "sources":
        rows = describe_sources(resolve(args.profile))
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
            return 0
        for row in rows:
            copy = row["copy"]
            state = ("" if row["kind"] != "hub" else
                     f"; fetched copy at revision {copy['revision']} ({copy['splits']})" if copy else
                     "; no fetched copy: will download (network) or stop if the Hub is unreachable")
            print(f"{row['dataset']:8} {row['source']}{state}")
        return 0
    if args.data_command == "fetch":
        done = fetch(resolve(args.profile), tuple(args.only) if args.only else None, force=args.force)
        if args.json:
            print(json.dumps(done, indent=2, default=str))
            return 0
        for d in done:
            if not d["fetched"]:
                print(f"{d['dataset']:8} not a Hub source ({d['why']}); nothing to fetch")
            else:
                print(f"{d['dataset']:8} {d['hub_id']}" + (f" ({d['config']})" if d.get("config") else "")
                      + f" at revision {d['revision']}: splits {d['splits']} -> $SRLLM_CACHE/{d['copy']}")
        return 0
    print("usage: srllm data {validate --input FILE | samples | sources | fetch}; see srllm data --help")
    return 2
