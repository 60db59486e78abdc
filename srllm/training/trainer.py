"""Training SR_LLM: QLoRA, LoRA, prefix-tuning and dense fine-tuning (Sections 2.2, 3.1, 4.5, 4.6).

One entry point, :func:`train`, takes a method, a profile and the training
records, and returns a :class:`RunResult` pointing at a run folder:

``<cache>/runs/<method>-<hash>/``
    ``config.json``    the resolved :class:`TrainConfig` and the data hash (written first)
    ``checkpoints/``   Trainer checkpoints every ``save_steps`` (removed once the run has finished)
    ``adapter/``       the trained peft adapter (qlora, lora, prefix)
    ``merged/``        adapter merged into full-precision base weights (qlora, lora), or the dense model
    ``sessions.json``  wall time and power of every session (a resumed run has several)
    ``manifest.json``  the run record, written last with ``"status": "finished"``

The folder name is a hash of the resolved config and of the training and
evaluation data, so a second call with the same inputs returns the finished run
instead of training again, and an interrupted run resumes from its latest
checkpoint (model, optimizer, scheduler and RNG states).

Under ``accelerate launch`` (several processes, DDP) every process calls
:func:`train`; the main process alone holds the folder's lock, prunes
checkpoints, saves, merges and writes the manifest, and the others wait for it
at barriers and then return the same run.

The loss is Eq. (1) of the paper over the response tokens only: prompt tokens
carry label -100 (:func:`srllm.prompts.tokenize_example`).

Departures and choices, all recorded in the manifest's ``notes``:

* Paged AdamW (and the 8-bit optimizers) need CUDA; on CPU the run uses ``adamw_torch``.
* fp16 mixed precision needs CUDA; on CPU the run computes in float32 (or bf16
  autocast where a profile asks for it and the CPU supports it).
* Table 3 pairs a *constant* schedule with a 0.03 warmup ratio. transformers'
  ``constant`` schedule has no warmup, so, as in the authors' script, the ratio
  has no effect; use ``constant_with_warmup`` to apply it.
* Table 3 lists a 0.1 dropout for prefix-tuning; peft's PrefixTuningConfig has no
  dropout setting, so :func:`srllm.train_model.apply_prefix_dropout` applies it to the
  prefix key/values during training with a forward hook (as Li and Liang's ``prefix_dropout``).
* The paper gives no learning rate for dense fine-tuning; profiles set
  ``train.dense_learning_rate`` (2e-5 by default, a usual full fine-tuning rate).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from srllm.cache import atomic_write_text, cache_dir, stable_hash, write_folder
from srllm.errors import SrllmError

log = logging.getLogger(__name__)

METHODS = ("qlora", "lora", "prefix", "dense")
CPU_OPTIMIZERS = ("adamw_torch",)
MANIFEST = "manifest.json"
CONFIG = "config.json"
SESSIONS = "sessions.json"


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run's result; its hash names the run folder.

    Build it with :meth:`from_profile`; the method decides which profile values
    apply (prefix-tuning has its own learning rate, epochs and optimizer in
    Table 3) and the device decides the precision and optimizer fallbacks.
    """

    method: str
    model: str
    device: str
    seed: int
    prompt_format: str
    max_length: int
    batch_size: int
    eval_batch_size: int
    grad_accum: int
    epochs: float
    max_steps: int
    learning_rate: float
    scheduler: str
    warmup_ratio: float
    weight_decay: float
    max_grad_norm: float
    optim: str
    adam_beta1: float
    adam_beta2: float
    eval_steps: int
    save_steps: int
    patience: int
    logging_steps: int
    fp16: bool
    bf16: bool
    gradient_checkpointing: bool = False
    lora: dict[str, Any] | None = None
    quant: dict[str, Any] | None = None
    prefix: dict[str, Any] | None = None
    # A peft adapter folder whose weights the new adapter starts from (continued training, e.g. the
    # job-posting case study's phase 2); hashed by the adapter's content, not its path.
    init_adapter: str | None = None
    # Not part of the hash: where the values came from and what was changed.
    profile: str = field(default="", compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def bad(name: str, value: Any, why: str) -> SrllmError:
            return SrllmError(f"training config '{name}' = {value!r} is invalid: {why}")

        if self.method not in METHODS:
            raise bad("method", self.method, f"unknown method; choose one of {', '.join(METHODS)}")
        for name in ("batch_size", "eval_batch_size", "grad_accum", "max_length", "eval_steps", "save_steps",
                     "logging_steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise bad(name, v, "must be a positive integer")
        if not (isinstance(self.max_steps, int) and (self.max_steps == -1 or self.max_steps > 0)):
            raise bad("max_steps", self.max_steps, "must be -1 (train for `epochs`) or a positive integer")
        if not self.epochs > 0:
            raise bad("epochs", self.epochs, "must be positive")
        if not self.learning_rate > 0:
            raise bad("learning_rate", self.learning_rate, "must be positive")
        if not (isinstance(self.patience, int) and self.patience >= 0):
            raise bad("patience", self.patience, "must be a non-negative integer (0: no early stopping)")
        if self.save_steps % self.eval_steps:
            raise bad("save_steps", self.save_steps, f"must be a multiple of eval_steps={self.eval_steps} so that "
                      "the best checkpoint can be restored")
        if self.fp16 and self.bf16:
            raise bad("fp16/bf16", (self.fp16, self.bf16), "choose at most one")
        if self.method in ("qlora", "lora"):
            r = (self.lora or {}).get("r")
            if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
                raise bad("lora.r", r, "LoRA rank must be a positive integer")
            if not (self.lora or {}).get("target_modules"):
                raise bad("lora.target_modules", (self.lora or {}).get("target_modules"), "needs at least one module")
        if self.method == "qlora" and not self.quant:
            raise bad("quant", self.quant, "qlora needs 4-bit quantization settings")
        if self.method == "prefix":
            n = (self.prefix or {}).get("num_virtual_tokens")
            if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
                raise bad("prefix.num_virtual_tokens", n, "prefix length must be a positive integer")
            if (self.prefix or {}).get("init", "normal") not in ("normal", "zero"):
                raise bad("prefix.init", self.prefix.get("init"), "must be 'normal' or 'zero'")
        if self.init_adapter is not None:
            if self.method == "dense":
                raise bad("init_adapter", self.init_adapter, "dense fine-tuning trains no adapter to start from")
            if not (Path(self.init_adapter) / "adapter_config.json").is_file():
                raise bad("init_adapter", self.init_adapter, "not a peft adapter folder (no adapter_config.json)")

    @classmethod
    def from_profile(cls, profile: Any, method: str | None = None, **overrides: Any) -> "TrainConfig":
        """Resolve ``profile`` (a :class:`srllm.profiles.Profile` or its name) for ``method``.

        ``overrides`` replace resolved fields by name (``max_steps=10``, ``learning_rate=1e-3``).
        """
        from srllm.models import resolve_device
        from srllm.profiles import get_profile

        p = get_profile(profile) if isinstance(profile, str) else profile
        method = method or p.train.method
        if method not in METHODS:
            raise SrllmError(f"training config 'method' = {method!r} is invalid: unknown method; "
                             f"choose one of {', '.join(METHODS)}")
        t = p.train
        device = resolve_device(p.device)
        notes: list[str] = []
        lr, epochs, optim, max_steps, batch = t.learning_rate, t.epochs, t.optim, t.max_steps, t.batch_size
        if method == "prefix":
            lr, epochs, optim = p.prefix.learning_rate, p.prefix.epochs, p.prefix.optim
            if p.prefix.max_steps is not None:
                max_steps = p.prefix.max_steps
            if p.prefix.batch_size is not None:
                batch = p.prefix.batch_size
            if p.prefix.dropout:
                notes.append(f"prefix-tuning dropout {p.prefix.dropout} (Table 3): peft's PrefixTuningConfig has no "
                             "dropout setting, so srllm applies it to the prefix key/values with a forward hook "
                             "(srllm.train_model.apply_prefix_dropout), as Li and Liang's prefix_dropout does")
        elif method == "dense":
            lr = t.dense_learning_rate
        fp16, bf16 = t.fp16, t.bf16
        if device != "cuda":
            if optim != "adamw_torch":
                notes.append(f"optimizer {optim} needs CUDA; using adamw_torch on {device}")
                optim = "adamw_torch"
            if fp16:
                notes.append("fp16 mixed precision needs CUDA; computing in float32 on CPU")
                fp16 = False
            if bf16 and not _cpu_bf16_supported():
                notes.append("this CPU has no native bf16 support; computing in float32")
                bf16 = False
        if t.scheduler == "constant" and t.warmup_ratio > 0:
            notes.append("the constant schedule has no warmup, so warmup_ratio has no effect (as in Table 3's "
                         "setting); use constant_with_warmup to apply it")
        lora = quant = prefix = None
        if method in ("qlora", "lora"):
            lora = {"r": p.lora.r, "alpha": p.lora.alpha, "dropout": p.lora.dropout, "bias": p.lora.bias,
                    "target_modules": list(p.lora.target_modules)}
        if method == "qlora":
            compute = p.quant.compute_dtype
            if device != "cuda" and compute == "float16":
                notes.append("4-bit compute dtype float16 is slow and unsupported for training on CPU; using float32")
                compute = "float32"
            quant = {"quant_type": p.quant.quant_type, "double_quant": p.quant.double_quant, "compute_dtype": compute}
        if method == "prefix":
            prefix = {"num_virtual_tokens": p.prefix.num_virtual_tokens, "init": p.prefix.init,
                      "dropout": p.prefix.dropout}
            if p.prefix.init != "normal":
                notes.append(f"prefixes initialised '{p.prefix.init}' instead of Table 3's random normal")
        values: dict[str, Any] = dict(
            method=method, model=p.model, device=device, seed=p.seed, prompt_format=p.prompt_format,
            max_length=t.max_length, batch_size=batch, eval_batch_size=t.eval_batch_size,
            grad_accum=t.grad_accum, epochs=float(epochs), max_steps=max_steps, learning_rate=lr,
            scheduler=t.scheduler, warmup_ratio=t.warmup_ratio, weight_decay=t.weight_decay,
            max_grad_norm=t.max_grad_norm, optim=optim, adam_beta1=t.adam_beta1, adam_beta2=t.adam_beta2,
            eval_steps=t.eval_steps, save_steps=t.save_steps, patience=t.patience, logging_steps=t.logging_steps,
            fp16=fp16, bf16=bf16, lora=lora, quant=quant, prefix=prefix, profile=p.name)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise SrllmError(f"unknown training config field(s) {sorted(unknown)}; known: "
                             f"{sorted(f.name for f in dataclasses.fields(cls))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["device"] != "cuda" and values["optim"] not in CPU_OPTIMIZERS:
            notes.append(f"optimizer {values['optim']} needs CUDA; using adamw_torch on {values['device']}")
            values["optim"] = "adamw_torch"
        values["notes"] = tuple(notes) + tuple(values.get("notes") or ())
        return cls(**values)

    def hashed_fields(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("profile")
        d.pop("notes")
        init = d.pop("init_adapter")  # absent when unset, so earlier run hashes stay valid
        if init is not None:
            d["init_adapter"] = adapter_content_hash(init)
        return d

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _cpu_bf16_supported() -> bool:
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def adapter_content_hash(adapter_dir: str | os.PathLike) -> str:
    """Hash of a peft adapter folder's config and weight files (what a run started from it depends on)."""
    from srllm.cache import file_hash

    d = Path(adapter_dir)
    files = sorted(f for f in d.iterdir() if f.is_file() and (f.name == "adapter_config.json"
                                                               or f.name.startswith("adapter_model")))
    return stable_hash([(f.name, file_hash(f)) for f in files], length=16)


def load_init_adapter(model: Any, cfg: TrainConfig) -> None:
    """Copy ``cfg.init_adapter``'s weights into the freshly attached adapter of ``model``.

    The saved adapter must be of the same kind and shape as the one this config
    attaches (LoRA for qlora/lora with the same rank and target modules, or a
    prefix of the same length); every saved tensor must find its parameter.
    """
    from peft import load_peft_weights, set_peft_model_state_dict

    src = Path(cfg.init_adapter)
    saved = json.loads((src / "adapter_config.json").read_text(encoding="utf-8"))
    want = "PREFIX_TUNING" if cfg.method == "prefix" else "LORA"
    kind = str(saved.get("peft_type", "")).upper()
    if kind != want:
        raise SrllmError(f"init_adapter {src} is a {kind or 'unknown'} adapter; method {cfg.method} needs {want}")
    if want == "LORA":
        lo = cfg.lora or {}
        if saved.get("r") != lo.get("r") or set(saved.get("target_modules") or ()) != set(lo.get("target_modules") or ()):
            raise SrllmError(f"init_adapter {src} has rank {saved.get('r')} on {sorted(saved.get('target_modules') or ())}; "
                             f"this run attaches rank {lo.get('r')} on {sorted(lo.get('target_modules') or ())}")
    elif saved.get("num_virtual_tokens") != (cfg.prefix or {}).get("num_virtual_tokens"):
        raise SrllmError(f"init_adapter {src} has {saved.get('num_virtual_tokens')} virtual tokens; this run "
                         f"attaches {(cfg.prefix or {}).get('num_virtual_tokens')}")
    result = set_peft_model_state_dict(model, load_peft_weights(str(src), device="cpu"))
    if result.unexpected_keys:
        raise SrllmError(f"init_adapter {src}: {len(result.unexpected_keys)} saved tensor(s) match no parameter "
                         f"of this model, e.g. {result.unexpected_keys[0]}")


def run_hash(cfg: TrainConfig, data_hash: str) -> str:
    """Hash of the resolved config and the data: the run folder's name."""
    return stable_hash({"config": cfg.hashed_fields(), "data": data_hash}, length=12)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Pair:
    """One training pair: the unsafe text and its safe variation."""

    id: str
    text: str
    safe_variation: str


@dataclass
class DataStats:
    given: int = 0
    used: int = 0
    skipped_no_rewrite: int = 0
    truncated: int = 0
    dropped_no_response_tokens: int = 0


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def to_pairs(records: Iterable[Any], split: str = "train") -> tuple[list[Pair], DataStats]:
    """Pairs from records (``srllm.data.Record`` objects or dicts with ``text`` and ``safe_variation``).

    Records without a safe variation cannot be trained on: they are skipped and
    counted (never silently). A record whose ``text`` is missing or not a string
    is an error naming the split, row and id.
    """
    pairs: list[Pair] = []
    stats = DataStats()
    for i, r in enumerate(records, 1):
        stats.given += 1
        rid = _field(r, "id")
        text, safe = _field(r, "text"), _field(r, "safe_variation")
        where = f"{split} record {i}" + (f" (id {rid!r})" if rid is not None else "")
        if not isinstance(text, str) or not text.strip():
            raise SrllmError(f"{where}: field 'text' must be a non-empty string, got {text!r}")
        if safe is None or (isinstance(safe, str) and not safe.strip()):
            stats.skipped_no_rewrite += 1
            continue
        if not isinstance(safe, str):
            raise SrllmError(f"{where}: field 'safe_variation' must be a string, got {type(safe).__name__}")
        pairs.append(Pair(str(rid) if rid is not None else f"{split}-{i}", text, safe))
    return pairs, stats


def tokenize_pairs(pairs: Sequence[Pair], tokenizer: Any, fmt: str, max_length: int,
                   stats: DataStats) -> list[dict[str, Any]]:
    """Prompt + response token ids, labels -100 on the prompt (Eq. 1 over the response only).

    Examples cut so hard by ``max_length`` that no response token is left would
    contribute nothing to the loss; they are dropped and counted.
    """
    from srllm.prompts import format_prompt, tokenize_example

    out = []
    for p in pairs:
        ex = tokenize_example(format_prompt(p.text, fmt, tokenizer), p.safe_variation, tokenizer, max_length)
        stats.truncated += bool(ex.pop("truncated"))
        if all(lab == -100 for lab in ex["labels"]):
            stats.dropped_no_response_tokens += 1
            continue
        ex["length"] = len(ex["input_ids"])
        out.append(ex)
    stats.used = len(out)
    if stats.truncated:
        log.warning("%d example(s) were cut at max_length=%d tokens", stats.truncated, max_length)
    return out


def data_hash(train_pairs: Sequence[Pair], eval_pairs: Sequence[Pair]) -> str:
    return stable_hash([[p.text, p.safe_variation] for p in train_pairs],
                       [[p.text, p.safe_variation] for p in eval_pairs], length=16)


def default_records(profile: Any) -> tuple[list[Any], list[Any], str]:
    """The CMD train and dev splits the profile's data source gives (seed and row limits applied).

    The source (bundled sample, Hub dataset or local copy), its revision and the split sizes
    are named in the returned description, which goes into the run record.
    """
    from srllm.data.sources import load_dataset_for, profile_splits

    parts = profile_splits(profile, "cmd")
    return parts["train"], parts["dev"], f"{load_dataset_for(profile, 'cmd').describe()}; train / dev"


class _Collator:
    """Pads a batch to its longest example: ids with the pad token, labels with -100."""

    def __init__(self, tokenizer: Any) -> None:
        from transformers import DataCollatorForSeq2Seq

        self.inner = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100, return_tensors="pt")

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        return self.inner([{k: f[k] for k in ("input_ids", "attention_mask", "labels")} for f in features])


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
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        import torch
        from transformers.trainer_pt_utils import get_length_grouped_indices

        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=g))


def _trainer_class() -> type:
    from transformers import Trainer

    class SrllmTrainer(Trainer):
        """Trainer whose training order depends on (seed, epoch) only; see :class:`EpochSeededLengthSampler`.

        It also counts what the training steps compute (issue: training throughput): the
        tokens of every training batch, how many of them are padding, and the seconds spent
        in forward and backward passes, for :func:`throughput_record`.
        """

        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.throughput = {"batches": 0, "tokens": 0, "padded_tokens": 0, "response_tokens": 0,
                               "step_seconds": 0.0}

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
    over the forward and backward passes only.
    """
    tokens, padded, secs = counts.get("tokens", 0), counts.get("padded_tokens", 0), counts.get("step_seconds", 0.0)
    total = tokens + padded
    return {"batches": counts.get("batches", 0), "tokens": tokens, "padded_tokens": padded,
            "response_tokens": counts.get("response_tokens", 0),
            "padding_share": round(padded / total, 4) if total else None,
            "tokens_per_s": round(tokens / session_seconds, 2) if session_seconds > 0 and tokens else None,
            "step_tokens_per_s": round(tokens / secs, 2) if secs > 0 and tokens else None,
            "step_seconds": round(secs, 2), "session_seconds": round(session_seconds, 2)}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RunResult:
    """A finished training run: its folder, config and run record."""

    run_dir: Path
    method: str
    run_hash: str
    config: dict[str, Any]
    manifest: dict[str, Any]
    reused: bool

    @property
    def model(self) -> str:
        return self.config["model"]

    @property
    def adapter_dir(self) -> Path | None:
        d = self.manifest.get("adapter_dir")
        return self.run_dir / d if d else None

    @property
    def merged_dir(self) -> Path | None:
        d = self.manifest.get("merged_dir")
        return self.run_dir / d if d else None

    @property
    def log_history(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("log_history", []))

    @property
    def final_train_loss(self) -> float | None:
        return self.manifest.get("final_train_loss")

    @property
    def final_eval_loss(self) -> float | None:
        return self.manifest.get("best_eval_loss")

    def loss_curves(self) -> dict[str, list[tuple[int, float]]]:
        """``{"train": [(step, loss)], "eval": [(step, eval_loss)]}`` for plotting."""
        return loss_curves(self.log_history)

    def summary(self) -> dict[str, Any]:
        """A flat row for tables: method, steps, time, losses, energy."""
        m = self.manifest
        e = m.get("energy", {})
        return {"method": self.method, "model": self.model, "device": m.get("device", {}).get("device"),
                "steps": m.get("global_step"), "epochs": m.get("epoch"), "train_rows": m.get("data", {}).get("train_used"),
                "wall_minutes": round(m.get("wall_seconds", 0.0) / 60.0, 2),
                "first_eval_loss": m.get("first_eval_loss"), "best_eval_loss": m.get("best_eval_loss"),
                "final_train_loss": m.get("final_train_loss"), "energy_kwh": e.get("energy_kwh"),
                "kg_co2e": e.get("kg_co2e"), "power_source": ", ".join(e.get("power_sources", [])),
                "tokens_per_s": (m.get("throughput") or {}).get("tokens_per_s"),
                "padding_share": (m.get("throughput") or {}).get("padding_share"),
                "reused": self.reused, "run_dir": str(self.run_dir)}


def loss_curves(log_history: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    train = [(int(h["step"]), float(h["loss"])) for h in log_history if "loss" in h and "step" in h]
    ev = [(int(h["step"]), float(h["eval_loss"])) for h in log_history if "eval_loss" in h and "step" in h]
    return {"train": train, "eval": ev}


def load_run(run_dir: str | os.PathLike) -> RunResult:
    """The :class:`RunResult` of a finished run folder (raises when it has not finished)."""
    run_dir = Path(run_dir)
    manifest = _read_manifest(run_dir)
    if manifest is None:
        raise SrllmError(f"{run_dir} holds no finished training run (no {MANIFEST} with status 'finished')")
    return RunResult(run_dir, manifest["method"], manifest["run_hash"], manifest["config"], manifest, reused=True)


def _read_manifest(run_dir: Path) -> dict[str, Any] | None:
    try:
        m = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return m if isinstance(m, dict) and m.get("status") == "finished" else None


def runs_dir() -> Path:
    d = cache_dir() / "runs"
    d.mkdir(parents=True, exist_ok=True)
    return d


# --------------------------------------------------------------------------- run folder helpers


@contextlib.contextmanager
def _run_lock(run_dir: Path) -> Iterator[None]:
    """One trainer per run folder; a second process waits, then finds the finished run."""
    import fcntl

    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another process is training %s; waiting for it", run_dir)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest complete checkpoint (its trainer_state.json, written last, parses), or None."""
    if not ckpt_dir.is_dir():
        return None
    found = []
    for d in ckpt_dir.glob("checkpoint-*"):
        try:
            step = int(d.name.split("-", 1)[1])
            json.loads((d / "trainer_state.json").read_text(encoding="utf-8"))
        except (ValueError, OSError, json.JSONDecodeError):
            continue  # a checkpoint cut short by an interruption
        found.append((step, d))
    return max(found)[1] if found else None


def _prune_incomplete_checkpoints(ckpt_dir: Path, keep: Path | None) -> None:
    if not ckpt_dir.is_dir():
        return
    for d in ckpt_dir.glob("checkpoint-*"):
        if keep is not None and d.name == keep.name:
            continue
        try:
            step = int(d.name.split("-", 1)[1])
        except ValueError:
            continue
        if keep is None or step > int(keep.name.split("-", 1)[1]):
            log.warning("removing incomplete checkpoint %s", d)
            shutil.rmtree(d, ignore_errors=True)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- training


def _make_session_callback(run_dir: Path, monitor: Any, previous: list[dict[str, Any]], start_step: int,
                           started_at: str, write: bool = True) -> Any:
    from transformers import TrainerCallback

    from srllm.runrecord import session_dict

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
        dataloader_num_workers=0, use_cpu=cfg.device == "cpu", gradient_checkpointing=False,
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
    from srllm.models import load_tokenizer
    from srllm.profiles import get_profile

    prof = get_profile(profile) if isinstance(profile, str) else profile
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
    with _run_lock(run_dir) if is_main else contextlib.nullcontext():
        with ps.main_process_first() if ps is not None else contextlib.nullcontext():
            done = _read_manifest(run_dir)
            reuse = done is not None and done.get("run_hash") == h
            if not reuse:
                if is_main:
                    _claim_folder(run_dir, cfg, h, dhash, fresh=not resume)
                    _prune_incomplete_checkpoints(run_dir / "checkpoints", latest_checkpoint(run_dir / "checkpoints"))
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


def profile_run_name(profile: Any = "cpu", method: str | None = None) -> str:
    """The run folder name (``<method>-<hash>``) that ``train(method, profile)`` uses with the
    profile's own settings and default data: how the book's SR_LLM run is found again by
    its settings, never by age (a workshop or sweep run has other settings, so another name)."""
    from srllm.profiles import get_profile

    prof = get_profile(profile) if isinstance(profile, str) else profile
    d_train, d_eval, _ = default_records(prof)
    cfg = TrainConfig.from_profile(prof, method)
    train_pairs, _ = to_pairs(d_train, "train")
    eval_pairs, _ = to_pairs(d_eval, "eval")
    return f"{cfg.method}-{run_hash(cfg, data_hash(train_pairs, eval_pairs))}"


def find_profile_run(profile: Any = "cpu", method: str | None = None,
                     root: str | os.PathLike | None = None) -> RunResult | None:
    """The finished run of ``train(method, profile)`` under ``root`` (default the cache's runs/), or None."""
    run_dir = (Path(root) if root is not None else runs_dir()) / profile_run_name(profile, method)
    return load_run(run_dir) if _read_manifest(run_dir) is not None else None


def _process_state(device: str) -> Any | None:
    """accelerate's process state when several processes train together (``accelerate launch``,
    ``torchrun``: WORLD_SIZE > 1), else None. Creating it joins the process group
    (gloo on CPU, NCCL on CUDA), which the Trainer then reuses."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    return PartialState(cpu=device == "cpu")


def _claim_folder(run_dir: Path, cfg: TrainConfig, h: str, dhash: str, fresh: bool) -> None:
    """Record which run this folder holds; refuse to mix two different runs in one folder."""
    cfg_path = run_dir / CONFIG
    if cfg_path.exists() and not fresh:
        try:
            held = json.loads(cfg_path.read_text(encoding="utf-8")).get("run_hash")
        except (OSError, json.JSONDecodeError):
            held = None
        if held is not None and held != h:
            raise SrllmError(f"{run_dir} holds a different training run (hash {held}, this one is {h}); "
                             "choose another output folder or remove it")
    if fresh:
        for name in ("checkpoints", "adapter", "merged", SESSIONS, MANIFEST):
            p = run_dir / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    atomic_write_text(cfg_path, json.dumps({"run_hash": h, "data_hash": dhash, "config": cfg.to_dict()}, indent=2))


def _run_trainer(cfg: TrainConfig, h: str, dhash: str, run_dir: Path, tok: Any, train_ex: list[dict[str, Any]],
                 eval_ex: list[dict[str, Any]], train_stats: DataStats, eval_stats: DataStats, *,
                 resume_from: Path | None, ps: Any | None, merge: bool, keep_checkpoints: bool, progress: bool,
                 callbacks: Sequence[Any], data_source: str) -> dict[str, Any]:
    import datasets
    from transformers import EarlyStoppingCallback, set_seed

    from srllm.runrecord import PowerMonitor, device_info, energy_record, package_versions
    from srllm.train_model import GradientGuard, attach_method, load_base, merge_adapter, trainable_counts

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
    started_at = _now()
    with PowerMonitor(cfg.device) as monitor:
        recorder = _make_session_callback(run_dir, monitor, previous_sessions, start_step, started_at,
                                          write=is_main)
        cbs = [guard, recorder, *callbacks]
        if has_eval and cfg.patience > 0:
            cbs.append(EarlyStoppingCallback(early_stopping_patience=cfg.patience))
        trainer = _trainer_class()(model=model, args=args, train_dataset=datasets.Dataset.from_list(train_ex),
                          eval_dataset=datasets.Dataset.from_list(eval_ex) if has_eval else None,
                          data_collator=_Collator(tok), callbacks=cbs)
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
        manifest = _read_manifest(run_dir)
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
        "best_checkpoint_step": _step_of(state.best_model_checkpoint),
        "gradient_check": guard.report,
        "log_history": history,
        "energy": energy_record(sessions),
        "adapter_dir": adapter_dir,
        "merged_dir": merged_dir,
        "finished_at": _now(),
    }
    if not keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    atomic_write_text(run_dir / MANIFEST, json.dumps(manifest, indent=1, default=str))
    if ps is not None:
        ps.wait_for_everyone()
    return manifest


def _step_of(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    try:
        return int(Path(checkpoint).name.split("-", 1)[1])
    except (ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- human-evaluation variants


@dataclass(frozen=True)
class Variant:
    """A model variant of the human evaluation (Section 4.6, Table 8, Fig. 5)."""

    name: str
    method: str
    epochs: float | None  # None: the method's own epochs from the profile (prefix-tuning: Table 3's 5)
    description: str


VARIANTS: dict[str, Variant] = {
    "Safe_PEFT-1_ep": Variant("Safe_PEFT-1_ep", "qlora", 1.0, "PEFT (QLoRA) for one epoch: the default SR_LLM"),
    "Safe_PEFT-5_ep": Variant("Safe_PEFT-5_ep", "qlora", 5.0, "PEFT (QLoRA) extended to five epochs"),
    "Safe_Dense-IFT": Variant("Safe_Dense-IFT", "dense", 5.0, "dense (all-weight) instruction fine-tuning, five epochs"),
    "Safe_Prefix": Variant("Safe_Prefix", "prefix", None,
                           "prefix-tuning on the frozen base (the paper's 'Safe_Dense-IT or prefix-tuning')"),
}
# The paper spells the PEFT variants "Safe_PEFIT" in places and calls prefix-tuning "Safe_Dense-IT".
VARIANT_ALIASES = {"Safe_PEFIT-1_ep": "Safe_PEFT-1_ep", "Safe_PEFIT-5_ep": "Safe_PEFT-5_ep",
                   "Safe_Dense-IT": "Safe_Prefix"}


def variant_plan(name: str, profile: Any) -> dict[str, Any]:
    """How ``profile`` realises a variant: method, epochs, steps and how many training rows.

    With ``train.variant_epoch_steps`` = k (budget profiles), one "epoch" is a real
    pass over the first k x batch x grad_accum training pairs, so five epochs repeat
    those pairs five times, as five epochs do, at a fraction of the cost. Without
    it (the paper profile) the variant trains for real epochs over the full split.
    """
    from srllm.profiles import get_profile

    p = get_profile(profile) if isinstance(profile, str) else profile
    key = VARIANT_ALIASES.get(name, name)
    if key not in VARIANTS:
        raise SrllmError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}")
    v = VARIANTS[key]
    epochs = v.epochs if v.epochs is not None else p.prefix.epochs
    k = p.train.variant_epoch_steps
    if k is None:
        return {"variant": key, "method": v.method, "epochs": epochs, "max_steps": -1, "train_rows": None,
                "batch_size": None}
    batch = p.train.variant_batch_size or p.train.batch_size
    rows = k * batch * p.train.grad_accum
    return {"variant": key, "method": v.method, "epochs": epochs, "max_steps": max(1, round(k * epochs)),
            "train_rows": rows, "batch_size": batch if p.train.variant_batch_size else None}


def train_variant(name: str, profile: Any = "cpu", records_train: Sequence[Any] | None = None,
                  records_eval: Sequence[Any] | None = None, **kwargs: Any) -> RunResult:
    """Train (or reuse) one human-evaluation variant (Section 4.6) under ``profile``; see :func:`variant_plan`."""
    from srllm.profiles import get_profile

    prof = get_profile(profile) if isinstance(profile, str) else profile
    plan = variant_plan(name, prof)
    source = kwargs.pop("data_source", None)
    if records_train is None:
        records_train, d_eval, source = default_records(prof)
        records_eval = d_eval if records_eval is None else records_eval
    if plan["train_rows"] is not None:
        usable, _ = to_pairs(records_train, "train")
        records_train = [{"id": p.id, "text": p.text, "safe_variation": p.safe_variation}
                         for p in usable[: plan["train_rows"]]]
        source = f"{source or 'records'}; first {len(records_train)} pairs for variant {plan['variant']}"
    if plan.get("batch_size") is not None:
        kwargs.setdefault("batch_size", plan["batch_size"])
    return train(plan["method"], prof, records_train, records_eval, data_source=source,
                 epochs=plan["epochs"], max_steps=plan["max_steps"], **kwargs)


if __name__ == "__main__":  # ``python -m srllm.train ...`` is ``srllm train ...``
    from srllm.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))
