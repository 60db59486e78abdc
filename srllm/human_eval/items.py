"""Which items are rated and the variants' rewrites of them (Section 4.6)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from srllm.errors import SrllmError
from srllm.generation import adapter_type, rewrite
from srllm.human_eval.common import DEFAULT_N_ITEMS, VARIANT_ORDER
from srllm.labels import field_of, is_unsafe
from srllm.profiles import resolve
from srllm.training import train_variant


def _seeded_key(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}\x00{text}".encode("utf-8")).hexdigest()


def select_items(records: Sequence[Any], n: int, seed: int = 42) -> list[Any]:
    """``n`` records to rate, unsafe ones first (the paper's definition, :func:`srllm.labels.is_unsafe`), in a seeded order.

    Fewer than ``n`` records available returns them all (the caller reports the count).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise SrllmError(f"n_items must be a positive integer, got {n!r}")
    ordered = sorted(records, key=lambda r: (not is_unsafe(r), _seeded_key(seed, str(field_of(r, "id")))))
    return list(ordered[:n])


def default_n_items(profile_name: str) -> int:
    """How many items a profile rates when the caller gives no number (paper: 100)."""
    return DEFAULT_N_ITEMS.get(profile_name, DEFAULT_N_ITEMS["cpu"])


def train_variants(profile: Any, variants: Sequence[str] = VARIANT_ORDER, *, evaluate: bool | None = None,
                   **kwargs: Any) -> dict[str, Any]:
    """Train (or reuse from the cache) each variant with :func:`srllm.training.train_variant`.

    ``profile``: a name or a Profile (:func:`srllm.profiles.resolve`); the epoch budget is its own
    ``train.variant_epoch_steps`` (see :func:`srllm.training.variant_plan`). ``evaluate``: compute the dev
    loss during training (default: only when the profile trains real epochs,
    since on a CPU budget the evaluation passes would cost more than the steps).
    """
    p = resolve(profile)
    if evaluate is None:
        evaluate = p.train.variant_epoch_steps is None
    if not evaluate:
        kwargs.setdefault("records_eval", [])
    return {v: train_variant(v, p, **kwargs) for v in variants}


def variant_rewrites(texts: Sequence[str], runs: Mapping[str, Any], profile: Any, *,
                     progress: bool = True) -> dict[str, list[str]]:
    """Each variant's rewrites of ``texts`` through :func:`srllm.generation.rewrite` (cached per row).

    A run with a peft adapter is decoded on its base model with that adapter
    (``sr_llm`` for LoRA/QLoRA, ``prefix`` for prefix-tuning); a dense run has no
    adapter, so its full model folder is loaded as the model and prompted with the
    same zero-shot instruction prompt that the fine-tuned variants were trained on.
    """
    out: dict[str, list[str]] = {}
    for name, run in runs.items():
        if run.adapter_dir is not None:
            method = "prefix" if adapter_type(run.adapter_dir) == "PREFIX_TUNING" else "sr_llm"
            out[name] = rewrite(texts, model_name=run.model, adapter_dir=run.adapter_dir, method=method,
                                profile=profile, progress=progress)
        elif run.merged_dir is not None:
            out[name] = rewrite(texts, model_name=str(run.merged_dir), method="zero_shot", profile=profile,
                                progress=progress)
        else:
            raise SrllmError(f"variant {name}: run {run.run_dir} has neither an adapter nor a model folder")
    return out
