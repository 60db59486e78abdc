"""Score a CSV, TSV, JSONL or Parquet file of texts for safety and write a scored copy (.csv or .jsonl).

Adds the columns ``p_unsafe``, ``flag``, ``scorer`` and ``is_proxy`` to every
row (no row is dropped), prints the unsafe rate, and writes the scorer's
metadata (including the offline proxy's bias-classifier accuracy) next to the
output as ``<out>.meta.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from srllm.cache import atomic_write_text
from srllm.commands.args import add_input, add_json, add_no_cache, add_profile, input_path
from srllm.data.readers import read_texts
from srllm.data.writers import check_writable, write_rows
from srllm.errors import SrllmError
from srllm.profiles import resolve
from srllm.scoring import available_scorers, get_scorer, unsafe_rate

NAME = "score"
HELP = "score a file of texts (--input) with a safety scorer and write a scored copy"
ADDED = ("p_unsafe", "flag", "scorer", "is_proxy")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--input FILE``, the scorer, the profile, the output and the cache and report options."""
    add_input(p, "CSV, TSV, JSONL or Parquet file with a text column", legacy_positional=True)
    p.add_argument("--scorer", default="offline-proxy",
                   help="offline-proxy (default), perspective, openai-moderation or hf:<model id>")
    add_profile(p, what="its seed trains the offline proxy's bias classifier")
    p.add_argument("--text-column", default="text", help="column (CSV) or field (JSONL) holding the text")
    p.add_argument("--out", help="output .csv or .jsonl (default: <input stem>.scored<suffix> next to the input)")
    p.add_argument("--threshold", type=float, default=None, help="flag when p_unsafe >= T (default 0.5)")
    p.add_argument("--batch-size", type=int, default=None, help="texts per model call or request")
    add_no_cache(p, "the score cache")
    add_json(p, "the summary (scorer, counts, unsafe rate, output)")
    p.add_argument("--list-scorers", action="store_true", help="list scorers and whether each can run here")


def default_out(path: Path) -> Path:
    """``<stem>.scored<suffix>`` next to the input."""
    return path.with_name(f"{path.stem}.scored{path.suffix}")


def run(args: argparse.Namespace) -> int:
    """Score the file's texts, write the scored copy and its metadata, print the unsafe rate."""
    if args.list_scorers:
        rows = available_scorers()
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        for row in rows:
            print(f"{row['name']:28} {'yes' if row['available'] else 'no ':4} {row['reason']}")
        return 0
    if not input_path(args, required=False):
        raise SrllmError("give the file to score with --input FILE (or --list-scorers)")
    path = Path(input_path(args))
    rows, texts = read_texts(path, args.text_column, allow_empty=True)
    out = check_writable(args.out if args.out else default_out(path))
    kw: dict[str, Any] = {"use_cache": not args.no_cache}
    if args.threshold is not None:
        kw["threshold"] = args.threshold
    if args.batch_size:
        kw["batch_size"] = args.batch_size
    if args.scorer == "offline-proxy":
        kw["seed"] = resolve(args.profile).seed
    scorer = get_scorer(args.scorer, **kw)
    results = scorer.score(texts)
    clash = [c for c in ADDED if c in rows[0]]
    for row, res in zip(rows, results):
        row.update(p_unsafe=round(res.p_unsafe, 6), flag=bool(res.flag), scorer=scorer.name, is_proxy=scorer.is_proxy)
    write_rows(out, rows)
    meta = {**scorer.metadata, "input": str(path), "output": str(out), "n": len(results),
            "unsafe_rate": unsafe_rate(results), "computed": scorer.stats["computed"],
            "from_cache": scorer.stats["cached"]}
    atomic_write_text(out.with_name(out.name + ".meta.json"), json.dumps(meta, indent=2, default=str))
    n_flag = sum(r.flag for r in results)
    if args.json:
        print(json.dumps({"scorer": scorer.name, "is_proxy": scorer.is_proxy, "n": len(results), "flagged": n_flag,
                          "unsafe_rate": unsafe_rate(results), "threshold": scorer.threshold,
                          "computed": scorer.stats["computed"], "from_cache": scorer.stats["cached"],
                          "replaced_columns": clash, "output": str(out)}, indent=2, default=str))
        return 0
    label = " [PROXY: offline stand-in, not the paper's Perspective/OpenAI scores]" if scorer.is_proxy else ""
    if clash:
        print(f"note: replaced existing column(s) {', '.join(clash)} in the copy")
    print(f"scored {len(results)} texts with {scorer.name}{label}")
    print(f"unsafe rate: {100 * n_flag / len(results):.2f}% ({n_flag}/{len(results)}) at threshold {scorer.threshold}")
    print(f"computed {scorer.stats['computed']}, from cache {scorer.stats['cached']}; wrote {out}")
    return 0
