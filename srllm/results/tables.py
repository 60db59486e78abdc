"""Pieces the side-by-side tables of Tables 4, 5 and 7 share: rate look-ups, the task-success
column group, footnotes, the findings' success sentence and one colour per method."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from srllm import paper
from srllm.generation.baselines import get_baseline
from srllm.findings import fmt
from srllm.metrics.task_success import DEFAULT_THRESHOLD
from srllm.results.common import DATASET_LABELS, TABLE4_PAPER_ROW, TABLE5_PAPER_METHOD, join_notes, method_note
from srllm.results.rates import SUCCESS_LABEL

def rate_lookup(rates: pd.DataFrame, value: str = "unsafe_rate") -> dict[tuple[str, str, str], dict[str, Any]]:
    """``{(method, dataset, scorer): {value, status, reason, n}}`` of a long rate table."""
    return {(r["method"], r["dataset"], r["scorer"]): {"value": r[value], "status": r["status"],
                                                       "reason": r["reason"], "n": r["n"]}
            for r in rates.to_dict("records")}


def number_or_none(v: Any) -> float | None:
    """``v`` as a float, or None when it is missing (None or NaN)."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def our_cell(hit: dict[str, Any] | None, method: str, profile: Any, *details: str, value: str = "value",
             missing: str = "not computed") -> tuple[float | None, str]:
    """Our number in one cell of a side-by-side table (Tables 4, 5, 7) and the note that goes with it.

    ``hit`` is the rate row for the cell (``status``, ``reason`` and the ``value`` column), or None
    when nothing was computed for it (then the note says ``not run: <missing>``). A row that did not
    run gives its reason; one that ran gives the method's note followed by ``details`` (scorer,
    model, data). One rule for every table, so their cells read alike.
    """
    if hit is None:
        return None, f"not run: {missing}"
    if hit["status"] != "ok":
        return number_or_none(hit[value]), join_notes(method_note(method, profile), f"not run: {hit['reason']}")
    return number_or_none(hit[value]), join_notes(method_note(method, profile), *details)


def with_success(table: pd.DataFrame, success: pd.DataFrame | None, key_of: Any, group_level: str) -> pd.DataFrame:
    """``table`` with one more column group per test set, ``task success %`` (ours only; the paper has none).

    ``key_of(method, dataset)`` gives the table's index key (without the last level) for our method.
    """
    if success is None or success.empty:
        return table
    ours = {}
    for r in success.to_dict("records"):
        if r["status"] == "ok":
            ours[key_of(r["method"], r["dataset"])] = r["success"]
    rows, index = [], []
    last_group = None
    names = list(table.index.names)
    for key, rec in zip(table.index, table.to_dict("records")):
        group = key[:-1]
        if last_group is not None and group != last_group:
            index.append((*last_group, SUCCESS_LABEL))
            rows.append({"ours": ours.get(last_group, math.nan), "paper": math.nan, "difference": math.nan,
                         "note": "our measure; the paper has none"})
        index.append(key)
        rows.append(rec)
        last_group = group
    if last_group is not None:
        index.append((*last_group, SUCCESS_LABEL))
        rows.append({"ours": ours.get(last_group, math.nan), "paper": math.nan, "difference": math.nan,
                     "note": "our measure; the paper has none"})
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=names))


def success_footnote(success: pd.DataFrame | None) -> str:
    """The footnote that says what the task-success rows measure (empty without results)."""
    if success is None or success.empty:
        return ""

    return (f"{SUCCESS_LABEL}: our measure, not the paper's (srllm.metrics.task_success): the share of rewrites "
            "that change the input, are no echo or refusal, are not flagged by the same scorer and keep the "
            f"content (MiniLM cosine ≥ {DEFAULT_THRESHOLD}, chosen on the dev split); on our test set over the "
            "inputs labelled biased or toxic, elsewhere over every item.")




def not_run_footnote(table: pd.DataFrame, row_level: str) -> str:
    """One line naming, once, why the rows without a value of ours are empty."""
    reasons: dict[str, list[str]] = {}
    for row, sub in table.groupby(level=row_level, sort=False):
        if sub["ours"].notna().any():
            continue
        note = next((n for n in sub["note"] if isinstance(n, str) and n), "not run here")
        why = note.split("not run: ", 1)[-1]
        reasons.setdefault(why, []).append(str(row))
    if not reasons:
        return ""
    return "– : not run here. " + " ".join(f"{', '.join(rows)}: {why}." for why, rows in reasons.items())


def success_sentence(success: pd.DataFrame | None, dataset: str = "cmd_test") -> str:
    """One sentence of task success per method on ``dataset`` (empty without results)."""
    if success is None or success.empty:
        return ""
    ok = success[(success["dataset"] == dataset) & (success["status"] == "ok")]
    if ok.empty:
        return ""
    parts = [f"{get_baseline(r['method']).label} {fmt(r['success'], 1)}%" for r in ok.to_dict("records")]
    return (f"\n\nTask success on {DATASET_LABELS[dataset].lower()} (our measure: the rewrite changes the text, "
            f"is not flagged and keeps its content; the paper has no such figure): " + ", ".join(parts) + ".")


# One colour per method on every page (seaborn's colour-blind palette, in the paper's method order);
# keyed by our method keys and by every label a page may show for the method.
_COLOUR_ORDER = ("original", "zero_shot", "two_shot", "five_shot", "prefix", "sr_llm", "t5_large", "bart_large",
                 "flan_t5_large")


def method_palette() -> dict[str, Any]:
    """``{method key or label: colour}``: the same colour for a method on every page and in every figure."""
    import seaborn as sns


    colours = dict(zip(_COLOUR_ORDER, sns.color_palette("colorblind", len(_COLOUR_ORDER))))
    out: dict[str, Any] = {}
    for key, colour in colours.items():
        out[key] = colour
        out[get_baseline(key).label] = colour
    for row in paper.TABLE7:
        out.setdefault(row.label, colours.get(row.key))
    for m, r in TABLE4_PAPER_ROW.items():
        out.setdefault(paper.table4_row(r).model, colours[m])
    for m, pm in TABLE5_PAPER_METHOD.items():
        out.setdefault(paper.TABLE5_METHOD_LABELS[pm], colours[m])
    return out

