"""Training throughput of ``srllm.training`` against trl's SFTTrainer, like for like.

Run: ``.venv/bin/python benchmarks/bench_train.py [--rows 32] [--batch-size 4] [--threads N] [--all-tokens]``

What differs between the two sides is the implementation and nothing else.
Both sides fine-tune the same model (SmolLM2-135M-Instruct under the cpu
profile) with the same LoRA adapter (r=64, alpha=16, dropout 0.2 on the
profile's target modules, the authors' values; ``--lora-dropout 0`` is the cpu
profile's dropout, where ours computes the prompt start that every row of a
batch shares once, :mod:`srllm.training.shared_prompt`, and theirs once per row:
the same loss and gradients), learning rate, schedule,
optimizer, seed, batch size, ``max_length`` and number of steps, without
gradient checkpointing and in float32 (trl's SFTConfig defaults to gradient
checkpointing *on* and to bf16; both are switched off on its side, as on ours),
on the same batches in the same order: the CMD pairs are tokenized once by
:func:`srllm.training.tokenize_pairs`, ours draws its length-grouped batches as
always, and trl gets the same token ids and labels in that order, read
sequentially. Every side starts from the same weights (the LoRA B matrices are
zero), so the first step's loss must agree; the record keeps it.

* **ours** - :func:`srllm.training.train` (its own collator, length-grouped batches in
  a (seed, epoch)-fixed order, the gradient guard), with no evaluation, no
  checkpoint and no merge inside the timed span;
* **theirs** - trl's ``SFTTrainer`` (its collator, its fused LM-head loss, no
  packing; batches grouped by length as in the authors' script, here the very
  batches ours uses), given the same labels: the loss on the response tokens
  only, Eq. (1) of the paper, as ours. This is the pair the ratio compares.
* **theirs_all_tokens** (``--all-tokens``) - the same SFTTrainer with the loss on
  every token, as the authors' script trains (one ``text`` field). Its loss is
  over other tokens, so it is not compared with ours; its throughput shows what
  the masking costs.

Every setting in the record is read back from the live Trainer and model of each
side (``TrainingArguments``, the model's dtype and checkpointing state, the peft
config), not copied from this script, and the run stops before writing a record
if any differs between ours and theirs.

Timed span and interleaving: the machine may be shared and noisy, so the sides
train *at the same time, one optimizer step each in turn*: each side runs in its
own thread, and a baton passed at every ``on_step_end`` lets exactly one side
compute at any moment (the others wait on a lock, using no CPU). A side's time
is the sum of the spans it held the baton, from its ``on_train_begin`` to its
``on_train_end``: data loading, forward, backward, optimizer step, logging and
callbacks of its own steps; model loading, tokenisation and saving are outside
it (every side finishes its set-up before the first timed step, and none starts
saving before the last one). A change of load therefore hits the sides' steps
alike, and the per-step ratios are kept so their spread can be judged.
Throughput is the number of (unpadded) tokens each side trained on, over its
time. Final loss: each side's loss at its last step (the sides see the same
batches: both group a length-sorted order into batches, here one group).
The 1-minute load average is read at the start; a run that starts on a machine
already busy is labelled "measured under load".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

COMPARED = ("gradient_checkpointing", "precision", "batch_size", "max_length", "steps", "learning_rate",
            "lr_scheduler", "optim", "weight_decay", "max_grad_norm", "seed", "lora", "batches", "loss_on")


class Baton:
    """Lets one side compute at a time, in turn, one optimizer step each; keeps each side's held time.

    ``start`` (at on_train_begin) waits until every side has finished its set-up and it is
    this side's turn; ``hand_over`` (at on_step_end) passes the turn on and waits for it to
    come back; ``finish`` (at on_train_end) leaves the rotation and waits until every side
    has finished, so that no side's saving overlaps another's steps.
    """

    def __init__(self, sides: list[str], timeout: float = 4 * 3600) -> None:
        self.setup = threading.Lock()  # one side sets up (loads its model) at a time
        self._setting_up: str | None = None
        self.sides = list(sides)
        self.active = list(sides)
        self.turn = sides[0]
        self.ready: set[str] = set()
        self.done: set[str] = set()
        self.held = {s: 0.0 for s in sides}
        self.turns: dict[str, list[float]] = {s: [] for s in sides}  # held seconds of each turn (one step each)
        self.error: str | None = None
        self.timeout = timeout
        self._cond = threading.Condition()
        self._since = 0.0

    def _wait(self, pred) -> None:  # noqa: ANN001
        if not self._cond.wait_for(lambda: self.error is not None or pred(), timeout=self.timeout):
            raise RuntimeError(f"benchmark side waited more than {self.timeout:.0f} s for its turn")
        if self.error is not None:
            raise RuntimeError(f"stopped because another side failed: {self.error}")

    def _stop_clock(self, side: str) -> None:
        held = time.perf_counter() - self._since
        self.held[side] += held
        self.turns[side].append(held)

    def _pass_turn(self, side: str, leaving: bool) -> None:
        i = self.active.index(side)
        if leaving:
            self.active.remove(side)
            self.turn = self.active[i % len(self.active)] if self.active else None
        else:
            self.turn = self.active[(i + 1) % len(self.active)]
        self._cond.notify_all()

    def begin_setup(self, side: str) -> None:
        """Called by a side's thread before it loads anything: set-ups run one after another."""
        self.setup.acquire()
        self._setting_up = side

    def end_setup(self, side: str) -> None:
        if self._setting_up == side:
            self._setting_up = None
            self.setup.release()

    def start(self, side: str) -> None:
        self.end_setup(side)
        with self._cond:
            self.ready.add(side)
            self._cond.notify_all()
            self._wait(lambda: len(self.ready) == len(self.sides) and self.turn == side)
            self._since = time.perf_counter()

    def hand_over(self, side: str) -> None:
        with self._cond:
            self._stop_clock(side)
            self._pass_turn(side, leaving=False)
            self._wait(lambda: self.turn == side)
            self._since = time.perf_counter()

    def finish(self, side: str) -> None:
        with self._cond:
            self._stop_clock(side)
            self._pass_turn(side, leaving=True)
            self.done.add(side)
            self._wait(lambda: len(self.done) == len(self.sides))

    def fail(self, side: str, exc: BaseException) -> None:
        self.end_setup(side)
        with self._cond:
            if self.error is None:  # keep the first failure, not the others' "stopped because"
                self.error = f"{side}: {type(exc).__name__}: {exc}"
            self._cond.notify_all()


def settings_recorder(name: str, baton: Baton, max_length: int, loss_on: str):
    """A TrainerCallback that takes part in the baton's rotation, reads the side's settings back
    from its Trainer and model, fingerprints the token ids and labels its dataloader holds, and
    keeps the loss of every logged step."""
    from srllm.cache import stable_hash
    from transformers import TrainerCallback

    class Recorder(TrainerCallback):
        def __init__(self) -> None:
            self.steps = 0
            self.settings: dict = {}
            self.losses: list[float] = []  # the loss of every step

        def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):  # noqa: ANN001
            # The batches this side will train on, in order, as its own dataloader's sampler gives them
            # (iterating these samplers draws no random numbers: a sequential one, and ours with its own generator).
            try:
                ds, batches = train_dataloader.dataset, list(train_dataloader.batch_sampler)
                batch_data = [[[list(ds[i]["input_ids"]), list(ds[i]["labels"])] for i in b] for b in batches]
            except (AttributeError, TypeError, KeyError) as exc:
                raise RuntimeError(f"{name}: cannot read the batches this side trains on: {exc!r}") from None
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            dtype = str(next(base.parameters()).dtype).replace("torch.", "")
            peft = getattr(model, "peft_config", {}).get("default")
            self.settings = {
                "gradient_checkpointing": bool(args.gradient_checkpointing
                                               or getattr(base, "is_gradient_checkpointing", False)),
                "precision": "bf16 mixed" if args.bf16 else "fp16 mixed" if args.fp16 else dtype,
                "batch_size": args.per_device_train_batch_size * args.gradient_accumulation_steps,
                "max_length": max_length, "steps": None, "learning_rate": args.learning_rate,
                "lr_scheduler": str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)),
                "optim": str(getattr(args.optim, "value", args.optim)), "weight_decay": args.weight_decay,
                "max_grad_norm": args.max_grad_norm, "seed": args.seed,
                "lora": None if peft is None else {"r": peft.r, "alpha": peft.lora_alpha, "dropout": peft.lora_dropout,
                                                   "target_modules": sorted(peft.target_modules or [])},
                "batches": stable_hash(batch_data), "loss_on": loss_on,
                # The sampler the dataloader really uses (srllm.training replaces the Trainer's own).
                "sampler": type(getattr(train_dataloader.batch_sampler, "sampler", None)).__name__}
            baton.start(name)

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            baton.hand_over(name)

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if logs and "loss" in logs:
                self.losses.append(float(logs["loss"]))

        def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
            self.steps += state.global_step
            self.settings["steps"] = self.steps
            baton.finish(name)

    return Recorder()


def theirs(cfg, examples, out: str, rec, all_tokens: bool) -> int:
    """trl's SFTTrainer on the given token ids, every setting as ours; returns the tokens trained on.

    The examples come in the order ours' length-grouped sampler draws them and are read
    sequentially, so both sides train on the same batches in the same order (trl's own
    ``group_by_length`` would group them as well, but by another random draw)."""
    import datasets
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from srllm.training.model import load_base

    model, tok = load_base(cfg)
    rows = [{"input_ids": list(ex["input_ids"]),
             "labels": list(ex["input_ids"]) if all_tokens else list(ex["labels"])} for ex in examples]
    steps = -(-len(rows) // cfg.batch_size)
    args = SFTConfig(
        output_dir=out, packing=False, train_sampling_strategy="sequential",
        max_length=cfg.max_length, per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=1,
        num_train_epochs=1, max_steps=steps, learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.scheduler,
        warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm,
        optim=cfg.optim, adam_beta1=cfg.adam_beta1, adam_beta2=cfg.adam_beta2,
        gradient_checkpointing=cfg.gradient_checkpointing, bf16=cfg.bf16, fp16=cfg.fp16,
        logging_steps=1, save_strategy="no", report_to=[], seed=cfg.seed, data_seed=cfg.seed,
        use_cpu=cfg.device == "cpu", disable_tqdm=True, dataloader_num_workers=0)
    lora = cfg.lora
    peft_config = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"], bias=lora["bias"],
                             target_modules=lora["target_modules"], task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
                         processing_class=tok, peft_config=peft_config, callbacks=[rec])
    got = [(list(r["input_ids"]), list(r["labels"])) for r in trainer.train_dataset]
    if got != [(r["input_ids"], r["labels"]) for r in rows]:  # trl must not have changed the data or its order
        raise RuntimeError("trl's SFTTrainer changed the token ids, labels or order it was given")
    trainer.train()
    return sum(len(r["input_ids"]) for r in rows)


def ours(cfg, profile, rows, examples, out: str, rec) -> int:
    """srllm.training with evaluation, checkpoints and merging kept out of the timed span. Returns tokens."""
    from srllm.training import train

    steps = -(-len(examples) // cfg.batch_size)
    train(cfg.method, profile, records_train=rows, records_eval=[], out_dir=out,
          resume=False, merge=False, progress=False, callbacks=[rec], lora=cfg.lora, batch_size=cfg.batch_size,
          grad_accum=1, max_steps=steps, epochs=1.0, eval_steps=steps + 1, save_steps=10 * (steps + 1),
          logging_steps=1, gradient_checkpointing=cfg.gradient_checkpointing, fp16=cfg.fp16, bf16=cfg.bf16)
    return sum(ex["length"] for ex in examples)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--method", default="lora", choices=("lora",))
    ap.add_argument("--rows", type=int, default=32, help="training pairs (one epoch; rows / batch size steps)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    ap.add_argument("--lora-dropout", type=float, default=0.2,
                    help="LoRA dropout of both sides (default 0.2, the authors'; 0, the cpu profile's, lets ours "
                         "compute each batch's shared prompt start once)")
    ap.add_argument("--all-tokens", action="store_true",
                    help="add a third side: trl with the loss on every token (the authors' masking); all sides' "
                         "models are in memory at once, about 3.5 GiB each")
    args = ap.parse_args()

    load_start = os.getloadavg()[0]  # before this process does any work: the machine's own load
    warnings.simplefilter("ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    # Imported here, once, before the sides' threads start: lazy imports are not thread-safe.
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import trl  # noqa: F401
    from trl import SFTConfig, SFTTrainer  # noqa: F401

    import srllm.training.model  # noqa: F401
    from srllm.models import load_tokenizer
    from srllm.perf import peak_rss_mib, record_benchmark
    from srllm.profiles import get_profile
    from srllm.training import (DataStats, EpochSeededLengthSampler, TrainConfig, default_records, to_pairs,
                             tokenize_pairs)
    from srllm.training.shared_prompt import applies as shares_prompt_start

    profile = get_profile(args.profile)
    base = profile.lora
    lora = {"r": 64, "alpha": 16, "dropout": args.lora_dropout, "bias": base.bias,
            "target_modules": list(base.target_modules)}
    # Float32 and no gradient checkpointing on both sides (what srllm.training does on CPU).
    cfg = TrainConfig.from_profile(profile, args.method, lora=lora, batch_size=args.batch_size, grad_accum=1,
                                   gradient_checkpointing=False, fp16=False, bf16=False)
    train_rows, _, source = default_records(profile)
    rows = [r for r in train_rows if getattr(r, "safe_variation", None)][: args.rows]
    if len(rows) < args.rows:
        sys.exit(f"only {len(rows)} training pairs with a safe variation in the {source}; asked for {args.rows}")
    pairs, _ = to_pairs(rows)
    examples = tokenize_pairs(pairs, load_tokenizer(cfg.model), cfg.prompt_format, cfg.max_length, DataStats())
    # The order srllm.training's sampler gives (epoch 0); theirs reads the examples in this order.
    order = list(EpochSeededLengthSampler([ex["length"] for ex in examples], cfg.batch_size, cfg.seed))
    in_order = [examples[i] for i in order]
    n_tokens = sum(ex["length"] for ex in examples)

    sides = ["theirs", "ours"] + (["theirs_all_tokens"] if args.all_tokens else [])
    baton = Baton(sides)
    recs = {s: settings_recorder(s, baton, cfg.max_length, "every token" if s == "theirs_all_tokens"
                                 else "response tokens") for s in sides}
    work = tempfile.mkdtemp(prefix="bench-train-")
    shared_tokens: dict[str, int] = {}

    def run(name: str) -> None:
        out = os.path.join(work, name)
        try:
            baton.begin_setup(name)
            if name == "ours":
                ours(cfg, profile, rows, examples, out, recs[name])
                # prompt positions ours did not compute, from its run record (0 where the shared start is off)
                manifest = json.loads(Path(out, "manifest.json").read_text())
                shared_tokens["ours"] = (manifest.get("throughput") or {}).get("shared_start_tokens", 0)
            else:
                theirs(cfg, in_order, out, recs[name], all_tokens=name == "theirs_all_tokens")
        except BaseException as exc:  # noqa: BLE001 - reported below, and the other sides must not wait forever
            baton.fail(name, exc)
            errors[name] = exc

    errors: dict[str, BaseException] = {}
    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(s,), name=f"bench-{s}") for s in sides]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"a side failed, no record written: {baton.error}") from next(iter(errors.values()))

    settings = {s: recs[s].settings for s in sides}
    differ = {k: (settings["ours"][k], settings["theirs"][k]) for k in COMPARED
              if settings["ours"][k] != settings["theirs"][k]}
    if differ:
        sys.exit(f"the two sides did not run with the same settings, no record written: {differ}")
    seconds = dict(baton.held)
    rate = {s: n_tokens / seconds[s] for s in sides}
    final = {s: recs[s].losses[-1] for s in sides}
    first = {s: recs[s].losses[0] for s in sides}
    mean_loss = {s: statistics.fmean(recs[s].losses) for s in sides}
    loss_gap = abs(final["ours"] - final["theirs"]) / final["theirs"]
    steps = settings["ours"]["steps"]
    step_ratios = [t / o for o, t in zip(baton.turns["ours"][:steps], baton.turns["theirs"][:steps]) if o > 0]
    ratio = rate["ours"] / rate["theirs"]
    under_load = load_start >= 1.0
    load_end = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores visible, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); load average {load_start:.1f} at the start, {load_end:.1f} at the end"
          + (" - measured under load: rerun alone for a clean number" if under_load else ""))
    print(f"model: {cfg.model} ({args.method}); LoRA r={lora['r']} alpha={lora['alpha']} dropout={lora['dropout']} "
          f"on {', '.join(lora['target_modules'])}")
    print(f"data: {len(rows)} pairs ({n_tokens} tokens) from the {source}, {cfg.prompt_format} format, tokenized once; "
          f"batches as each side's dataloader gives them (token ids and labels, in order): "
          f"{settings['ours']['batches']} (ours), {settings['theirs']['batches']} (theirs)")
    s = settings["ours"]
    print(f"same on both sides: checkpointing {s['gradient_checkpointing']}, {s['precision']}, batch {s['batch_size']}, "
          f"max_length {s['max_length']}, {s['steps']} steps, lr {s['learning_rate']:g} ({s['lr_scheduler']}), "
          f"{s['optim']}, seed {s['seed']}, loss on {s['loss_on']}; the sides took turns, one step each "
          f"({wall:.0f} s wall in all)")
    labels = {"ours": "ours (srllm.training)", "theirs": "theirs (trl SFTTrainer, response-only loss)",
              "theirs_all_tokens": "theirs (trl SFTTrainer, loss on every token: not compared)"}
    for name in sides:
        print(f"{labels[name]}: {recs[name].steps} steps, {n_tokens} tokens in {seconds[name]:.1f} s = "
              f"{rate[name]:.0f} tokens/s; final loss {final[name]:.4f} (mean over steps {mean_loss[name]:.4f})")
    print(f"first-step losses (same batch, same starting weights): ours {first['ours']:.4f}, theirs "
          f"{first['theirs']:.4f}; final losses differ by {100 * loss_gap:.1f}% (must be within 5%)")
    print(f"process peak RSS (getrusage): {peak_rss_mib():.0f} MiB (all sides' models are loaded at once)")
    metrics = {
        "model": cfg.model, "method": args.method, "rows": len(rows), "tokens": n_tokens,
        "settings": {s: settings[s] for s in sides}, "settings_identical": True,
        "compared": "ours vs theirs, both with the loss on the response tokens (Eq. 1)"
                    + ("; theirs_all_tokens is trl with the authors' loss on every token, shown for its throughput "
                       "only" if "theirs_all_tokens" in sides else ""),
        "interleaving": "the sides train at the same time and take turns, one optimizer step each",
        "final_loss": final, "mean_loss": mean_loss, "final_loss_gap": loss_gap, "losses_within_5pct": loss_gap <= 0.05,
        "first_step_loss": first, "loss_curves": {s: recs[s].losses for s in sides},
        "seconds": seconds, "tokens_per_s": rate, "step_seconds": baton.turns,
        "step_ratios": step_ratios, "step_ratio_median": statistics.median(step_ratios) if step_ratios else None,
        "all_tokens_over_response_only": (rate["theirs_all_tokens"] / rate["theirs"]
                                          if "theirs_all_tokens" in sides else None),
        "torch_threads": torch.get_num_threads(), "wall_seconds": wall,
        # One process peak: every side's model is in memory at once, so there is no peak of one side alone.
        "peak_rss_mib": {"all_sides_at_once": peak_rss_mib()},
        # Flat keys read by srllm.plan (its time estimate): the same numbers as above.
        "ours_tokens_per_s": rate["ours"], "theirs_tokens_per_s": rate["theirs"], "batch_size": cfg.batch_size,
        "lora": lora,
        # with no LoRA dropout, ours computes each batch's shared prompt start once (srllm.training.shared_prompt)
        "ours_shared_prompt_start": shares_prompt_start(cfg),
        "ours_shared_start_tokens": shared_tokens.get("ours"),
        "load_average_start": load_start, "load_average_end": load_end, "measured_under_load": under_load}
    label = "srllm.training / trl SFTTrainer, same settings (training tokens/s)"
    record_benchmark("train", metrics, ratio=ratio, ratio_label=label + (", measured under load" if under_load else ""))
    if loss_gap > 0.05:
        print(f"WARNING: final losses differ by {100 * loss_gap:.1f}%, more than 5%: the ratio does not count")
    if step_ratios:
        print(f"per step ours/theirs speed: median {statistics.median(step_ratios):.2f}, "
              f"range {min(step_ratios):.2f}-{max(step_ratios):.2f}")
    print(f"ratio ours/theirs training tokens/s: {ratio:.2f}x")
    return 0 if loss_gap <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
