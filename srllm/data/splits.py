"""Deterministic, stratified train/dev/test splits in the paper's proportions.

Table 1 of the paper splits the CMD into 13,999 / 1,999 / 4,001 records (the
three add up to 19,999 although the text says 20,000; we use the three counts
as the proportions). The split is stratified on the joint value of the label
fields, and it depends only on the records' ids and the seed, never on the
order in which the records arrive.

How (hand-written because sklearn's ``train_test_split`` refuses strata with a
single member, which a 500-row sample with 54 label combinations has plenty
of): every record gets a pseudo-random key ``sha256(seed, id)``; records are
sorted by (stratum, key) and dealt out in that order to whichever split is
furthest behind its quota. Each stratum is therefore spread across the splits
in proportion, and the split sizes hit their targets exactly.
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

from srllm.data.schema import LABEL_FIELDS
from srllm.errors import SrllmError
from srllm.paper import TABLE1

SPLITS = ("train", "dev", "test")
PAPER_SPLIT_COUNTS = dict(TABLE1.split)  # Table 1, from srllm.paper (the one home of the paper's numbers)
PAPER_SPLIT = {k: v / sum(PAPER_SPLIT_COUNTS.values()) for k, v in PAPER_SPLIT_COUNTS.items()}


def _key(seed: int, rid: str) -> str:
    return hashlib.sha256(f"{seed}\x00{rid}".encode("utf-8")).hexdigest()


def split_sizes(n: int, fractions: dict[str, float] = PAPER_SPLIT) -> dict[str, int]:
    """Sizes that sum to ``n`` (largest remainder), each split at least 1 when ``n >= 3``."""
    if n < len(SPLITS):
        raise SrllmError(f"cannot split {n} records into train/dev/test: need at least {len(SPLITS)}")
    total = sum(fractions[s] for s in SPLITS)
    exact = {s: n * fractions[s] / total for s in SPLITS}
    sizes = {s: int(exact[s]) for s in SPLITS}
    for s in sorted(SPLITS, key=lambda s: (-(exact[s] - sizes[s]), SPLITS.index(s)))[: n - sum(sizes.values())]:
        sizes[s] += 1
    for s in SPLITS:  # tiny samples: borrow from the largest split so none is empty
        if sizes[s] == 0:
            donor = max(SPLITS, key=lambda t: sizes[t])
            sizes[donor] -= 1
            sizes[s] = 1
    return sizes


def stratum(record: Any, fields: Sequence[str] = LABEL_FIELDS) -> tuple[str, ...]:
    """The joint label value a record is stratified on (``"-"`` for a missing label)."""
    return tuple(str(getattr(record, f, None) or "-") for f in fields)


def split_records(records: Sequence[Any], seed: int = 42, fractions: dict[str, float] = PAPER_SPLIT,
                  stratify: Sequence[str] = LABEL_FIELDS) -> dict[str, list[Any]]:
    """``{"train", "dev", "test"}`` lists; each in a seeded shuffled order (not grouped by label).

    Records need an ``id`` attribute (ids must be unique; loaders guarantee it).
    """
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise SrllmError("split_records needs unique record ids; load the data through srllm.data loaders")
    sizes = split_sizes(len(records), fractions)
    n = len(records)
    order = sorted(records, key=lambda r: (stratum(r, stratify), _key(seed, r.id)))
    out: dict[str, list[Any]] = {s: [] for s in SPLITS}
    for i, rec in enumerate(order, 1):
        # deficit = how far each split lags its share of the first i records
        open_splits = [s for s in SPLITS if len(out[s]) < sizes[s]]
        best = max(open_splits, key=lambda s: (sizes[s] * i / n - len(out[s]), -SPLITS.index(s)))
        out[best].append(rec)
    return {s: sorted(v, key=lambda r: _key(seed, r.id)) for s, v in out.items()}


def limit(records: Sequence[Any], max_rows: int | None) -> list[Any]:
    """The first ``max_rows`` records (all when None); splits are already shuffled, so this is a fair sample."""
    return list(records) if max_rows is None else list(records[:max_rows])


def split_for_profile(records: Sequence[Any], profile: Any, seed: int | None = None) -> dict[str, list[Any]]:
    """:func:`split_records` with the profile's seed, each split cut to the profile's row limits.

    ``profile.data.max_train_rows`` / ``max_eval_rows`` (dev) / ``max_test_rows`` apply;
    the smoke profile thereby trains on a handful of rows while the split itself
    (and so which record lands where) is the same under every profile.
    """
    parts = split_records(records, seed=profile.seed if seed is None else seed)
    d = profile.data
    return {"train": limit(parts["train"], d.max_train_rows), "dev": limit(parts["dev"], d.max_eval_rows),
            "test": limit(parts["test"], d.max_test_rows)}
