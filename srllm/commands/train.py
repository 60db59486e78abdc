"""Fine-tune the base model on unsafe -> safe rewrites with QLoRA, LoRA, prefix-tuning or dense training
(for example `srllm train --method qlora --profile cpu`). A run with the same settings and data as a finished
one is reused; an interrupted run continues from its latest checkpoint when started again."""

from __future__ import annotations

import argparse
import json
import os
import sys

NAME = "train"
HELP = "fine-tune the model (qlora, lora, prefix, dense); resumable and cached"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from srllm.training import METHODS, VARIANTS

    p.add_argument("--method", choices=METHODS, help="training method (default: the profile's, qlora)")
    p.add_argument("--variant", choices=sorted(VARIANTS),
                   help="train a human-evaluation variant of Section 4.6 instead of --method")
    p.add_argument("--profile", default="cpu", help="run profile: smoke, cpu (default) or paper")
    p.add_argument("--data", metavar="FILE",
                   help="training data (any file `srllm data validate` accepts); split into train/dev with the "
                        "profile's seed. Default: the bundled CMD sample")
    p.add_argument("--format", help="data format of FILE (default: detected from its columns)")
    p.add_argument("--out", metavar="DIR", help="run folder (default: <cache>/runs/<method>-<hash>)")
    p.add_argument("--max-steps", type=int, help="stop after N optimizer steps (overrides the profile)")
    p.add_argument("--epochs", type=float, help="number of epochs when no step limit applies")
    p.add_argument("--learning-rate", type=float, help="override the method's learning rate")
    p.add_argument("--seed", type=int, help="override the profile's seed")
    p.add_argument("--model", help="override the profile's base model")
    p.add_argument("--no-merge", action="store_true", help="keep the adapter only; do not save a merged model")
    p.add_argument("--restart", action="store_true", help="ignore checkpoints of an unfinished run and start afresh")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")


def run(args: argparse.Namespace) -> int:
    from srllm.errors import SrllmError
    from srllm.profiles import get_profile
    from srllm.training import train, train_variant

    if args.variant and args.method:
        raise SrllmError("give either --method or --variant, not both")
    if args.max_steps is not None and args.max_steps <= 0:
        raise SrllmError("--max-steps must be a positive integer")
    prof_over = {}
    if args.seed is not None:
        prof_over["seed"] = args.seed
    if args.model:
        prof_over["model"] = args.model
    prof = get_profile(args.profile, **prof_over)
    records_train = records_eval = None
    source = None
    if args.data:
        from srllm.data import load_records, split_for_profile, trainable

        records, report = load_records(args.data, args.format)
        if report.exclusions:
            print(report.summary(), file=sys.stderr)
        usable = trainable(records)
        if not usable:
            raise SrllmError(f"{args.data}: no record has a safe_variation to train on")
        parts = split_for_profile(usable, prof)
        records_train, records_eval = parts["train"], parts["dev"]
        source = f"{args.data} (split_for_profile: train / dev; {len(records) - len(usable)} record(s) without a rewrite)"
    kwargs = dict(out_dir=args.out, resume=not args.restart, merge=not args.no_merge, progress=not args.quiet,
                  data_source=source)
    if args.learning_rate is not None:
        kwargs["learning_rate"] = args.learning_rate
    if args.variant:
        if args.max_steps is not None or args.epochs is not None:
            raise SrllmError("--variant sets its own epochs and steps; drop --max-steps/--epochs")
        result = train_variant(args.variant, prof, records_train, records_eval, **kwargs)
    else:
        if args.max_steps is not None:
            kwargs["max_steps"] = args.max_steps
        if args.epochs is not None:
            kwargs["epochs"] = args.epochs
            kwargs.setdefault("max_steps", -1)
        result = train(args.method, prof, records_train, records_eval, **kwargs)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # under `accelerate launch`: every process says it is done; the main one reports
        rank = int(os.environ.get("RANK", "0"))
        print(f"[process {rank + 1}/{world}] finished training; run folder {result.run_dir}", flush=True)
        if rank != 0:
            return 0
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    state = "reused finished run" if result.reused else "trained"
    print(f"{state}: {result.method} on {result.model}, {summary['steps']} steps, {summary['wall_minutes']} min")
    print(f"  eval loss {summary['first_eval_loss']} -> {summary['best_eval_loss']}; "
          f"final train loss {summary['final_train_loss']}")
    print(f"  energy {summary['energy_kwh']:.6f} kWh, {summary['kg_co2e']:.6f} kgCO2e ({summary['power_source']})")
    print(f"  run folder: {result.run_dir}")
    if result.adapter_dir:
        print(f"  adapter:    {result.adapter_dir}")
    if result.merged_dir:
        print(f"  merged:     {result.merged_dir}")
    for note in result.manifest.get("notes", []):
        print(f"  note: {note}")
    return 0
