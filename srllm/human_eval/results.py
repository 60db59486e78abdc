"""From ratings to results: mean scores and percentages (Fig. 5), Fleiss' kappa, Table 8 beside ours."""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from srllm.errors import SrllmError
from srllm.human_eval.common import (
    CRITERIA, CRITERION_LABELS, ILLUSTRATIVE_BANNER, PAPER_KEYS, SCALE, VARIANT_ORDER,
)
from srllm.human_eval.sheets import example_sheet_path, is_illustrative, load_ratings
from srllm.metrics.agreement import count_table, fleiss_kappa
from srllm.paper import HUMAN_EVAL_SAMPLES, TABLE8, kappa_band
from srllm.report import side_by_side


def _variant_order(names: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(names))
    return [v for v in VARIANT_ORDER if v in names] + sorted(v for v in names if v not in VARIANT_ORDER)


def to_percent(score: float) -> float:
    """A mean 1-5 score as a percentage of the best score (Fig. 5's axes; our reading)."""
    return 100.0 * score / SCALE[1]


def summarise(ratings: Any) -> Any:
    """Per variant: items, raters, ratings, mean and SD of each criterion, and the means as percentages."""
    import pandas as pd

    if len(ratings) == 0:
        raise SrllmError("no ratings to summarise")
    out = []
    for v in _variant_order(ratings["variant"]):
        part = ratings[ratings["variant"] == v]
        row: dict[str, Any] = {"variant": v, "items": part["item_id"].nunique(), "raters": part["rater"].nunique(),
                               "ratings": len(part)}
        for c in CRITERIA:
            row[f"{c}_mean"] = float(part[c].mean())
            row[f"{c}_sd"] = float(part[c].std(ddof=1)) if len(part) > 1 else float("nan")
        for c in CRITERIA:
            row[f"{c}_pct"] = to_percent(row[f"{c}_mean"])
        out.append(row)
    return pd.DataFrame(out).set_index("variant")


@dataclass(frozen=True)
class Agreement:
    """Fleiss' kappa of one criterion across raters; ``kappa`` None when it cannot be computed (``reason``)."""

    criterion: str
    kappa: float | None
    band: str | None
    subjects: int
    raters: int
    reason: str = ""


def agreement(ratings: Any) -> dict[str, Agreement]:
    """Fleiss' kappa per criterion over (item, variant) subjects, via :mod:`srllm.metrics.agreement`.

    Every subject must be rated by the same number of raters (an error names the
    odd ones); with fewer than two raters the kappa is reported as not computable.
    """
    n_raters = int(ratings["rater"].nunique()) if len(ratings) else 0
    subjects = ratings[["item_id", "variant"]].drop_duplicates()
    out: dict[str, Agreement] = {}
    cats = tuple(str(s) for s in range(SCALE[0], SCALE[1] + 1))
    for c in CRITERIA:
        if n_raters < 2:
            out[c] = Agreement(c, None, None, len(subjects), n_raters, "needs at least two raters")
            continue
        rows = [{"subject": f"{r['item_id']} | {r['variant']}", "rater": r["rater"], c: str(int(r[c]))}
                for r in ratings.to_dict("records")]
        table = count_table(rows, c, item="subject", rater="rater", categories=cats)
        k = fleiss_kappa(table)
        out[c] = Agreement(c, k, kappa_band(k) if k == k else None, len(subjects), table.n_raters)
    return out


def agreement_table(agr: Mapping[str, Agreement]) -> Any:
    """The :func:`agreement` results as a table, one row per criterion (Fleiss 1971 kappa and its band)."""
    import pandas as pd

    return pd.DataFrame([{"criterion": a.criterion, "fleiss_kappa": a.kappa, "band": a.band,
                          "subjects": a.subjects, "raters": a.raters, "note": a.reason}
                         for a in agr.values()]).set_index("criterion")


def paper_values() -> dict[tuple[str, str], float]:
    """Table 8's scores (out of 5) keyed ``(variant, criterion)`` with our variant names."""
    by_key = {r.key: r for r in TABLE8}
    return {(v, c): float(getattr(by_key[k], c)) for v, k in PAPER_KEYS.items() for c in CRITERIA}


def compare_with_paper(summary: Any, *, illustrative: bool, model: str = "", extra_note: str = "") -> Any:
    """Our mean scores (1-5) beside Table 8's, via :func:`srllm.report.side_by_side`."""
    ours = {(v, c): float(summary.loc[v, f"{c}_mean"]) for v in summary.index for c in CRITERIA}
    parts = []
    if illustrative:
        parts.append("ILLUSTRATIVE: simulated example ratings, not a finding")
    n_items = int(summary["items"].max()) if len(summary) else 0
    parts.append(f"ours: mean of {n_items} items x raters" + (f" on {model} rewrites" if model else ""))
    parts.append(f"paper: scores of the single example shown in Table 8 (its {HUMAN_EVAL_SAMPLES}-sample "
                 "means appear only as an unlabelled chart, Fig. 5)")
    if extra_note:
        parts.append(extra_note)
    notes = {("Safe_Prefix", c): "paper's 'Safe_Dense-IT' (prefix-tuning / prompting); ours is prefix-tuning"
             for c in CRITERIA}
    return side_by_side(ours, paper_values(), note="; ".join(parts), notes=notes,
                        index_names=("variant", "criterion"))


# --------------------------------------------------------------------------- figure


def plot_fig5(summary: Any, *, illustrative: bool, show_paper: bool = True, title: str | None = None) -> Any:
    """Fig. 5-style chart: safety % against language-understanding % per variant, and the same as bars.

    Paper points (Table 8's single example, as percentages) are drawn hollow when
    ``show_paper``; an ILLUSTRATIVE sheet puts that word in the title.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.4))
    variants = list(summary.index)
    colors = {v: plt.cm.tab10(i) for i, v in enumerate(variants)}
    paper = paper_values()
    for v in variants:
        x, y = summary.loc[v, "safety_pct"], summary.loc[v, "language_pct"]
        ax.scatter([x], [y], s=80, color=colors[v], label=f"{v} (ours)", zorder=3)
        ax.annotate(v, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
        if show_paper and (v, "safety") in paper:
            ax.scatter([to_percent(paper[(v, "safety")])], [to_percent(paper[(v, "language")])], s=80,
                       facecolors="none", edgecolors=[colors[v]], linewidths=1.5, zorder=3)
    if show_paper:
        ax.scatter([], [], s=80, facecolors="none", edgecolors="grey", label="paper, Table 8 example")
    ax.set_xlabel("safety (% of best score)")
    ax.set_ylabel("language understanding (% of best score)")
    ax.set_xlim(15, 105)
    ax.set_ylim(15, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    pos = np.arange(len(variants))
    w = 0.38
    for j, c in enumerate(CRITERIA):
        vals = [summary.loc[v, f"{c}_pct"] for v in variants]
        bars = bx.bar(pos + (j - 0.5) * w, vals, w, label=CRITERION_LABELS[c])
        bx.bar_label(bars, fmt="%.0f", fontsize=7)
    bx.set_xticks(pos)
    bx.set_xticklabels(variants, rotation=15, fontsize=8)
    bx.set_ylim(0, 110)
    bx.set_ylabel("% of best score")
    bx.legend(fontsize=8)
    head = title or "Safety vs language understanding per variant (cf. paper Fig. 5)"
    if illustrative:
        head = "ILLUSTRATIVE (simulated ratings) - " + head
        for a in (ax, bx):
            a.text(0.5, 0.5, "ILLUSTRATIVE", transform=a.transAxes, ha="center", va="center", fontsize=30,
                   color="grey", alpha=0.18, rotation=25, zorder=0)
    fig.suptitle(head, fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- one call


@dataclass
class HumanEvalResult:
    """Everything the notebook shows about one set of ratings."""

    source: str  # the rating sheets' file names (no directories)
    illustrative: bool
    ratings: Any
    summary: Any
    agreement: dict[str, Agreement]
    comparison: Any
    notes: list[str] = field(default_factory=list)

    def headline(self) -> dict[str, float]:
        """Flat numbers for gluing: per-variant mean scores and percentages, kappas."""
        out: dict[str, float] = {}
        for v in self.summary.index:
            for c in CRITERIA:
                out[f"{v}:{c}_mean"] = float(self.summary.loc[v, f"{c}_mean"])
                out[f"{v}:{c}_pct"] = float(self.summary.loc[v, f"{c}_pct"])
        for c, a in self.agreement.items():
            if a.kappa is not None:
                out[f"kappa_{c}"] = float(a.kappa)
        return out


def evaluate_sheets(sheets: Any = None, key: Any = None, *, model: str = "") -> HumanEvalResult:
    """Load, validate and aggregate filled sheets (default: the bundled ILLUSTRATIVE example)."""
    import pandas as pd

    if sheets is None:
        sheets = example_sheet_path()
    if isinstance(sheets, pd.DataFrame):
        paths: list[Any] | None = None
    else:
        paths = [sheets] if isinstance(sheets, (str, os.PathLike)) else list(sheets)
    # Any example sheet in the mix makes the whole result illustrative.
    illustrative = paths is not None and any(is_illustrative(p) for p in paths)
    ratings = load_ratings(sheets if paths is None else paths, key)
    summary = summarise(ratings)
    agr = agreement(ratings)
    notes = [ILLUSTRATIVE_BANNER] if illustrative else []
    comparison = compare_with_paper(summary, illustrative=illustrative, model="" if illustrative else model)
    # File names only: the result is shown on book pages, where a path of the build machine must not appear.
    source = ", ".join(Path(p).name for p in paths) if paths is not None else "ratings (DataFrame)"
    return HumanEvalResult(source, illustrative, ratings, summary, agr, comparison, notes)
