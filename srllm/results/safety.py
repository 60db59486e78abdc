"""Table 4 (Section 4.1): unsafe texts before and after each method on three test sets, ours
beside the paper's; its page view, glue headlines, bar-chart frame, findings paragraph and the
ablation of the offline proxy's training data."""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

import pandas as pd

from srllm import paper
from srllm.findings import safety_findings
from srllm.generation.baselines import get_baseline
from srllm.profiles import resolve
from srllm.report import paper_table, side_by_side
from srllm.results.common import (DATASET_LABELS, DATASETS, PAPER_SCORER_LABELS, SHORT_DATASET, TABLE4_METHODS,
                                  TABLE4_PAPER_ROW, data_note, eval_items, headline, method_note,
                                  method_outputs, model_label, model_note)
from srllm.results.rates import SUCCESS_LABEL, ScorerChoice
from srllm.results.tables import (not_run_footnote, our_cell, rate_lookup, success_footnote, success_sentence,
                                  with_success)
from srllm.scoring.ablation import ordering_ablation
from srllm.scoring.bias import CHOICES

def table4_side_by_side(rates: pd.DataFrame, choices: dict[str, ScorerChoice], profile: Any = "cpu",
                        datasets: Sequence[str] = DATASETS) -> pd.DataFrame:
    """Table 4 beside ours: index (paper row, test set, scorer column).

    ``rates``: :func:`unsafe_rates` of :data:`TABLE4_METHODS`; ``choices``: from
    :func:`paper_column_scorers` for ``("perspective", "openai")``. Every paper row
    appears; the rows we do not reproduce (other, hosted or larger models) say why.
    """
    prof = resolve(profile)
    look = rate_lookup(rates)
    ours_by_row = {v: k for k, v in TABLE4_PAPER_ROW.items()}
    ours: dict[tuple[str, str, str], float | None] = {}
    paper_vals: dict[tuple[str, str, str], float | None] = {}
    notes: dict[tuple[str, str, str], str] = {}
    for row in paper.TABLE4:
        method = ours_by_row.get(row.key)
        for ds in datasets:
            for col, c in choices.items():
                key = (row.model, DATASET_LABELS[ds], PAPER_SCORER_LABELS[col])
                paper_vals[key] = row.score(ds, col)
                if method is None:
                    ours[key] = None
                    notes[key] = ("not run: " + _unreproduced_reason(row))
                    continue
                hit = look.get((method, ds, c.name))
                details = (c.note(), model_note(prof) if method != "original" else "",
                           data_note(ds, int(hit["n"])) if hit is not None else "")
                ours[key], notes[key] = our_cell(hit, method, prof, *details,
                                                 missing=f"{method} on {ds} with {c.name} was not computed")
    return side_by_side(ours, paper_vals, notes=notes, index_names=("model", "test set", "scorer"), keep="paper")


def _unreproduced_reason(row: Any) -> str:
    """Why a paper row has no value of ours (without the row's name: tables give it once per group of rows)."""
    if row.method == "prompted-2shot" and row.key in ("gpt35_p", "gpt4_p"):
        return "hosted paid models; no API model generates rewrites here"
    if row.method == "instruction-fine-tuned":
        return "not fine-tuned here (larger base models); our SR_LLM row stands for SR_LLM Llama3.2"
    return "larger models not run offline; our prompted row stands for Llama3.2 Instruct"


def table4_headlines(table4: pd.DataFrame, column: str = "openai") -> dict[str, Any]:
    """Glue-ready numbers of Table 4 (one scorer column): ``t4_<method>_<cmd|toxigen|bold>_unsafe`` (ours)
    and ``t4_paper_<method>_<set>_unsafe`` for each of our methods, None where missing."""
    out: dict[str, Any] = {}
    label = PAPER_SCORER_LABELS[column]
    for method, row_key in TABLE4_PAPER_ROW.items():
        model = paper.table4_row(row_key).model
        for ds in DATASETS:
            key = (model, DATASET_LABELS[ds], label)
            if key not in table4.index:
                continue
            out[f"t4_{method}_{SHORT_DATASET[ds]}_unsafe"] = headline(table4, key)
            out[f"t4_paper_{method}_{SHORT_DATASET[ds]}_unsafe"] = headline(table4, key, "paper")
    return out


def table4_plot_frame(table4: pd.DataFrame, column: str = "openai") -> pd.DataFrame:
    """Long frame for a grouped bar chart of Table 4: ``source`` (ours/paper), ``method`` (our method's
    label), ``test set``, ``unsafe %``; only the paper rows that our methods stand for."""
    label = PAPER_SCORER_LABELS[column]
    rows = []
    for method, row_key in TABLE4_PAPER_ROW.items():
        model = paper.table4_row(row_key).model
        for ds in DATASETS:
            key = (model, DATASET_LABELS[ds], label)
            if key not in table4.index:
                continue
            for source in ("ours", "paper"):
                rows.append({"source": source, "method": get_baseline(method).label, "test set": DATASET_LABELS[ds],
                             "unsafe %": table4.loc[key, source]})
    return pd.DataFrame(rows, columns=["source", "method", "test set", "unsafe %"])


def _scorer_footnotes(choices: dict[str, ScorerChoice]) -> list[str]:
    notes = []
    for col, c in choices.items():
        n = c.note()
        notes.append(f"{PAPER_SCORER_LABELS[col]} column{' (Perspective)' if col == 'perspective' else ''}"
                     f"{' (OpenAI)' if col == 'openai' else ''}: " + (n if n else f"{c.name} (the paper's scorer)"))
    return notes


def table4_view(table4: pd.DataFrame, choices: dict[str, ScorerChoice], profile: Any = "cpu",
                success: pd.DataFrame | None = None) -> Any:
    """Table 4 as the paper prints it: methods x (test set, scorer), ours beside the paper's (a Styler).

    Provenance once below the table: which of the paper's rows our methods stand for, the
    model, each test set's size against the paper's, each scorer column's scorer (and
    whether it is a proxy), and why the other rows are empty.
    """
    prof = resolve(profile)
    stands = "; ".join(f"{paper.table4_row(r).model}: {method_note(m, prof)}" for m, r in TABLE4_PAPER_ROW.items()
                       if paper.table4_row(r).model in table4.index.get_level_values("model")
                       and table4.xs(paper.table4_row(r).model, level="model")["ours"].notna().any())
    footnotes = [f"Rows with a value of ours: {stands}." if stands else "",
                 model_note(prof) and model_note(prof).replace("model: ", "Model: ") + ".",
                 *(data_note(ds, len(eval_items(ds, prof))).replace("data: ", f"{DATASET_LABELS[ds]}: ")
                   for ds in dict.fromkeys(table4.index.get_level_values("test set").map(
                       {v: k for k, v in DATASET_LABELS.items()}))),
                 *_scorer_footnotes(choices), success_footnote(success), not_run_footnote(table4, "model")]
    model_of = {m: paper.table4_row(r).model for m, r in TABLE4_PAPER_ROW.items()}
    shown = with_success(table4, success, lambda m, d: (model_of.get(m, m), DATASET_LABELS[d]), "test set")
    # short column heads so that the paper's six columns and ours fit the page; the notes use the full names
    shown = shown.rename(index={PAPER_SCORER_LABELS["perspective"]: "Perspective",
                                PAPER_SCORER_LABELS["openai"]: "OpenAI", SUCCESS_LABEL: "success %"}, level="scorer")
    return paper_table(shown, "model", ["test set", "scorer"], footnotes=footnotes,
                       caption="Table 4: texts judged unsafe (%), before and after each method; ours beside the "
                               "paper's. Lower is safer.")


def table4_findings(table4: pd.DataFrame, choice: ScorerChoice, profile: Any = "cpu", column: str = "openai",
                    success: pd.DataFrame | None = None) -> str:
    """The "What this build found" paragraph of the Table 4 page (Markdown; see :mod:`srllm.findings`)."""
    prof = resolve(profile)
    return safety_findings(table4_headlines(table4, column), scorer=choice.name, is_proxy=choice.is_proxy,
                           model=model_label(prof.model), stands_for=PAPER_SCORER_LABELS[column],
                           datasets={SHORT_DATASET[d]: DATASET_LABELS[d] for d in DATASETS}) + \
        success_sentence(success)


def ordering_ablation_view(profile: Any = "cpu", dataset: str = "cmd_test",
                           methods: Sequence[str] = TABLE4_METHODS) -> tuple[Any, str]:
    """The ablation of the proxy's training data on one set: (table, one sentence).

    :func:`srllm.scoring.ablation.ordering_ablation` scores the methods' cached outputs with the
    proxy's bias classifier trained on the labelled texts and contrast pairs (now) and with SR_LLM's
    training targets added as unbiased (before); the table puts each method's unsafe rate and
    rank under both side by side, the sentence says whether the ordering changes.
    """
    prof = resolve(profile)
    frame = ordering_ablation({get_baseline(m).label: method_outputs(m, dataset, prof, progress=False)
                               for m in methods}, seed=prof.seed)
    ran = frame[frame["status"] == "ok"].set_index("method")
    cols = {}
    for choice in CHOICES:
        label = "labelled texts and contrast pairs (now)" if choice == "labelled_only" else "with SR_LLM's targets (before)"
        cols[(label, "unsafe %")] = ran[f"unsafe_rate_{choice}"]
        cols[(label, "rank")] = ran[f"rank_{choice}"]
    table = pd.DataFrame(cols)
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["classifier trained on", None])
    same = frame.attrs.get("same_ordering")
    n = int(ran["n"].max()) if len(ran) else 0
    sentence = (f"On {DATASET_LABELS[dataset].lower()} ({n} texts), the ordering of the methods by unsafe rate "
                + ("is the same under both choices of the proxy's training data." if same else
                   "changes between the two choices of the proxy's training data."))
    caption = " ".join(f"{k}: {v}." for k, v in CHOICES.items())
    styler = table.style.format(precision=2, na_rep="–").set_caption(f"<small>{escape(caption)}</small>")
    return styler, sentence

