"""Rewrite every text of a CSV/JSONL/Parquet file with one method of the paper and write a copy with the rewrites."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

NAME = "generate"
HELP = "rewrite the texts of a file with SR_LLM, a prompting baseline or another method of the paper"

OUT_SUFFIXES = (".csv", ".jsonl")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from srllm.generation.baselines import BASELINES

    p.add_argument("--input", required=True, help="CSV, TSV, JSONL or Parquet file with a text column")
    p.add_argument("--out", required=True, help="output file (.csv or .jsonl): the input rows plus 'rewrite' and 'method'")
    p.add_argument("--method", default="sr_llm", choices=sorted(BASELINES),
                   help="sr_llm (default; instruction fine-tuned adapter), prefix, zero_shot, two_shot, five_shot, "
                        "original, or an encoder-decoder baseline (needs the Hub)")
    p.add_argument("--adapter", help="trained adapter folder (default for sr_llm/prefix: the profile's own run, found by its settings hash)")
    p.add_argument("--profile", default="cpu", help="run profile: smoke, cpu (default) or paper")
    p.add_argument("--quiet", action="store_true", help="no progress bars (weight loading too), warnings or log lines")
    p.add_argument("--model", help="base model name (default: the profile's model)")
    p.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
    p.add_argument("--limit", type=int, help="only the first N rows")
    p.add_argument("--batch-size", type=int, help="override the profile's generation batch size")
    p.add_argument("--max-new-tokens", type=int, help="override the profile's max new tokens")
    p.add_argument("--seed", type=int, help="seed for drawing k-shot demonstrations (default: the profile's)")


def read_texts(path: str | Path, column: str = "text", limit: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of a data file and the texts of ``column``; any unreadable or empty row is an error naming it."""
    from srllm.data.readers import read_rows
    from srllm.data.report import LoadReport
    from srllm.errors import SrllmError

    path = Path(path)
    report = LoadReport(source=str(path), format="texts")
    columns, rows = read_rows(path, report)
    if report.exclusions:
        bad = ", ".join(f"{report.row_unit} {e.row} ({e.reason}{': ' + e.detail if e.detail else ''})"
                        for e in report.exclusions[:5])
        more = f" and {len(report.exclusions) - 5} more" if len(report.exclusions) > 5 else ""
        raise SrllmError(f"{path}: unreadable rows: {bad}{more}")
    if column not in columns:
        raise SrllmError(f"{path}: no column {column!r}; columns are {columns}; choose one with --text-column")
    if limit is not None:
        if limit <= 0:
            raise SrllmError("--limit must be a positive integer")
        rows = rows[:limit]
    texts = []
    for n, row in rows:
        v = row.get(column)
        if not isinstance(v, str) or not v.strip():
            raise SrllmError(f"{path}: {report.row_unit} {n}, field {column!r}: empty or not text ({v!r})")
        texts.append(v)
    if not texts:
        raise SrllmError(f"{path}: no rows to rewrite")
    return [r for _, r in rows], texts


def write_rows(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as CSV or JSONL by the file's suffix, atomically."""
    from srllm.cache import atomic_write_text
    from srllm.errors import SrllmError

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))
    elif suffix == ".csv":
        import pandas as pd

        atomic_write_text(path, pd.DataFrame(rows).to_csv(index=False))
    else:
        raise SrllmError(f"{path}: output must end in {' or '.join(OUT_SUFFIXES)}")


def run(args: argparse.Namespace) -> int:
    from srllm.generation.baselines import get_baseline, run_baseline
    from srllm.errors import SrllmError
    from srllm.generation import how_to_train, profile_adapter
    from srllm.profiles import get_profile

    if Path(args.out).suffix.lower() not in OUT_SUFFIXES:
        raise SrllmError(f"{args.out}: output must end in {' or '.join(OUT_SUFFIXES)}")
    overrides = {}
    if args.batch_size is not None:
        overrides["generate.batch_size"] = args.batch_size
    if args.max_new_tokens is not None:
        overrides["generate.max_new_tokens"] = args.max_new_tokens
    profile = get_profile(args.profile, **overrides)
    baseline = get_baseline(args.method)
    model = args.model or profile.model
    rows, texts = read_texts(args.input, args.text_column, args.limit)

    adapter = args.adapter
    if adapter is not None and not Path(adapter).is_dir():
        raise SrllmError(f"--adapter {adapter}: no such folder")
    if baseline.family in ("prefix", "instruction") and adapter is None:
        run_prof = profile.replace(model=model) if model != profile.model else profile
        run_method = "prefix" if baseline.family == "prefix" else None
        found, run_dir = profile_adapter(run_prof, run_method)
        if found is None:
            raise SrllmError(f"method {args.method!r} needs a trained adapter for {model}: "
                             f"{how_to_train(run_prof, run_method)}; or pass --adapter DIR")
        adapter = str(found)
        print(f"generate: using the profile's run {run_dir.name} (adapter {adapter})", file=sys.stderr)

    result = run_baseline(args.method, texts, profile=profile, model_name=args.model,
                          adapter_dir=adapter, seed=args.seed)
    if not result.ok:
        raise SrllmError(f"method {args.method!r} was not run: {result.reason}")
    out_rows = [dict(r, rewrite=o, method=args.method) for r, o in zip(rows, result.outputs)]
    write_rows(args.out, out_rows)
    print(f"generate: wrote {len(out_rows)} rewrites ({baseline.label}) to {args.out}", file=sys.stderr)
    return 0
