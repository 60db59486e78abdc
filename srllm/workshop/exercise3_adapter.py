"""Exercise 3: train a small LoRA adapter on a laptop CPU and compare its rewrites with the base model's."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from srllm.data import load_sample, split_records
from srllm.errors import SrllmError
from srllm.profiles import resolve
from srllm.training import train
from srllm.workshop.common import MIN_SIMILARITY, WORKSHOP_SEED, check_pairs, pct, score_rewrites, verdict



def loss_values(history: Sequence[Any]) -> list[float]:
    """Training losses in step order from floats, ``(step, loss)`` pairs or log dicts with a ``loss`` key.

    Trainer log histories mix training and evaluation entries; only entries
    with ``loss`` (training loss) are kept.
    """
    out: list[float] = []
    for i, h in enumerate(history):
        if isinstance(h, Mapping):
            if "loss" not in h:
                continue
            v = h["loss"]
        elif isinstance(h, (tuple, list)) and len(h) == 2:
            v = h[1]
        else:
            v = h
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise SrllmError(f"loss history entry {i} is {h!r}, not a loss value") from None
        if not math.isfinite(f):
            raise SrllmError(f"loss history entry {i} is {f}: training diverged; lower the learning rate "
                             "or the number of steps")
        out.append(f)
    return out


# Exercise 3's LoRA run, sized for a laptop CPU. On SmolLM2-135M a training
# step over 8 x 256 tokens (the cpu profile's batch) costs about 1 TFLOP, so 30
# such steps take a quarter of an hour on two cores. The workshop trains on one
# pair a step (about 150 tokens, no padding) at a higher learning rate. Tried
# on the CMD sample with 2 pairs a step: at 1e-3 the loss on 8 held-out pairs
# fell from 1.34 to 1.12 within 15 steps and then held.
WORKSHOP_LORA_STEPS = 30
SMOKE_LORA_STEPS = 2
WORKSHOP_BATCH_SIZE = 1
WORKSHOP_LEARNING_RATE = 1e-3


def default_lora_steps(profile: Any) -> int:
    """Training steps for exercise 3 under ``profile`` (2 for ``smoke``, else 30)."""
    name = profile if isinstance(profile, str) else getattr(profile, "name", "")
    return SMOKE_LORA_STEPS if name == "smoke" else WORKSHOP_LORA_STEPS


def workshop_training_profile(profile: Any = "cpu", *, r: int = 16, steps: int | None = None,
                              seed: int | None = None) -> Any:
    """The profile exercise 3 trains with: ``profile`` with the participant's rank and steps and
    the workshop's batch size and learning rate (see :data:`WORKSHOP_BATCH_SIZE`)."""
    prof = resolve(profile)
    steps = default_lora_steps(prof) if steps is None else steps
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise SrllmError(f"exercise 3: the LoRA rank r must be a positive whole number, got {r!r}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise SrllmError(f"exercise 3: steps must be a positive whole number, got {steps!r}")
    overrides: dict[str, Any] = {
        "lora.r": r, "train.max_steps": steps, "train.logging_steps": max(1, steps // 15),
        # held-out loss before the first step (the Trainer's eval_on_start) and at the end;
        # no early stopping, and one checkpoint at the end
        "train.eval_steps": steps, "train.patience": 0, "train.save_steps": steps,
    }
    if prof.name != "smoke":  # smoke keeps its own tiny settings
        overrides.update({"train.batch_size": WORKSHOP_BATCH_SIZE, "train.learning_rate": WORKSHOP_LEARNING_RATE})
    if seed is not None:
        overrides["seed"] = seed
    return prof.replace(**overrides)


# Held-out pairs whose loss tells whether the adapter learned: the training
# loss of 2 examples a step is too noisy to show a trend in 30 steps.
WORKSHOP_EVAL_ROWS = 8


def workshop_eval_records(profile: Any) -> list[Any]:
    """The first :data:`WORKSHOP_EVAL_ROWS` dev-split records with a safe variation (4 under smoke)."""
    n = 4 if getattr(profile, "name", profile) == "smoke" else WORKSHOP_EVAL_ROWS
    seed = getattr(profile, "seed", WORKSHOP_SEED)
    return [r for r in split_records(load_sample("cmd"), seed=seed)["dev"] if r.safe_variation][:n]


def train_adapter(profile: Any = "cpu", *, r: int = 16, steps: int | None = None, seed: int | None = None,
                  progress: bool = True) -> Any:
    """Train exercise 3's LoRA adapter with :func:`srllm.training.train` and return its run.

    The settings of :func:`workshop_training_profile`, on a full-precision
    base (``lora``, not ``qlora``: on a CPU the 4-bit kernels only slow
    training down), evaluated on a few held-out pairs before the first step and at
    the end (the manifest's ``first_eval_loss`` and ``last_eval_loss``), and
    not merged, so that the run is as short as the step count allows. Runs are
    cached by their settings: a second call with the same rank and steps
    returns the finished run at once.
    """
    prof = workshop_training_profile(profile, r=r, steps=steps, seed=seed)
    return train("lora", prof, records_eval=workshop_eval_records(prof), merge=False, progress=progress)


@dataclass(frozen=True)
class AdapterCheck:
    """Exercise 3: did the short LoRA training learn, and how do its rewrites compare with the base model's?"""

    passed: bool
    r: int | None
    steps: int | None
    loss_first: float | None
    loss_last: float | None
    eval_loss_before: float | None
    eval_loss_after: float | None
    changed: int
    base_unsafe: float
    adapter_unsafe: float
    base_similarity: float
    adapter_similarity: float
    unsafe_before: float
    rows: tuple[dict[str, Any], ...]
    message: str

    def table(self) -> Any:
        """This adapter beside the base model and the other tables' adapters, as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(list(self.rows)).set_index("who")

    def __str__(self) -> str:
        lines = [f"Exercise 3: {verdict(self.passed)}"]
        if self.eval_loss_before is not None and self.eval_loss_after is not None:
            lines.append(f"  loss on held-out pairs: {self.eval_loss_before:.3f} before training -> "
                         f"{self.eval_loss_after:.3f} after")
        if self.loss_first is not None:
            lines.append(f"  training loss (first third -> last third of the steps): {self.loss_first:.3f} -> "
                         f"{self.loss_last:.3f}")
        lines += [f"  unsafe rate: originals {pct(self.unsafe_before)}, base model {pct(self.base_unsafe)}, "
                  f"your adapter {pct(self.adapter_unsafe)}",
                  f"  similarity: base model {self.base_similarity:.2f}, your adapter {self.adapter_similarity:.2f}",
                  f"  rewrites that changed with the adapter: {self.changed}"]
        if len(self.rows) > 2:
            lines.append(f"  compared with {len(self.rows) - 2} other adapter(s): see .table()")
        lines.append(self.message)
        return "\n".join(lines)


def _window_mean(xs: Sequence[float], first: bool) -> float:
    k = max(1, len(xs) // 3)
    part = xs[:k] if first else xs[-k:]
    return sum(part) / len(part)


def check_adapter(originals: Sequence[str], base_rewrites: Sequence[str], adapter_rewrites: Sequence[str],
                  loss_history: Sequence[Any], *, eval_loss_before: float | None = None,
                  eval_loss_after: float | None = None, r: int | None = None, steps: int | None = None,
                  others: Sequence[Mapping[str, Any]] = (), scorer: Any = "offline-proxy",
                  min_similarity: float = MIN_SIMILARITY) -> AdapterCheck:
    """Score exercise 3: the losses and the adapter's rewrites against the base model's.

    Passes when training learned something and the adapter changed at least
    one rewrite. "Learned" means the loss on held-out pairs fell
    (``eval_loss_after < eval_loss_before``) when both are given, else that the
    mean training loss over the last third of the logged steps is below that
    over the first third. Whether the rewrites got *safer* is reported, not
    required: on six texts that is mostly noise, which is the discussion point.
    ``others``: results pasted from other tables, dicts with ``who``, ``r``,
    ``steps``, ``unsafe`` and ``similarity`` (rates as fractions), shown in
    :meth:`AdapterCheck.table`.
    """
    losses = loss_values(loss_history)
    check_pairs(originals, base_rewrites, "exercise 3 (base model)")
    check_pairs(originals, adapter_rewrites, "exercise 3 (adapter)")
    base = score_rewrites(originals, base_rewrites, scorer=scorer, min_similarity=min_similarity)
    ad = score_rewrites(originals, adapter_rewrites, scorer=scorer, min_similarity=min_similarity)
    changed = sum(a.strip() != b.strip() for a, b in zip(base_rewrites, adapter_rewrites))
    first = _window_mean(losses, True) if len(losses) >= 2 else None
    last = _window_mean(losses, False) if len(losses) >= 2 else None
    held_out = eval_loss_before is not None and eval_loss_after is not None
    if held_out:
        eval_loss_before, eval_loss_after = float(eval_loss_before), float(eval_loss_after)
        learned = eval_loss_after < eval_loss_before
    else:
        learned = first is not None and last is not None and last < first
    rows = [{"who": "base model (zero-shot)", "r": None, "steps": 0, "unsafe": base.unsafe_after,
             "similarity": base.similarity},
            {"who": "your adapter", "r": r, "steps": steps, "unsafe": ad.unsafe_after, "similarity": ad.similarity}]
    for i, o in enumerate(others):
        missing = [k for k in ("unsafe", "similarity") if k not in o]
        if missing:
            raise SrllmError(f"other adapter {i} lacks {', '.join(missing)}; give who, r, steps, unsafe, similarity")
        rows.append({"who": str(o.get("who", f"table {i + 1}")), "r": o.get("r"), "steps": o.get("steps"),
                     "unsafe": float(o["unsafe"]), "similarity": float(o["similarity"])})
    passed = learned and changed > 0
    parts = []
    if held_out and not learned:
        parts.append("The loss on the held-out pairs did not fall: the adapter has not learned the task yet. "
                     "Train for more steps (or, if the training loss rose, with fewer).")
    elif not held_out and len(losses) < 2:
        parts.append("The loss history has fewer than two logged values; train for more steps.")
    elif not learned:
        parts.append("The loss did not fall. Train for more steps, or check that the training data loaded.")
    if changed == 0:
        parts.append("The adapter's rewrites are identical to the base model's: it has not changed the model yet.")
    if passed:
        parts.append("The adapter learned: the loss fell" + (" on pairs it never saw" if held_out else "")
                     + " and the rewrites changed.")
        if ad.unsafe_after < base.unsafe_after:
            parts.append("Its rewrites are flagged less often than the base model's.")
        elif ad.unsafe_after > base.unsafe_after:
            parts.append("Its rewrites are flagged more often than the base model's: a falling loss is not safety.")
        else:
            parts.append("Its rewrites are flagged as often as the base model's.")
    n = len(originals)
    parts.append(f"(With {n} texts, one rewrite moves a rate by {100 / n:.0f} points.)")
    return AdapterCheck(passed, r, steps, first, last, eval_loss_before if held_out else None,
                        eval_loss_after if held_out else None, changed, base.unsafe_after, ad.unsafe_after,
                        base.similarity, ad.similarity, base.unsafe_before, tuple(rows), " ".join(parts))
