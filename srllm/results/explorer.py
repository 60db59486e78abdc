"""The rewrite explorer's rows: every evaluation text with each method's rewrite and its score."""

from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd

from srllm.generation.baselines import get_baseline
from srllm.profiles import resolve
from srllm.results.common import (DATASET_LABELS, DATASETS, TABLE4_METHODS, TABLE7_DATASETS, TABLE7_METHODS,
                                  eval_items, method_outputs)
from srllm.results.rates import as_choice, score_outputs

EXPLORER_COLUMNS = ("test set", "group", "id", "method", "original", "rewrite", "p_unsafe %", "unsafe")


def explorer_frame(profile: Any = "cpu", scorer: Any = "offline-proxy",
                   combos: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Every evaluation text with each method's rewrite and its score: the rewrite explorer's rows.

    One row per (test set, item, method), for the method/test-set pairs the results pages
    run (Table 4's methods on every set, Table 7's on its two), from the same cached
    outputs those pages use; methods that did not run here (e.g. T5 without the Hub) have
    no rows. ``p_unsafe %`` and ``unsafe`` come from ``scorer`` (the pages' stand-in).
    """
    prof = resolve(profile)
    choice = as_choice(scorer)
    if combos is None:
        combos = [(m, d) for d in DATASETS for m in TABLE4_METHODS]
        combos += [(m, d) for d in TABLE7_DATASETS for m in TABLE7_METHODS if (m, d) not in combos]

    rows = []
    for method, dataset in combos:
        result = method_outputs(method, dataset, prof, progress=False)
        if not result.ok:
            continue
        scores = score_outputs(result, choice) if choice.available else None
        for k, (item, out) in enumerate(zip(eval_items(dataset, prof), result.outputs)):
            rows.append({"test set": DATASET_LABELS[dataset], "group": item.group, "id": item.id,
                         "method": get_baseline(method).label, "original": item.text, "rewrite": out,
                         "p_unsafe %": round(100.0 * scores[k].p_unsafe, 1) if scores else math.nan,
                         "unsafe": ("yes" if scores[k].flag else "no") if scores else ""})
    return pd.DataFrame(rows, columns=list(EXPLORER_COLUMNS))

