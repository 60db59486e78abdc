"""Rewrite texts safely with one method of the paper.

``--input FILE`` rewrites every text of a CSV/TSV/JSONL/Parquet file and writes a
copy with the columns ``rewrite`` and ``method`` added (``--out``). ``--text TEXT``
rewrites one text and prints it; without ``--method`` that is the profile's SR_LLM
run (found by its settings hash), or the base model with a 2-shot prompt until that
run is trained, and the command names which on standard error. ``srllm debias TEXT``
is the same one-text path.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from srllm.commands.args import add_input, add_json, add_no_cache, add_profile, add_quiet, input_path
from srllm.data.readers import read_texts
from srllm.data.writers import WRITABLE_SUFFIXES, check_writable, write_rows
from srllm.errors import SrllmError
from srllm.generation import debias_detail, how_to_train, profile_adapter
from srllm.generation.baselines import BASELINES, get_baseline, run_baseline
from srllm.profiles import Profile, resolve

NAME = "generate"
HELP = "rewrite the texts of a file (--input) or one text (--text) with SR_LLM, a prompting baseline or another method"

METHOD_HELP = ("generation method: " + ", ".join(sorted(BASELINES)) + ". sr_llm: the instruction fine-tuned "
               "adapter (default for --input); prefix: the prefix-tuned adapter; zero_shot, two_shot, five_shot: "
               "the base model prompted with k demonstrations; original: the text unchanged; the encoder-decoder "
               "baselines need the Hub. Default for --text: the profile's SR_LLM run, or 2-shot until it is trained")


def add_text_options(p: argparse.ArgumentParser) -> None:
    """The options of the one-text path, shared with ``srllm debias``: adapter, profile, model, decoding, output."""
    p.add_argument("--adapter", help="trained adapter folder (default for sr_llm/prefix: the profile's own run, "
                                     "found by its settings hash)")
    add_profile(p)
    p.add_argument("--model", help="base model name (default: the profile's model)")
    p.add_argument("--batch-size", type=int, help="override the profile's generation batch size")
    p.add_argument("--max-new-tokens", type=int, help="override the profile's max new tokens")
    p.add_argument("--seed", type=int, help="seed for drawing k-shot demonstrations (default: the profile's)")
    add_no_cache(p, "the generation cache (every text is generated again)")
    add_quiet(p)
    add_json(p, "what was rewritten, how and where to")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--input FILE`` or ``--text TEXT``, the output, the generation method and the one-text options."""
    src = p.add_mutually_exclusive_group()
    add_input(p, "CSV, TSV, JSONL or Parquet file with a text column", group=src)
    src.add_argument("--text", help="one text to rewrite, printed to standard output (what `srllm debias` runs)")
    p.add_argument("--out", help="with --input: output file (.csv or .jsonl), the input rows plus 'rewrite' and "
                                 "'method'")
    p.add_argument("--method", default=None, choices=sorted(BASELINES), help=METHOD_HELP)
    p.add_argument("--text-column", default="text", help="with --input: column holding the texts (default: text)")
    p.add_argument("--limit", type=int, help="with --input: only the first N rows")
    add_text_options(p)


def _profile(args: argparse.Namespace) -> Profile:
    overrides: dict[str, Any] = {}
    if args.batch_size is not None:
        overrides["generate.batch_size"] = args.batch_size
    if args.max_new_tokens is not None:
        overrides["generate.max_new_tokens"] = args.max_new_tokens
    return resolve(args.profile, **overrides)


def _check_adapter(adapter: str | None) -> None:
    if adapter is not None and not Path(adapter).is_dir():
        raise SrllmError(f"--adapter {adapter}: no such folder")


def _rewrite(args: argparse.Namespace, method: str, profile: Profile, texts: list[str]) -> list[str]:
    """Outputs of ``method`` for ``texts``; an adapter method finds the profile's own run unless --adapter names one."""
    baseline = get_baseline(method)
    model = args.model or profile.model
    adapter = args.adapter
    _check_adapter(adapter)
    if baseline.family in ("prefix", "instruction") and adapter is None:
        run_prof = resolve(profile, model=model)
        run_method = "prefix" if baseline.family == "prefix" else None
        found, run_dir = profile_adapter(run_prof, run_method)
        if found is None:
            raise SrllmError(f"method {method!r} needs a trained adapter for {model}: "
                             f"{how_to_train(run_prof, run_method)}; or pass --adapter DIR")
        adapter = str(found)
        print(f"{args.command}: using the profile's run {run_dir.name} (adapter {adapter})", file=sys.stderr)
    result = run_baseline(method, texts, profile=profile, model_name=args.model, adapter_dir=adapter, seed=args.seed,
                          cache=not args.no_cache)
    if not result.ok:
        raise SrllmError(f"method {method!r} was not run: {result.reason}")
    return result.outputs


def run_text(args: argparse.Namespace) -> int:
    """Rewrite the one text ``args.text`` and print it (``generate --text`` and ``debias``)."""
    method = getattr(args, "method", None)
    profile = _profile(args)
    if method is not None:
        rewrite = _rewrite(args, method, profile, [args.text])[0]
        info: dict[str, Any] = {"method": method, "model": args.model or profile.model}
        how = f"method {method} ({get_baseline(method).label})"
    else:  # the profile's SR_LLM run, or 2-shot until it is trained (issue 17)
        _check_adapter(args.adapter)
        if args.model:
            profile = resolve(profile, model=args.model)
        res = debias_detail(args.text, args.adapter, profile=profile, cache=not args.no_cache)
        rewrite = res.text
        info = {"method": res.method, "model": res.model, "adapter": res.adapter_dir, "run": res.run,
                "note": res.note}
        if res.adapter_dir is None:
            how = f"base model {res.model} with a 2-shot prompt (no trained adapter found: {res.note})"
        else:
            kind = "prefix-tuned" if res.method == "prefix" else "instruction fine-tuned"
            source = f"the profile's SR_LLM run {res.run}" if res.run else "the adapter you named"
            how = f"{res.model} with {source} ({kind} adapter {res.adapter_dir})"
    if args.json:
        print(json.dumps({"text": args.text, "rewrite": rewrite, **info}, indent=2, default=str))
        return 0
    print(f"{args.command}: used {how}", file=sys.stderr)
    if not rewrite:
        print(f"{args.command}: the model's rewrite is empty", file=sys.stderr)
    print(rewrite)
    return 0


def run_file(args: argparse.Namespace) -> int:
    """Rewrite every text of ``--input`` and write the rows with ``rewrite`` and ``method`` to ``--out``."""
    path = input_path(args)
    if not args.out:
        raise SrllmError(f"give the output file with --out FILE ({' or '.join(WRITABLE_SUFFIXES)})")
    out = check_writable(args.out)
    method = args.method or "sr_llm"
    profile = _profile(args)
    rows, texts = read_texts(path, args.text_column, limit=args.limit)
    outputs = _rewrite(args, method, profile, texts)
    out_rows = [dict(r, rewrite=o, method=method) for r, o in zip(rows, outputs)]
    write_rows(out, out_rows)
    label = get_baseline(method).label
    if args.json:
        print(json.dumps({"input": path, "output": str(out), "rows": len(out_rows), "method": method,
                          "label": label}, indent=2))
    else:
        print(f"generate: wrote {len(out_rows)} rewrites ({label}) to {out}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    """Rewrite one text (``--text``) or every text of a file (``--input``)."""
    if args.text is not None:
        for flag in ("out", "limit"):
            if getattr(args, flag) is not None:
                raise SrllmError(f"--{flag} applies to --input FILE, not to --text")
        return run_text(args)
    return run_file(args)
