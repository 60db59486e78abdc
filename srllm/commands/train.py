"""Fine-tune the base model on unsafe -> safe rewrites with QLoRA, LoRA, prefix-tuning or dense training
(for example `srllm train --method qlora --profile cpu`). A run with the same settings and data as a finished
one is reused; an interrupted run continues from its latest checkpoint when started again."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from srllm.commands.args import add_input, add_json, add_profile, add_quiet, input_path
from srllm.data.sources import ENV_OVERRIDE, load_dataset_for, profile_splits
from srllm.errors import SrllmError
from srllm.profiles import DataSource, Profile, resolve
from srllm.training import METHODS, VARIANTS, train, train_variant

NAME = "train"
HELP = "fine-tune the model (qlora, lora, prefix, dense); resumable and cached"

METHOD_HELP = ("training method: " + ", ".join(METHODS) + " (default: the profile's, qlora). qlora: LoRA on the "
               "4-bit quantized model (SR_LLM, Section 3.1); lora: LoRA on full-precision weights; prefix: "
               "prefix-tuning; dense: every weight trained")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The method or variant, the profile, ``--input FILE`` and the training overrides."""
    p.add_argument("--method", choices=METHODS, help=METHOD_HELP)
    p.add_argument("--variant", choices=sorted(VARIANTS),
                   help="train a human-evaluation variant of Section 4.6 instead of --method")
    add_profile(p)
    add_input(p, "training data (any file `srllm data validate` accepts); split into train/dev as the profile "
                 "splits its own CMD (Table 1's proportions, the profile's seed and row limits). Default: the "
                 "profile's CMD source", legacy_options=("--data",))
    p.add_argument("--format", help="data format of FILE (default: detected from its columns)")
    p.add_argument("--out", metavar="DIR", help="run folder (default: <cache>/runs/<method>-<hash>)")
    p.add_argument("--max-steps", type=int, help="stop after N optimizer steps (overrides the profile)")
    p.add_argument("--epochs", type=float, help="number of epochs when no step limit applies")
    p.add_argument("--learning-rate", type=float, help="override the method's learning rate")
    p.add_argument("--seed", type=int, help="override the profile's seed")
    p.add_argument("--model", help="override the profile's base model")
    p.add_argument("--no-merge", action="store_true", help="keep the adapter only; do not save a merged model")
    p.add_argument("--restart", action="store_true", help="ignore checkpoints of an unfinished run and start afresh")
    add_quiet(p)
    add_json(p, "the run summary")


def file_splits(path: str, profile: Profile, format: str | None = None) -> tuple[list[Any], list[Any], str]:
    """Train and dev records of a data file, split as ``profile`` splits its own CMD source.

    The file becomes the profile's CMD source (:class:`~srllm.profiles.DataSource` ``kind="local"``),
    so loading, validation and the stratified split are those of :mod:`srllm.data.sources`.
    Returns ``(train, dev, description for the run record)``.
    """
    env = os.environ.get(ENV_OVERRIDE["cmd"], "").strip()
    if env and env != path:
        raise SrllmError(f"--input {path} and {ENV_OVERRIDE['cmd']}={env} both name the CMD data; unset one")
    prof = profile.replace(**{"data.cmd": DataSource(kind="local", path=path, format=format)})
    loaded = load_dataset_for(prof, "cmd")
    if loaded.report.exclusions:
        print(loaded.report.summary(), file=sys.stderr)
    if not loaded.info.get("with_rewrite"):
        raise SrllmError(f"{path}: no record has a safe_variation to train on")
    parts = profile_splits(prof, "cmd")
    without = loaded.info["kept"] - loaded.info["with_rewrite"]
    return parts["train"], parts["dev"], (f"{path} ({loaded.describe()}; train / dev; "
                                          f"{without} record(s) without a rewrite)")


def run(args: argparse.Namespace) -> int:
    """Train (or reuse) the run and print its summary; under ``accelerate launch`` only the main process reports."""
    if args.variant and args.method:
        raise SrllmError("give either --method or --variant, not both")
    if args.max_steps is not None and args.max_steps <= 0:
        raise SrllmError("--max-steps must be a positive integer")
    prof = resolve(args.profile, model=args.model, seed=args.seed)
    records_train = records_eval = source = None
    path = input_path(args, required=False)
    if path:
        records_train, records_eval, source = file_splits(path, prof, args.format)
    kwargs: dict[str, Any] = dict(out_dir=args.out, resume=not args.restart, merge=not args.no_merge,
                                  progress=not args.quiet, data_source=source)
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
