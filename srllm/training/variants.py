"""The human evaluation's model variants (Section 4.6, Table 8, Fig. 5) and how a profile trains each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from srllm.errors import SrllmError
from srllm.profiles import resolve
from srllm.training.pairs import default_records, to_pairs
from srllm.training.runs import RunResult
from srllm.training.trainer import train


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
    p = resolve(profile)
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
    prof = resolve(profile)
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

