"""Training SR_LLM: QLoRA, LoRA, prefix-tuning and dense fine-tuning (Sections 2.2, 3.1, 4.5, 4.6).

One entry point, :func:`train`, takes a method, a profile and the training
records, and returns a :class:`~srllm.training.runs.RunResult` pointing at a run
folder (:mod:`srllm.training.runs` describes its layout).

The folder name is a hash of the resolved config and of the training and
evaluation data, so a second call with the same inputs returns the finished run
instead of training again, and an interrupted run resumes from its latest
checkpoint (model, optimizer, scheduler and RNG states).

Under ``accelerate launch`` (several processes, DDP) every process calls
:func:`train`; the main process alone holds the folder's lock, prunes
checkpoints, saves, merges and writes the manifest, and the others wait for it
at barriers and then return the same run.

The settings, and the departures from the paper they record, are described in
:mod:`srllm.training.config`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from srllm.cache import atomic_write_text, write_folder
from srllm.errors import SrllmError
from srllm.models import load_tokenizer
from srllm.profiles import resolve
from srllm.runrecord import PowerMonitor, device_info, energy_record, package_versions, session_dict
from srllm.training.config import TrainConfig, run_hash
from srllm.training.model import (
    GradientGuard, attach_method, causal_lm, load_base, load_init_adapter, merge_adapter, trainable_counts,
)
from srllm.training.pairs import Collator, DataStats, data_hash, default_records, to_pairs, tokenize_pairs
from srllm.training.runs import (
    MANIFEST, SESSIONS, RunResult, checkpoint_step, claim_folder, latest_checkpoint, prune_incomplete_checkpoints,
    read_manifest, run_lock, runs_dir, utc_now,
)
from srllm.training.label_loss import applies_to as labelled_loss_applies
from srllm.training.label_loss import labelled_positions_loss
from srllm.training.shared_prompt import applies as shares_prompt_start
from srllm.training.shared_prompt import prompt_start_cache, shareable, shared_start_len

log = logging.getLogger(__name__)


class EpochSeededLengthSampler:
    """Length-grouped batches (little padding) in an order fixed by (seed, epoch) alone.

    transformers' LengthGroupedSampler draws its permutation from the global RNG
    when the epoch starts, and every evaluation pass consumes global random numbers
    (the DataLoader's base seed); a run resumed mid-epoch would then see another
    order than the uninterrupted run. Seeding a private generator with seed + epoch
    makes the order a function of the epoch only, so resumption is exact.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose order to draw next (called by the trainer at each epoch start)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        import torch
        from transformers.trainer_pt_utils import get_length_grouped_indices

        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=g))


def _takes_logits_to_keep(model: Any) -> bool:
    """Whether the causal LM under ``model`` (a peft wrapper or not) accepts ``logits_to_keep``."""
    import inspect

    base = causal_lm(model)
    return "logits_to_keep" in inspect.signature(type(base).forward).parameters


def _trainer_class() -> type:
    from transformers import Trainer

    class SrllmTrainer(Trainer):
        """Trainer whose training order depends on (seed, epoch) only; see :class:`EpochSeededLengthSampler`.

        It also counts what the training steps compute (issue: training throughput): the
        tokens of every training batch, how many of them are padding, and the seconds spent
        in forward and backward passes, for :func:`throughput_record`.
        """

        def __init__(self, *a: Any, share_prompt_start: bool = False, **kw: Any) -> None:
            super().__init__(*a, **kw)
            # compute each batch's shared prompt start once (srllm.training.shared_prompt)
            self.share_prompt_start = share_prompt_start
            self.throughput = {"batches": 0, "tokens": 0, "padded_tokens": 0, "response_tokens": 0,
                               "step_seconds": 0.0, "shared_start_tokens": 0}

        def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
            mask = inputs.get("attention_mask")
            t0 = time.perf_counter()
            loss = super().training_step(model, inputs, num_items_in_batch)
            c = self.throughput
            c["step_seconds"] += time.perf_counter() - t0
            if mask is not None:
                real = int(mask.sum())
                c["batches"] += 1
                c["tokens"] += real
                c["padded_tokens"] += int(mask.numel()) - real
            labels = inputs.get("labels")
            if labels is not None:
                c["response_tokens"] += int((labels != -100).sum())
            return loss

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            """The library's loss, with the output layer applied only where a label is predicted, and a
            batch's shared prompt start computed once where :func:`srllm.training.shared_prompt.applies`.

            The loss is on response tokens only, yet a causal LM computes vocabulary
            logits (49,152 wide for SmolLM2) at every position, prompt included. For a
            Llama-architecture model the output layer runs at each row's labelled
            positions alone (:func:`srllm.training.label_loss.labelled_positions_loss`).
            For other architectures the logits are computed from the first position whose
            next token is a label in any row of the batch (``logits_to_keep``), and the
            labels are cut to the same window; the library's loss then shifts them as usual.
            Either way every term of the loss, and its gradient, is the one the full
            computation gives.
            """
            labels = inputs.get("labels")
            ids = inputs.get("input_ids")
            # Evaluation asks for the outputs too, but without compute_metrics the Trainer keeps only the loss.
            loss_only = not return_outputs or self.compute_metrics is None
            shared = (shared_start_len(ids, labels, inputs.get("attention_mask"))
                      if self.share_prompt_start and loss_only and labels is not None and ids is not None
                      and shareable(model) else 0)
            if shared:
                # the shared start once, as a cache; the rest of each row attends to it (the mask stays whole)
                inputs = {**inputs, "input_ids": ids[:, shared:], "labels": labels[:, shared:], "use_cache": True,
                          "cache": prompt_start_cache(model, ids, shared)}
                labels = inputs["labels"]
                if model.training:
                    self.throughput["shared_start_tokens"] += shared * (ids.shape[0] - 1)
            if labels is not None and loss_only and labels.dim() == 2 and labelled_loss_applies(model):
                # the output layer at each row's labelled positions only (srllm.training.label_loss)
                loss = labelled_positions_loss(model, inputs,
                                               num_items_in_batch if self.model_accepts_loss_kwargs else None)
                return (loss, {"loss": loss}) if return_outputs else loss
            if (labels is not None and loss_only and labels.dim() == 2
                    and labels.shape[1] > 1 and _takes_logits_to_keep(model)):
                predicted = (labels[:, 1:] != -100).any(dim=0).nonzero()
                if len(predicted):
                    first = int(predicted[0])  # logits at `first` predict the label at `first + 1`
                    inputs = {**inputs, "labels": labels[:, first:], "logits_to_keep": labels.shape[1] - first}
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            ds = train_dataset if train_dataset is not None else self.train_dataset
            return EpochSeededLengthSampler(ds["length"], self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                            self.args.data_seed if self.args.data_seed is not None else self.args.seed)

    return SrllmTrainer


def throughput_record(counts: dict[str, Any], session_seconds: float) -> dict[str, Any]:
    """Tokens per second and padding share of the last training session (resumed runs: that session only).

    ``tokens``: non-padding tokens of the training batches (prompt and response);
    ``padding_share``: padded positions / all positions computed; ``tokens_per_s``:
    over the whole session (evaluations and checkpoints included); ``step_tokens_per_s``:
    over the forward and backward passes only; ``shared_start_tokens``: prompt positions not computed
    because their batch's shared prompt start ran once (:mod:`srllm.training.shared_prompt`), and
    ``computed_share``: the share of the batches' positions (padding included) that were computed.
    """
    tokens, padded, secs = counts.get("tokens", 0), counts.get("padded_tokens", 0), counts.get("step_seconds", 0.0)
    total = tokens + padded
    shared = counts.get("shared_start_tokens", 0)
    return {"batches": counts.get("batches", 0), "tokens": tokens, "padded_tokens": padded,
            "response_tokens": counts.get("response_tokens", 0),
            "padding_share": round(padded / total, 4) if total else None,
            "shared_start_tokens": shared, "computed_share": round((total - shared) / total, 4) if total else None,
            "tokens_per_s": round(tokens / session_seconds, 2) if session_seconds > 0 and tokens else None,
            "step_tokens_per_s": round(tokens / secs, 2) if secs > 0 and tokens else None,
            "step_seconds": round(secs, 2), "session_seconds": round(session_seconds, 2)}


def _make_session_callback(run_dir: Path, monitor: Any, previous: list[dict[str, Any]], start_step: int,
                           started_at: str, write: bool = True) -> Any:
    from transformers import TrainerCallback

    class SessionRecorder(TrainerCallback):
        """Writes this session's time and power beside the checkpoints, so a kill loses little."""

        def __init__(self) -> None:
            self.last_step = start_step

        def write(self, step: int) -> list[dict[str, Any]]:
            sessions = previous + [session_dict(monitor.finish(), start_step, step, started_at)]
            if write:  # only the main process of a multi-process run keeps the record
                atomic_write_text(run_dir / SESSIONS, json.dumps(sessions, indent=1))
            return sessions

        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001
            self.last_step = state.global_step
            self.write(state.global_step)

    return SessionRecorder()


def _training_arguments(cfg: TrainConfig, out: Path, has_eval: bool, progress: bool, resuming: bool) -> Any:
    from transformers import TrainingArguments

    early = has_eval and cfg.patience > 0
    kwargs: dict[str, Any] = dict(
        output_dir=str(out), per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size, gradient_accumulation_steps=cfg.grad_accum,
        num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.scheduler, warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm, optim=cfg.optim, adam_beta1=cfg.adam_beta1, adam_beta2=cfg.adam_beta2,
        fp16=cfg.fp16, bf16=cfg.bf16, logging_steps=cfg.logging_steps, logging_first_step=True,
        save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=2,
        eval_strategy="steps" if has_eval else "no", eval_steps=cfg.eval_steps if has_eval else None,
        # An evaluation before the first step gives the loss curve its starting point;
        # a resumed run already has it in its restored log history.
        eval_on_start=has_eval and not resuming,
        load_best_model_at_end=early, metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None, restore_callback_states_from_checkpoint=True,
        remove_unused_columns=False,
        seed=cfg.seed, data_seed=cfg.seed, report_to=[], disable_tqdm=not progress,
        dataloader_num_workers=0, use_cpu=cfg.device == "cpu", activation_checkpointing=False,
    )
    return TrainingArguments(**kwargs)


def train(method: str | None = None, profile: Any = "cpu", records_train: Sequence[Any] | None = None,
          records_eval: Sequence[Any] | None = None, out_dir: str | os.PathLike | None = None, *,
          resume: bool = True, merge: bool = True, keep_checkpoints: bool = False, progress: bool = True,
          callbacks: Sequence[Any] = (), data_source: str | None = None, **overrides: Any) -> RunResult:
    """Train ``method`` (qlora | lora | prefix | dense) under ``profile``; return the finished run.

    ``records_train`` / ``records_eval``: records with ``text`` and ``safe_variation``
    (``srllm.data.Record`` or dicts). Default: the bundled CMD sample's train and
    dev splits under the profile. Records without a safe variation are skipped and
    counted in the manifest. Without evaluation records (``records_eval=[]``, or
    None when ``records_train`` is given) the run has no evaluation and so no early
    stopping.

    ``out_dir``: the run folder (default ``<cache>/runs/<method>-<hash>``). A
    finished run with the same config and data is returned as is (``reused=True``;
    delete its folder to train again); an unfinished one resumes from its latest
    checkpoint unless ``resume=False``, which starts it afresh. ``overrides`` replace :class:`TrainConfig` fields
    (``max_steps=10``). ``callbacks``: extra ``transformers.TrainerCallback`` objects.
    """
    prof = resolve(profile)
    if records_train is None:
        d_train, d_eval, source = default_records(prof)
        records_train = d_train
        records_eval = d_eval if records_eval is None else records_eval
        data_source = data_source or source
    cfg = TrainConfig.from_profile(prof, method, **overrides)
    train_pairs, train_stats = to_pairs(records_train, "train")
    eval_pairs, eval_stats = to_pairs(records_eval or [], "eval")
    if not train_pairs:
        raise SrllmError(f"no training pairs: {train_stats.given} record(s) given, "
                         f"{train_stats.skipped_no_rewrite} without a safe_variation")
    dhash = data_hash(train_pairs, eval_pairs)
    h = run_hash(cfg, dhash)
    run_dir = Path(out_dir) if out_dir is not None else runs_dir() / f"{cfg.method}-{h}"

    ps = _process_state(cfg.device)
    is_main = ps is None or ps.is_main_process
    # Under `accelerate launch` every process runs this function; the main one owns the
    # folder (lock, claim, pruning, manifest) and the others follow it at barriers.
    with run_lock(run_dir) if is_main else contextlib.nullcontext():
        with ps.main_process_first() if ps is not None else contextlib.nullcontext():
            done = read_manifest(run_dir)
            reuse = done is not None and done.get("run_hash") == h
            if not reuse:
                if is_main:
                    claim_folder(run_dir, cfg, h, dhash, fresh=not resume)
                    prune_incomplete_checkpoints(run_dir / "checkpoints", latest_checkpoint(run_dir / "checkpoints"))
                resume_from = latest_checkpoint(run_dir / "checkpoints")
        if reuse:
            log.info("reusing finished run %s", run_dir)
            return RunResult(run_dir, cfg.method, h, done["config"], done, reused=True)
        tok = load_tokenizer(cfg.model)
        tok.padding_side = "right"
        train_ex = tokenize_pairs(train_pairs, tok, cfg.prompt_format, cfg.max_length, train_stats)
        eval_ex = tokenize_pairs(eval_pairs, tok, cfg.prompt_format, cfg.max_length, eval_stats)
        if not train_ex:
            raise SrllmError(f"every training example lost its response to max_length={cfg.max_length}")
        manifest = _run_trainer(cfg, h, dhash, run_dir, tok, train_ex, eval_ex, train_stats, eval_stats,
                                resume_from=resume_from, ps=ps, merge=merge, keep_checkpoints=keep_checkpoints,
                                progress=progress, callbacks=callbacks,
                                data_source=data_source or "records passed to train()")
        return RunResult(run_dir, cfg.method, h, manifest["config"], manifest, reused=False)


def _process_state(device: str) -> Any | None:
    """accelerate's process state when several processes train together (``accelerate launch``,
    ``torchrun``: WORLD_SIZE > 1), else None. Creating it joins the process group
    (gloo on CPU, NCCL on CUDA), which the Trainer then reuses."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    return PartialState(cpu=device == "cpu")


def _run_trainer(cfg: TrainConfig, h: str, dhash: str, run_dir: Path, tok: Any, train_ex: list[dict[str, Any]],
                 eval_ex: list[dict[str, Any]], train_stats: DataStats, eval_stats: DataStats, *,
                 resume_from: Path | None, ps: Any | None, merge: bool, keep_checkpoints: bool, progress: bool,
                 callbacks: Sequence[Any], data_source: str) -> dict[str, Any]:
    import datasets
    from transformers import EarlyStoppingCallback, set_seed

    ckpt_dir = run_dir / "checkpoints"
    is_main = ps is None or ps.is_main_process
    world = ps.num_processes if ps is not None else 1
    previous_sessions: list[dict[str, Any]] = []
    if resume_from is not None:
        log.info("resuming %s from %s", run_dir, resume_from.name)
        try:
            previous_sessions = json.loads((run_dir / SESSIONS).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            previous_sessions = []
    start_step = int(resume_from.name.split("-", 1)[1]) if resume_from is not None else 0

    set_seed(cfg.seed)  # the adapter's random initialisation depends on it
    model, _ = load_base(cfg)
    model = attach_method(model, cfg)
    if cfg.init_adapter is not None and resume_from is None:  # a resumed run restores its own weights
        load_init_adapter(model, cfg)
    counts = trainable_counts(model)
    has_eval = bool(eval_ex)
    args = _training_arguments(cfg, ckpt_dir, has_eval, progress, resuming=resume_from is not None)
    guard = GradientGuard(cfg.method)
    started_at = utc_now()
    with PowerMonitor(cfg.device) as monitor:
        recorder = _make_session_callback(run_dir, monitor, previous_sessions, start_step, started_at,
                                          write=is_main)
        cbs = [guard, recorder, *callbacks]
        if has_eval and cfg.patience > 0:
            cbs.append(EarlyStoppingCallback(early_stopping_patience=cfg.patience))
        trainer = _trainer_class()(model=model, args=args, train_dataset=datasets.Dataset.from_list(train_ex),
                          eval_dataset=datasets.Dataset.from_list(eval_ex) if has_eval else None,
                          data_collator=Collator(tok), callbacks=cbs,
                          share_prompt_start=shares_prompt_start(cfg))
        if not progress:  # quiet: no per-step log lines on stdout either (the manifest keeps them)
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        t0 = time.perf_counter()
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from is not None else None)
        session_seconds = time.perf_counter() - t0
        state = trainer.state
        throughput = dict(trainer.throughput)
        sessions = recorder.write(state.global_step)

    if not is_main:  # the main process saves, merges and writes the manifest; wait for it, then read it
        del trainer, model
        ps.wait_for_everyone()
        manifest = read_manifest(run_dir)
        if manifest is None:
            raise SrllmError(f"process {ps.process_index}: the main process wrote no manifest in {run_dir}")
        return manifest
    final = trainer.model
    adapter_dir = merged_dir = None
    if cfg.method == "dense":
        merged_dir = "merged"
        write_folder(run_dir / merged_dir, lambda p: (final.save_pretrained(p), tok.save_pretrained(p)))
    else:
        adapter_dir = "adapter"
        write_folder(run_dir / adapter_dir, lambda p: (final.save_pretrained(p), tok.save_pretrained(p)))
    del trainer, final, model
    merge_seconds = None
    if merge and cfg.method in ("qlora", "lora"):
        t1 = time.perf_counter()
        merged_dir = "merged"
        merge_adapter(cfg, run_dir / adapter_dir, run_dir / merged_dir)
        merge_seconds = time.perf_counter() - t1

    history = list(state.log_history)
    evals = [x["eval_loss"] for x in history if "eval_loss" in x]
    losses = [x["loss"] for x in history if "loss" in x]
    manifest = {
        "status": "finished",
        "run_hash": h,
        "method": cfg.method,
        "model": cfg.model,
        "profile": cfg.profile,
        "config": cfg.to_dict(),
        "notes": list(cfg.notes),
        "seed": cfg.seed,
        "data": {"source": data_source, "hash": dhash, "train_given": train_stats.given,
                 "train_used": train_stats.used, "train_skipped_no_rewrite": train_stats.skipped_no_rewrite,
                 "train_truncated": train_stats.truncated,
                 "train_dropped_no_response": train_stats.dropped_no_response_tokens,
                 "eval_given": eval_stats.given, "eval_used": eval_stats.used,
                 "eval_skipped_no_rewrite": eval_stats.skipped_no_rewrite, "eval_truncated": eval_stats.truncated},
        "packages": package_versions(),
        "device": device_info(cfg.device),
        **counts,
        "global_step": int(state.global_step),
        "max_steps": int(state.max_steps),
        "epoch": float(state.epoch or 0.0),
        "stopped_early": bool(has_eval and cfg.patience > 0 and state.global_step < state.max_steps),
        "resumed_from_step": start_step if start_step else None,
        "processes": world,
        "distributed_backend": str(ps.backend) if ps is not None else None,
        "sessions": len(sessions),
        "wall_seconds": sum(s["seconds"] for s in sessions),
        "last_session_train_seconds": session_seconds,
        "merge_seconds": merge_seconds,
        "throughput": throughput_record(throughput, session_seconds),
        "first_eval_loss": evals[0] if evals else None,
        "best_eval_loss": state.best_metric if state.best_metric is not None else (evals[-1] if evals else None),
        "last_eval_loss": evals[-1] if evals else None,
        "first_train_loss": losses[0] if losses else None,
        "final_train_loss": losses[-1] if losses else None,
        "best_checkpoint_step": checkpoint_step(state.best_model_checkpoint),
        "gradient_check": guard.report,
        "log_history": history,
        "energy": energy_record(sessions),
        "adapter_dir": adapter_dir,
        "merged_dir": merged_dir,
        "finished_at": utc_now(),
    }
    if not keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    atomic_write_text(run_dir / MANIFEST, json.dumps(manifest, indent=1, default=str))
    if ps is not None:
        ps.wait_for_everyone()
    return manifest

