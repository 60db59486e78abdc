"""Inter-annotator agreement: Fleiss' kappa (Appendix A "Inter-Annotator Agreements", Table 10).

The computation is statsmodels' ``fleiss_kappa`` (Fleiss 1971). What this
module adds is the step the paper leaves out: turning per-annotator labels in
long format (one row per item and annotator, as in
``srllm/samples/annotations_example.csv``) into the item-by-category count
table that Fleiss' kappa takes, with checks that make a bad file fail loudly:
a missing label, an annotator labelling one item twice, or items rated by
different numbers of annotators (Fleiss' kappa assumes a constant number).

This is the project's one Fleiss' kappa: :func:`srllm.data.stats.fleiss_kappa_by_field`
(Table 10 from the annotation sample) and :func:`srllm.human_eval.agreement`
(the human evaluation) both count with :func:`count_table` and compute with
:func:`fleiss_kappa`. The verbal bands are the paper's Appendix A
(:data:`srllm.paper.FLEISS_BANDS`), read with :func:`srllm.paper.kappa_band`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srllm.errors import SrllmError



@dataclass(frozen=True)
class CountTable:
    """``table[i, j]`` = how many annotators put item ``items[i]`` in category ``categories[j]``."""

    table: np.ndarray
    items: tuple[str, ...]
    categories: tuple[str, ...]
    n_raters: int


def fleiss_kappa(table: Any, method: str = "fleiss") -> float:
    """Fleiss' kappa of an (items x categories) count table, via statsmodels.

    ``method="fleiss"`` is Fleiss (1971); ``"randolph"`` (free-marginal, Randolph 2005) is
    also accepted, as statsmodels offers it.
    """
    from statsmodels.stats.inter_rater import fleiss_kappa as _fk

    arr = np.asarray(table.table if isinstance(table, CountTable) else table, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise SrllmError(f"Fleiss' kappa needs a 2-D items x categories table, got shape {arr.shape}")
    if np.any(arr < 0):
        raise SrllmError("Fleiss' kappa counts must be non-negative")
    per_item = arr.sum(axis=1)
    if not np.allclose(per_item, per_item[0]):
        raise SrllmError(f"every item needs the same number of ratings; row sums range "
                         f"{per_item.min():g}..{per_item.max():g}")
    if per_item[0] < 2:
        raise SrllmError("Fleiss' kappa needs at least two ratings per item")
    return float(_fk(arr, method=method))


def _rows(data: Any) -> tuple[list[Mapping[str, Any]], str]:
    if isinstance(data, (str, os.PathLike)):
        import pandas as pd

        path = Path(data)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        return frame.to_dict("records"), str(path)
    if hasattr(data, "to_dict"):
        return data.to_dict("records"), "annotations"
    return list(data), "annotations"


def count_table(data: Any, label: str, *, item: str = "item_id", rater: str = "annotator",
                categories: Sequence[str] | None = None) -> CountTable:
    """Item-by-category counts of one label column from long-format annotations.

    ``data``: a CSV path, a pandas DataFrame or an iterable of dicts.
    ``categories``: the full category list (default: the labels seen, sorted),
    so that a category nobody used still has its column. Errors name the
    source, the row (the CSV line for a file) and the field.
    """
    rows, source = _rows(data)
    is_file = source != "annotations"
    seen: dict[tuple[str, str], str] = {}
    labels: dict[str, list[str]] = {}
    for i, row in enumerate(rows):
        where = f"{source}: {'line ' + str(i + 2) if is_file else 'row ' + str(i)}"
        for key in (item, rater, label):
            value = row.get(key)
            if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
                raise SrllmError(f"{where}: field '{key}' is missing or empty")
        it, rt, lab = str(row[item]).strip(), str(row[rater]).strip(), str(row[label]).strip()
        if (it, rt) in seen:
            first = seen[(it, rt)].split(": ")[-1]
            raise SrllmError(f"{where}: annotator {rt!r} already labelled item {it!r} ({first})")
        seen[(it, rt)] = where
        labels.setdefault(it, []).append(lab)
    if not labels:
        raise SrllmError(f"{source}: no annotations")
    cats = tuple(categories) if categories is not None else tuple(sorted({v for vs in labels.values() for v in vs}))
    unknown = sorted({v for vs in labels.values() for v in vs} - set(cats))
    if unknown:
        raise SrllmError(f"{source}: field '{label}' has values {unknown} outside the categories {list(cats)}")
    counts = {it: len(vs) for it, vs in labels.items()}
    if len(set(counts.values())) != 1:
        typical = max(set(counts.values()), key=list(counts.values()).count)
        odd = [f"{it} ({n})" for it, n in counts.items() if n != typical][:5]
        raise SrllmError(f"{source}: Fleiss' kappa needs the same number of annotators per item; most items have "
                         f"{typical}, these differ: {', '.join(odd)}")
    items = tuple(labels)
    index = {c: j for j, c in enumerate(cats)}
    table = np.zeros((len(items), len(cats)), dtype=int)
    for i, it in enumerate(items):
        for lab in labels[it]:
            table[i, index[lab]] += 1
    return CountTable(table=table, items=items, categories=cats, n_raters=next(iter(counts.values())))
