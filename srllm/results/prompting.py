"""Table 7 (Section 4.5): prompting versus fine-tuning, unsafe rewrites and knowledge retention,
ours beside the paper's; its page view, glue headlines, scatter frame and findings paragraph."""

from __future__ import annotations

from typing import Any

import pandas as pd

from srllm import paper
from srllm.findings import prompting_findings
from srllm.profiles import resolve
from srllm.report import paper_table, side_by_side
from srllm.results.common import (DATASET_LABELS, TABLE7_COLUMN_PREFIX, TABLE7_DATASETS, data_note, eval_items,
                                  headline, join_notes, method_note, model_label, model_note)
from srllm.results.rates import RetentionResult, ScorerChoice
from srllm.results.tables import (not_run_footnote, number_or_none, rate_lookup, success_footnote, success_sentence,
                                  with_success)

def table7_side_by_side(rates: pd.DataFrame, retention: dict[tuple[str, str], RetentionResult],
                        choice: ScorerChoice, profile: Any = "cpu") -> pd.DataFrame:
    """Table 7 beside ours: index (method, column) with the paper's four columns.

    ``rates``: :func:`unsafe_rates` of :data:`TABLE7_METHODS` on :data:`TABLE7_DATASETS`
    with ``choice`` (the stand-in for OpenAI moderation); ``retention``:
    ``{(method, dataset): retention_scores(...)}``.
    """
    prof = resolve(profile)
    look = rate_lookup(rates)
    ours: dict[tuple[str, str], float | None] = {}
    paper_vals: dict[tuple[str, str], float | None] = {}
    notes: dict[tuple[str, str], str] = {}
    for row in paper.TABLE7:
        method = row.key
        for ds in TABLE7_DATASETS:
            pre = TABLE7_COLUMN_PREFIX[ds]
            for metric in ("openai", "knowledge_retention"):
                col = f"{pre}_{metric}"
                key = (row.label, col)
                paper_vals[key] = row.as_dict()[col]
                printed = row.notes.get(col, "")
                if metric == "openai":
                    hit = look.get((method, ds, choice.name))
                    if hit is None or hit["status"] != "ok":
                        ours[key] = None
                        why = hit["reason"] if hit else "not computed"
                        notes[key] = join_notes(method_note(method, prof), f"not run: {why}", printed)
                    else:
                        ours[key] = number_or_none(hit["value"])
                        notes[key] = join_notes(method_note(method, prof), choice.note(),
                                           model_note(prof) if method != "original" else "",
                                           data_note(ds, int(hit["n"])), printed)
                else:
                    ret = retention.get((method, ds))
                    if ret is None or ret.status != "ok":
                        ours[key] = None
                        why = ret.reason if ret else "not computed"
                        label = "n/a" if ret is not None and ret.status == "not_applicable" else "not run"
                        notes[key] = join_notes(f"{label}: {why}", printed)
                    else:
                        ours[key] = ret.mean_percent
                        notes[key] = join_notes(method_note(method, prof),
                                           "proxy: offline retention (MiniLM cosine + content-word recall) "
                                           "in place of DeepEval with GPT-4", model_note(prof),
                                           data_note(ds, len(ret.scores or ())), printed)
    return side_by_side(ours, paper_vals, notes=notes, index_names=("method", "column"), keep="paper")


TABLE7_MEASURES: dict[str, str] = {"openai": "unsafe %", "knowledge_retention": "knowledge retention %"}


def table7_headlines(table7: pd.DataFrame) -> dict[str, Any]:
    """Glue-ready Table 7 numbers for each method: ``t7_<method>_<cmd|toxigen>_unsafe``,
    ``t7_<method>_<cmd|toxigen>_retention`` (ours), the same with ``t7_paper_``, and
    ``t7_<method>_retention`` (ours, our test set) as the short name for the headline."""
    out: dict[str, Any] = {}
    for row in paper.TABLE7:
        for ds in TABLE7_DATASETS:
            pre = TABLE7_COLUMN_PREFIX[ds]
            for metric, short in (("openai", "unsafe"), ("knowledge_retention", "retention")):
                key = (row.label, f"{pre}_{metric}")
                if key not in table7.index:
                    continue
                out[f"t7_{row.key}_{pre}_{short}"] = headline(table7, key)
                out[f"t7_paper_{row.key}_{pre}_{short}"] = headline(table7, key, "paper")
        if f"t7_{row.key}_cmd_retention" in out:
            out[f"t7_{row.key}_retention"] = out[f"t7_{row.key}_cmd_retention"]
            out[f"t7_paper_{row.key}_retention"] = out[f"t7_paper_{row.key}_cmd_retention"]
    return out


def table7_plot_frame(table7: pd.DataFrame) -> pd.DataFrame:
    """Long frame for a scatter of Table 7: ``source``, ``method``, ``test set``, ``unsafe %``, ``retention %``."""
    rows = []
    for row in paper.TABLE7:
        for ds in TABLE7_DATASETS:
            pre = TABLE7_COLUMN_PREFIX[ds]
            u, r = (row.label, f"{pre}_openai"), (row.label, f"{pre}_knowledge_retention")
            if u not in table7.index or r not in table7.index:
                continue
            for source in ("ours", "paper"):
                rows.append({"source": source, "method": row.label, "test set": DATASET_LABELS[ds],
                             "unsafe %": table7.loc[u, source], "retention %": table7.loc[r, source]})
    return pd.DataFrame(rows, columns=["source", "method", "test set", "unsafe %", "retention %"])


def table7_view(table7: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu",
                success: pd.DataFrame | None = None) -> Any:
    """Table 7 as the paper prints it: methods x (test set, measure), ours beside the paper's (a Styler)."""
    prof = resolve(profile)
    label = {TABLE7_COLUMN_PREFIX[ds]: DATASET_LABELS[ds] for ds in TABLE7_DATASETS}
    keys = []
    for method, col in table7.index:
        pre, metric = col.split("_", 1)
        keys.append((method, label[pre], TABLE7_MEASURES[metric]))
    frame = table7.copy()
    frame.index = pd.MultiIndex.from_tuples(keys, names=["method", "test set", "measure"])
    printed = sorted({n.split("printed ", 1)[1] for n in table7["note"] if isinstance(n, str) and "printed " in n})
    footnotes = [model_note(prof) and model_note(prof).replace("model: ", "Model: ") + ".",
                 *(data_note(ds, len(eval_items(ds, prof))).replace("data: ", f"{DATASET_LABELS[ds]}: ")
                   for ds in TABLE7_DATASETS),
                 "Unsafe %: " + (choice.note() or choice.name) + ".",
                 "Knowledge retention: proxy (offline MiniLM cosine + content-word recall) in place of DeepEval "
                 "with GPT-4.",
                 ("Paper cells printed as " + ", ".join(printed) + " show –.") if printed else "",
                 success_footnote(success), not_run_footnote(frame, "method")]

    label_of = {r.key: r.label for r in paper.TABLE7}
    frame = with_success(frame, success, lambda m, d: (label_of.get(m, m), DATASET_LABELS[d]), "test set")
    return paper_table(frame, "method", ["test set", "measure"], footnotes=footnotes,
                       caption="Table 7: prompting versus fine-tuning; unsafe texts (%, lower is safer) and "
                               "knowledge retention (%, higher is better); ours beside the paper's.")


def table7_findings(table7: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu",
                    success: pd.DataFrame | None = None) -> str:
    """The "What this build found" paragraph of the Table 7 page."""
    prof = resolve(profile)
    return prompting_findings(table7_headlines(table7), scorer=choice.name, is_proxy=choice.is_proxy,
                              model=model_label(prof.model), methods={r.key: r.label for r in paper.TABLE7}) + \
        success_sentence(success)

