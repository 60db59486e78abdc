"""Training throughput of ``srllm.train`` against the paper authors' public training set-up.

Run: ``.venv/bin/python benchmarks/bench_train.py [--rows 32] [--rounds 2] [--batch-size 4] [--method lora]``

Both sides fine-tune the same model (SmolLM2-135M-Instruct by default) with the
same LoRA adapter (r=64, alpha=16, dropout 0.2 on the profile's target modules,
the authors' values), the same learning rate, optimizer, batch size, seed and
number of steps, on the same CMD training pairs:

* **theirs** - trl's ``SFTTrainer`` on one ``text`` field holding the whole
  formatted prompt and answer, no packing, ``group_by_length`` on (in
  transformers 5: ``train_sampling_strategy="group_by_length"``), the loss on
  every token - the authors' script;
* **ours** - :func:`srllm.train.train` (response-only loss, length-grouped batches
  in a (seed, epoch)-fixed order, the gradient guard), with no evaluation, no
  checkpoint and no merge inside the timed span.

Timed span: from the Trainer's ``on_train_begin`` to ``on_train_end`` on each
side (model loading and tokenisation excluded on both). The machine is shared
and noisy, so the rows are cut into rounds and each round trains theirs, then
ours, from a fresh model for one epoch of that round's rows; each side's time is
its sum over rounds. Throughput is the number of (unpadded) tokens each side
trained on, over its time. Peak resident memory is sampled per side. The last
line is the ratio of tokens per second, ours over theirs. Rounds alternate which side
goes first, so neither always pays the process's first-call costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings


def step_timer():
    """A TrainerCallback that keeps the wall time between on_train_begin and on_train_end."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds = 0.0
            self.steps = 0
            self._t0 = 0.0

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self._t0 = time.perf_counter()

        def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
            self.seconds += time.perf_counter() - self._t0
            self.steps += state.global_step

    return StepTimer()


def theirs(cfg, rows, out: str, timer) -> int:
    """The authors' set-up: SFTTrainer, one text field, no packing, group_by_length. Returns tokens trained on."""
    import datasets
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from srllm.prompts import format_prompt, response_suffix
    from srllm.train_model import load_base

    model, tok = load_base(cfg)
    texts = [{"text": format_prompt(r.text, cfg.prompt_format, tok) + r.safe_variation + response_suffix(tok)}
             for r in rows]
    args = SFTConfig(
        output_dir=out, dataset_text_field="text", packing=False, train_sampling_strategy="group_by_length",
        max_length=cfg.max_length, per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=1,
        num_train_epochs=1, learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.scheduler,
        warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm,
        optim=cfg.optim, logging_steps=cfg.logging_steps, save_strategy="no", report_to=[], seed=cfg.seed,
        data_seed=cfg.seed, use_cpu=cfg.device == "cpu", disable_tqdm=True, dataloader_num_workers=0)
    lora = cfg.lora
    peft_config = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"], bias=lora["bias"],
                             target_modules=lora["target_modules"], task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(texts),
                         processing_class=tok, peft_config=peft_config, callbacks=[timer])
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    trainer.train()
    return tokens


def ours(cfg, profile, rows, out: str, timer) -> int:
    """srllm.train with evaluation, checkpoints and merging kept out of the timed span. Returns tokens."""
    from srllm.models import load_tokenizer
    from srllm.train import DataStats, to_pairs, tokenize_pairs, train

    steps = -(-len(rows) // cfg.batch_size)
    pairs, stats = to_pairs(rows)
    tokens = sum(ex["length"] for ex in tokenize_pairs(pairs, load_tokenizer(cfg.model), cfg.prompt_format,
                                                        cfg.max_length, DataStats()))
    train(cfg.method, profile, records_train=rows, records_eval=[], out_dir=out,
          resume=False, merge=False, progress=False, callbacks=[timer], lora=cfg.lora, batch_size=cfg.batch_size,
          grad_accum=1, max_steps=steps, epochs=1.0, eval_steps=steps + 1, save_steps=10 * (steps + 1))
    return tokens


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--method", default="lora", choices=("lora", "qlora"))
    ap.add_argument("--rows", type=int, default=32, help="training pairs in all (split over the rounds)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaving rounds (theirs then ours per round)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, help="torch threads for both sides (default: torch's choice)")
    args = ap.parse_args()

    warnings.simplefilter("ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    from srllm.perf import RssSampler, peak_rss_mib, record_benchmark
    from srllm.profiles import get_profile
    from srllm.train import TrainConfig, default_records

    profile = get_profile(args.profile)
    base = profile.lora
    lora = {"r": 64, "alpha": 16, "dropout": 0.2, "bias": base.bias, "target_modules": list(base.target_modules)}
    cfg = TrainConfig.from_profile(profile, args.method, lora=lora, batch_size=args.batch_size, grad_accum=1)
    train_rows, _, source = default_records(profile)
    rows = [r for r in train_rows if getattr(r, "safe_variation", None)][: args.rows]
    if len(rows) < args.rows:
        sys.exit(f"only {len(rows)} training pairs with a safe variation in the {source}; asked for {args.rows}")
    per_round = -(-len(rows) // args.rounds)

    t_theirs, t_ours = step_timer(), step_timer()
    tok_theirs = tok_ours = 0
    work = tempfile.mkdtemp(prefix="bench-train-")
    try:
        with RssSampler() as rss:
            for k in range(0, len(rows), per_round):
                part = rows[k:k + per_round]
                # Alternate which side goes first, so neither always pays the first-call costs.
                sides = [("theirs", lambda: theirs(cfg, part, os.path.join(work, f"theirs-{k}"), t_theirs)),
                         ("ours", lambda: ours(cfg, profile, part, os.path.join(work, f"ours-{k}"), t_ours))]
                for name, run in sides if (k // per_round) % 2 == 0 else sides[::-1]:
                    rss.phase = name
                    n = run()
                    tok_theirs, tok_ours = (tok_theirs + n, tok_ours) if name == "theirs" else (tok_theirs, tok_ours + n)
                rss.phase = None
                print(f"  round {k // per_round + 1}: {len(part)} rows, theirs {t_theirs.seconds:.1f} s, "
                      f"ours {t_ours.seconds:.1f} s (running totals)", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    r_theirs, r_ours = tok_theirs / t_theirs.seconds, tok_ours / t_ours.seconds
    peaks = rss.peaks_mib()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores visible, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); load average {os.getloadavg()[0]:.1f} at the end (shared machine)")
    print(f"model: {cfg.model} ({args.method}, float32 on {cfg.device}); LoRA r={lora['r']} alpha={lora['alpha']} "
          f"dropout={lora['dropout']} on {', '.join(lora['target_modules'])}")
    print(f"data: {len(rows)} pairs from the {source}, {cfg.prompt_format} format, max_length {cfg.max_length}; "
          f"batch {args.batch_size}, lr {cfg.learning_rate:g}, {cfg.optim}; {args.rounds} interleaved round(s)")
    print(f"theirs (trl SFTTrainer, text field, no packing, group_by_length): {t_theirs.steps} steps, "
          f"{tok_theirs} tokens in {t_theirs.seconds:.1f} s = {r_theirs:.0f} tokens/s, "
          f"peak RSS while it ran {peaks.get('theirs', 0):.0f} MiB")
    print(f"ours (srllm.train, response-only loss, length-grouped): {t_ours.steps} steps, "
          f"{tok_ours} tokens in {t_ours.seconds:.1f} s = {r_ours:.0f} tokens/s, peak RSS while it ran "
          f"{peaks.get('ours', 0):.0f} MiB")
    print(f"process peak RSS (getrusage): {peak_rss_mib():.0f} MiB (memory freed by one side stays with the "
          "process, so the per-side peaks are upper bounds)")
    record_benchmark("train", {
        "model": cfg.model, "method": args.method, "rows": len(rows), "rounds": args.rounds,
        "batch_size": args.batch_size, "lora": lora, "theirs_steps": t_theirs.steps, "ours_steps": t_ours.steps,
        "theirs_tokens": tok_theirs, "ours_tokens": tok_ours, "theirs_seconds": t_theirs.seconds,
        "ours_seconds": t_ours.seconds, "theirs_tokens_per_s": r_theirs, "ours_tokens_per_s": r_ours,
        "peak_rss_mib": peaks, "load_average_end": os.getloadavg()[0]},
        ratio=r_ours / r_theirs, ratio_label="srllm.train / trl SFTTrainer (training tokens/s)")
    print(f"ratio ours/theirs training tokens/s: {r_ours / r_theirs:.2f}x (target >= 1.0x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
