"""Score a CSV or JSONL file of texts for safety and write a scored copy.

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

from srllm.errors import SrllmError

NAME = "score"
HELP = "score a CSV or JSONL of texts with a safety scorer and write a scored copy"
ADDED = ("p_unsafe", "flag", "scorer", "is_proxy")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="input .csv or .jsonl")
    p.add_argument("--scorer", default="offline-proxy",
                   help="offline-proxy (default), perspective, openai-moderation or hf:<model id>")
    p.add_argument("--text-column", default="text", help="column (CSV) or field (JSONL) holding the text")
    p.add_argument("--out", help="output .csv or .jsonl (default: <file stem>.scored<suffix> next to the input)")
    p.add_argument("--threshold", type=float, default=None, help="flag when p_unsafe >= T (default 0.5)")
    p.add_argument("--batch-size", type=int, default=None, help="texts per model call or request")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the score cache")
    p.add_argument("--list-scorers", action="store_true", help="list scorers and whether each can run here")


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".jsonl"):
        return suffix[1:]
    raise SrllmError(f"{path}: unsupported file type {suffix or '(none)'!r}; use .csv or .jsonl")


def read_table(path: Path, text_column: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows (dicts) and their texts. Every row must have a string in ``text_column``."""
    if not path.exists():
        raise SrllmError(f"{path}: no such file")
    kind = _kind(path)
    rows: list[dict[str, Any]] = []
    if kind == "csv":
        import pandas as pd

        try:  # strings throughout, so that the copy keeps every other cell exactly as written
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise SrllmError(f"{path}: cannot read as CSV: {str(exc).strip().splitlines()[0]}") from None
        if text_column not in df.columns:
            raise SrllmError(f"{path}: no column {text_column!r}; columns are: {', '.join(map(str, df.columns))} "
                             f"(choose one with --text-column)")
        rows = df.to_dict("records")
        line_of = {i: i + 2 for i in range(len(rows))}  # header is line 1
    else:
        line_of = {}
        with open(path, encoding="utf-8-sig") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SrllmError(f"{path}: line {n} is not valid JSON ({exc.msg})") from None
                if not isinstance(obj, dict):
                    raise SrllmError(f"{path}: line {n} is a JSON {type(obj).__name__}, not an object")
                line_of[len(rows)] = n
                rows.append(obj)
    if not rows:
        raise SrllmError(f"{path}: the file has no rows")
    texts = []
    for i, row in enumerate(rows):
        if text_column not in row:
            raise SrllmError(f"{path}: line {line_of[i]} has no field {text_column!r} "
                             f"(fields: {', '.join(map(str, row))}; choose one with --text-column)")
        value = row[text_column]
        if not isinstance(value, str):
            raise SrllmError(f"{path}: line {line_of[i]} field {text_column!r} is {type(value).__name__}, not text")
        texts.append(value)
    return rows, texts


def write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    from srllm.cache import atomic_write_text

    if _kind(path) == "csv":
        import pandas as pd

        atomic_write_text(path, pd.DataFrame(rows).to_csv(index=False))
    else:
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def default_out(path: Path) -> Path:
    return path.with_name(f"{path.stem}.scored{path.suffix}")


def run(args: argparse.Namespace) -> int:
    from srllm.cache import atomic_write_text
    from srllm.scoring import available_scorers, get_scorer, unsafe_rate

    if args.list_scorers:
        for row in available_scorers():
            print(f"{row['name']:28} {'yes' if row['available'] else 'no ':4} {row['reason']}")
        return 0
    if not args.file:
        raise SrllmError("give a FILE to score (or --list-scorers)")
    path = Path(args.file)
    if not path.exists():
        raise SrllmError(f"{path}: no such file")
    _kind(path)
    out = Path(args.out) if args.out else default_out(path)
    _kind(out)
    rows, texts = read_table(path, args.text_column)
    kw: dict[str, Any] = {"use_cache": not args.no_cache}
    if args.threshold is not None:
        kw["threshold"] = args.threshold
    if args.batch_size:
        kw["batch_size"] = args.batch_size
    scorer = get_scorer(args.scorer, **kw)
    results = scorer.score(texts)
    clash = [c for c in ADDED if c in rows[0]]
    for row, res in zip(rows, results):
        row.update(p_unsafe=round(res.p_unsafe, 6), flag=bool(res.flag), scorer=scorer.name, is_proxy=scorer.is_proxy)
    write_table(out, rows)
    meta = {**scorer.metadata, "input": str(path), "output": str(out), "n": len(results),
            "unsafe_rate": unsafe_rate(results), "computed": scorer.stats["computed"],
            "from_cache": scorer.stats["cached"]}
    atomic_write_text(out.with_name(out.name + ".meta.json"), json.dumps(meta, indent=2, default=str))
    n_flag = sum(r.flag for r in results)
    label = " [PROXY: offline stand-in, not the paper's Perspective/OpenAI scores]" if scorer.is_proxy else ""
    if clash:
        print(f"note: replaced existing column(s) {', '.join(clash)} in the copy")
    print(f"scored {len(results)} texts with {scorer.name}{label}")
    print(f"unsafe rate: {100 * n_flag / len(results):.2f}% ({n_flag}/{len(results)}) at threshold {scorer.threshold}")
    print(f"computed {scorer.stats['computed']}, from cache {scorer.stats['cached']}; wrote {out}")
    return 0
