"""Training pairs: records to (text, safe variation) pairs, token ids with the prompt masked, and collation.

The loss is Eq. (1) of the paper over the response tokens only: prompt tokens
carry label -100 (:func:`srllm.prompts.tokenize_example`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from srllm.cache import stable_hash
from srllm.data.sources import load_dataset_for
from srllm.data.splits import limit
from srllm.errors import SrllmError
from srllm.labels import field_of, needs_rewrite
from srllm.prompts import format_prompt, tokenize_example

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pair:
    """One training pair: the unsafe text and its safe variation."""

    id: str
    text: str
    safe_variation: str


@dataclass
class DataStats:
    """Records given and used; how many were skipped (no rewrite), cut at ``max_length`` or dropped (no response left)."""

    given: int = 0
    used: int = 0
    skipped_no_rewrite: int = 0
    truncated: int = 0
    dropped_no_response_tokens: int = 0


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
        rid = field_of(r, "id")
        text, safe = field_of(r, "text"), field_of(r, "safe_variation")
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
    """Short hash of the training and evaluation pairs' texts and rewrites.

    Part of the run hash, so that changed data means a new run rather than a reused one.
    """
    return stable_hash([[p.text, p.safe_variation] for p in train_pairs],
                       [[p.text, p.safe_variation] for p in eval_pairs], length=16)


def dev_loss_pairs(train_pairs: str | None) -> str:
    """Which dev pairs a run with ``data.train_pairs = train_pairs`` measures its dev loss on:
    ``"needs_rewrite"`` (the biased or toxic ones only, as :func:`default_records` filters both
    splits) or ``"all"``. Dev losses of the two kinds are different quantities and never compared."""
    return "needs_rewrite" if train_pairs == "needs_rewrite" else "all"


def default_records(profile: Any) -> tuple[list[Any], list[Any], str]:
    """The CMD train and dev splits the profile's data source gives (seed and row limits applied).

    The source (bundled sample, Hub dataset or local copy), its revision and the split sizes
    are named in the returned description, which goes into the run record. With
    ``data.train_pairs = "needs_rewrite"`` only the pairs whose input is biased or toxic
    (:func:`srllm.labels.needs_rewrite`) are kept, in both splits, before the row limits;
    with ``"rewrites_twice"`` every train pair is kept and those pairs appear a second
    time (the dev split stays whole, so its loss compares with an ``"all"`` run's).
    """
    d = profile.data
    parts = load_dataset_for(profile, "cmd").splits
    train, dev = list(parts["train"]), list(parts["dev"])
    what = "train / dev"
    if d.train_pairs == "needs_rewrite":
        train, dev = [r for r in train if needs_rewrite(r)], [r for r in dev if needs_rewrite(r)]
        what += ", biased or toxic inputs only"
    elif d.train_pairs == "rewrites_twice":
        train = train + [r for r in train if needs_rewrite(r)]
        what += ", pairs with a biased or toxic input twice in train"
    return (limit(train, d.max_train_rows), limit(dev, d.max_eval_rows),
            f"{load_dataset_for(profile, 'cmd').describe()}; {what}")


class Collator:
    """Pads a batch to its longest example: ids with the pad token, labels with -100."""

    def __init__(self, tokenizer: Any) -> None:
        from transformers import DataCollatorForSeq2Seq

        self.inner = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100, return_tensors="pt")

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        return self.inner([{k: f[k] for k in ("input_ids", "attention_mask", "labels")} for f in features])

