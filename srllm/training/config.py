"""The resolved settings of one training run (:class:`TrainConfig`) and the hash that names its folder.

:meth:`TrainConfig.from_profile` turns a profile into the values one method
trains with (prefix-tuning has its own learning rate, epochs and optimizer in
Table 3) and applies the device's fallbacks, recording each in ``notes``:

* Paged AdamW (and the 8-bit optimizers) need CUDA; on CPU the run uses ``adamw_torch``.
* fp16 mixed precision needs CUDA; on CPU the run computes in float32 (or bf16
  autocast where a profile asks for it and the CPU supports it).
* Table 3 pairs a *constant* schedule with a 0.03 warmup ratio. transformers'
  ``constant`` schedule has no warmup, so, as in the authors' script, the ratio
  has no effect; use ``constant_with_warmup`` to apply it.
* Table 3 lists a 0.1 dropout for prefix-tuning; peft's PrefixTuningConfig has no
  dropout setting, so :func:`srllm.training.model.apply_prefix_dropout` applies it to the
  prefix key/values during training with a forward hook (as Li and Liang's ``prefix_dropout``).
* The paper gives no learning rate for dense fine-tuning; profiles set
  ``train.dense_learning_rate`` (2e-5 by default, a usual full fine-tuning rate).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srllm.cache import adapter_fingerprint, stable_hash
from srllm.errors import SrllmError
from srllm.models import cpu_bf16_supported as _cpu_bf16_supported  # module global, so tests can replace it
from srllm.models import resolve_device
from srllm.profiles import resolve

METHODS = ("qlora", "lora", "prefix", "dense")


CPU_OPTIMIZERS = ("adamw_torch",)


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
        """Raise :class:`SrllmError` naming the first invalid field.

        Beyond ranges, checks what only holds together: ``save_steps`` a multiple of ``eval_steps``
        (so the best checkpoint can be restored), the method's adapter settings present, and an
        ``init_adapter`` that is a peft folder.
        """
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
        p = resolve(profile)
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
                             "(srllm.training.model.apply_prefix_dropout), as Li and Liang's prefix_dropout does")
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
            if device != "cuda" and compute == "bfloat16" and not _cpu_bf16_supported():
                notes.append("this CPU has no native bf16 support; 4-bit layers compute in float32")
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
        """The fields that define a run, for :func:`run_hash`: all but ``profile`` and ``notes``.

        ``init_adapter`` enters by the hash of its content, not its path, and only when set, so that
        earlier runs keep their hash.
        """
        d = dataclasses.asdict(self)
        d.pop("profile")
        d.pop("notes")
        init = d.pop("init_adapter")  # absent when unset, so earlier run hashes stay valid
        if init is not None:
            d["init_adapter"] = adapter_fingerprint(init)
        return d

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain dict (written to the run folder's ``config.json``)."""
        return dataclasses.asdict(self)


def run_hash(cfg: TrainConfig, data_hash: str) -> str:
    """Hash of the resolved config and the data: the run folder's name."""
    return stable_hash({"config": cfg.hashed_fields(), "data": data_hash}, length=12)

