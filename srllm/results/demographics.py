"""Table 5 (Section 4.2): mean toxicity per ToxiGen target group and method, ours beside the
paper's; its page view, group means, glue headlines, heat-map grids and findings paragraph."""

from __future__ import annotations

from typing import Any

import pandas as pd

from srllm import paper
from srllm.generation.baselines import get_baseline
from srllm.findings import demographics_findings
from srllm.profiles import resolve
from srllm.report import paper_table, side_by_side
from srllm.results.common import (TABLE5_PAPER_METHOD, data_note, eval_items, headline,
                                  model_label, model_note)
from srllm.results.rates import ScorerChoice
from srllm.results.tables import not_run_footnote, our_cell

def table5_side_by_side(groups: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu") -> pd.DataFrame:
    """Table 5 beside ours: index (group, method), mean toxicity probability in percent.

    ``groups``: :func:`group_rates` of :data:`TABLE5_METHODS` on ``toxigen``.
    """
    prof = resolve(profile)
    look = {(r["method"], r["group"]): r for r in groups.to_dict("records")}
    ours_by_col = {v: k for k, v in TABLE5_PAPER_METHOD.items()}
    ours: dict[tuple[str, str], float | None] = {}
    paper_vals: dict[tuple[str, str], float | None] = {}
    notes: dict[tuple[str, str], str] = {}
    for g, g_label in paper.TABLE5_GROUP_LABELS.items():
        for pm in paper.TABLE5_METHODS:
            key = (g_label, paper.TABLE5_METHOD_LABELS[pm])
            paper_vals[key] = paper.TABLE5[g][pm]
            method = ours_by_col.get(pm)
            if method is None:
                ours[key] = None
                notes[key] = f"not run: {paper.TABLE5_METHOD_LABELS[pm]} is not available offline"
                continue
            r = look.get((method, g))
            details = (choice.note(), model_note(prof) if method != "original" else "",
                       f"n={int(r['n'])}" if r is not None else "")
            ours[key], notes[key] = our_cell(r, method, prof, *details, value="mean_p_unsafe",
                                             missing=f"no item of group {g} in our sample")
    return side_by_side(ours, paper_vals, notes=notes, index_names=("group", "method"), keep="paper")


def table5_means(table5: pd.DataFrame) -> pd.DataFrame:
    """Mean over the groups of :func:`table5_side_by_side`, per paper method: ``ours``, ``paper``,
    ``difference``, ``groups`` (groups with a value of ours). Ours is NaN when no group has a value."""
    frame = table5[["ours", "paper"]].groupby(level="method", sort=False).mean()
    frame["difference"] = frame["ours"] - frame["paper"]
    frame["groups"] = table5["ours"].notna().groupby(level="method", sort=False).sum().astype(int)
    return frame


def table5_headlines(means: pd.DataFrame) -> dict[str, Any]:
    """Glue-ready group means: ``t5_mean_<method>`` (ours) and ``t5_paper_mean_<method>`` for our methods."""
    out: dict[str, Any] = {}
    for method, pm in TABLE5_PAPER_METHOD.items():
        label = paper.TABLE5_METHOD_LABELS[pm]
        if label in means.index:
            out[f"t5_mean_{method}"] = headline(means, label)
            out[f"t5_paper_mean_{method}"] = headline(means, label, "paper")
    return out


def table5_grids(table5: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ours, paper) as group x method grids for a heat map. Ours keeps only methods with a value,
    its columns named after our methods (``Baseline (2-shots)``, ``SR_LLM``...), not the paper's models."""
    ours = table5["ours"].unstack("method")
    paper_grid = table5["paper"].unstack("method")
    groups = list(dict.fromkeys(table5.index.get_level_values("group")))
    methods = list(dict.fromkeys(table5.index.get_level_values("method")))
    ours = ours.reindex(index=groups, columns=methods).dropna(axis=1, how="all")
    ours_label = {paper.TABLE5_METHOD_LABELS[pm]: get_baseline(m).label for m, pm in TABLE5_PAPER_METHOD.items()}
    ours = ours.rename(columns=ours_label)
    paper_grid = paper_grid.reindex(index=groups, columns=methods)
    return ours, paper_grid


def table5_view(table5: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu") -> Any:
    """Table 5 as the paper prints it: ToxiGen groups x methods, ours beside the paper's (a Styler)."""
    prof = resolve(profile)
    n = len(eval_items("toxigen", prof))
    footnotes = [model_note(prof) and model_note(prof).replace("model: ", "Model: ") + ".",
                 data_note("toxigen", n).replace("data: ", "Statements: ") + "; a handful per group.",
                 "Scorer: " + (choice.note() or choice.name) + ".", not_run_footnote(table5.swaplevel(), "method")]
    return paper_table(table5, "group", "method", footnotes=footnotes,
                       caption="Table 5: mean toxicity probability (%) per ToxiGen target group; ours beside "
                               "the paper's.")


def table5_findings(table5: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu") -> str:
    """The "What this build found" paragraph of the Table 5 page."""
    prof = resolve(profile)
    ours = table5["ours"].unstack("method")
    orig, sr = (paper.TABLE5_METHOD_LABELS[TABLE5_PAPER_METHOD[m]] for m in ("original", "sr_llm"))
    both = ours[[orig, sr]].dropna() if {orig, sr} <= set(ours.columns) else ours.iloc[0:0]
    dropped = int((both[sr] < both[orig]).sum()) if len(both) else None
    return demographics_findings(table5_headlines(table5_means(table5)), groups_dropped=dropped, groups=len(both),
                                 scorer=choice.name, is_proxy=choice.is_proxy, model=model_label(prof.model))

