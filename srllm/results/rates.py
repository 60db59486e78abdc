"""Scores of the methods' outputs: which scorer stands in for each paper column, and the rate tables.

Scorers (Section 3.4): the paper scores with Perspective API and OpenAI moderation (Tables 4
and 7) and ToxiGen-RoBERTa (Table 5). :func:`paper_column_scorers` picks, for each column, the
real scorer when it can run here and otherwise the notebook's stand-in (``offline-proxy`` by
default), and :meth:`ScorerChoice.note` says so in every row. From the cached outputs of
:func:`srllm.results.common.method_outputs` this module builds the long tables the results
pages start from: :func:`unsafe_rates` (Tables 4 and 7), :func:`group_rates` (Table 5),
:func:`retention_scores` (Table 7's knowledge retention) and :func:`task_success_rates` (our
own measure, beside the rates).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any, Iterable, Sequence

import pandas as pd

from srllm.data.sources import profile_splits
from srllm.errors import SrllmError
from srllm.metrics.retention import knowledge_retention
from srllm.metrics.task_success import biased_inputs, task_success
from srllm.perf import log_work
from srllm.profiles import resolve
from srllm.results.common import (DATASETS, PAPER_SCORER_LABELS, PAPER_SCORERS, SCORER_DESCRIPTIONS, data_note,
                                  eval_items, method_outputs)
from srllm.scoring import Scorer, available_scorers, get_scorer
from srllm.scoring.bias import proxy_card

@dataclass(frozen=True)
class ScorerChoice:
    """A scorer by name, whether it can run here, and why (not)."""

    name: str
    available: bool
    is_proxy: bool
    reason: str
    stands_in_for: str | None = None  # paper column key when this scorer replaces the paper's scorer
    instance: Any = field(default=None, compare=False, repr=False)  # a ready Scorer object, if given one

    @property
    def description(self) -> str:
        """A readable description of the scorer (its name when none is registered)."""
        return SCORER_DESCRIPTIONS.get(self.name, self.name)

    def note(self) -> str:
        """The note for a table row scored by this choice (empty when it is the paper's own scorer)."""
        if not self.available:
            return f"not run: scorer {self.name} unavailable ({self.reason})"
        if self.stands_in_for is None:
            return "proxy scorer: " + self.description if self.is_proxy else ""
        label = PAPER_SCORER_LABELS[self.stands_in_for]
        kind = "proxy" if self.is_proxy else "stand-in"
        return f"{kind}: {self.description} in place of {label}"


_SCORER_INSTANCES: dict[str, Any] = {}


def _availability(name: str) -> dict[str, Any]:
    hf = (name[3:],) if name.startswith("hf:") else ()
    rows = {r["name"]: r for r in available_scorers(hf_models=hf)}
    if name not in rows:
        raise SrllmError(f"unknown scorer {name!r}; known: offline-proxy, perspective, openai-moderation, hf:<id>")
    return rows[name]


def scorers_for(names: Iterable[str], profile: Any = None) -> list[ScorerChoice]:
    """One :class:`ScorerChoice` per name: available here or not, with the reason.

    ``profile`` is accepted for symmetry with the other calls; scorer availability
    does not depend on it.
    """
    out = []
    for name in names:
        row = _availability(name)
        out.append(ScorerChoice(name, bool(row["available"]), bool(row["is_proxy"]), str(row["reason"])))
    return out


def scorer_status(names: Iterable[str] = ("offline-proxy", "perspective", "openai-moderation",
                                          "hf:tomh/toxigen_roberta")) -> pd.DataFrame:
    """A table of scorers: ``scorer``, ``status`` (``available`` / ``not run``), ``is_proxy``, ``reason``."""
    rows = [{"scorer": c.name, "status": "available" if c.available else "not run", "is_proxy": c.is_proxy,
             "reason": c.reason} for c in scorers_for(names)]
    return pd.DataFrame(rows, columns=["scorer", "status", "is_proxy", "reason"])


def paper_column_scorers(columns: Sequence[str], preferred: str = "offline-proxy") -> dict[str, ScorerChoice]:
    """For each paper scorer column (``perspective``, ``openai``, ``toxigen_roberta``), the scorer we use.

    The paper's own scorer when it can run here; otherwise ``preferred`` (the notebooks'
    ``scorer`` parameter), marked as standing in for the paper's.
    """
    out: dict[str, ScorerChoice] = {}
    for col in columns:
        if col not in PAPER_SCORERS:
            raise SrllmError(f"unknown paper scorer column {col!r}; choose from {sorted(PAPER_SCORERS)}")
        real = scorers_for([PAPER_SCORERS[col]])[0]
        if real.available:
            out[col] = real
        else:
            c = scorers_for([preferred])[0]
            out[col] = ScorerChoice(c.name, c.available, c.is_proxy, c.reason, stands_in_for=col)
    return out


def as_choice(scorer: Any) -> ScorerChoice:
    """A :class:`ScorerChoice` from a scorer name, a choice, or a ready :class:`srllm.scoring.Scorer` object."""
    if isinstance(scorer, ScorerChoice):
        return scorer
    if isinstance(scorer, Scorer):
        return ScorerChoice(scorer.name, True, bool(scorer.is_proxy), "scorer object given", instance=scorer)
    if isinstance(scorer, str):
        return scorers_for([scorer])[0]
    raise SrllmError(f"a scorer must be a name, a ScorerChoice or a Scorer, not {type(scorer).__name__}")


def get_scorer_instance(name: str) -> Any:
    """One scorer object per name for the whole session (the offline proxy loads models once)."""
    if name not in _SCORER_INSTANCES:
        _SCORER_INSTANCES[name] = get_scorer(name)
    return _SCORER_INSTANCES[name]


def score_outputs(result: Any, scorer: Any) -> list[Any] | None:
    """Scores of a method's outputs (``scorer``: a name, a :class:`ScorerChoice` or a
    :class:`srllm.scoring.Scorer`); None when the method did not run."""
    if not result.ok:
        return None
    if isinstance(scorer, ScorerChoice):
        sc = scorer.instance if scorer.instance is not None else get_scorer_instance(scorer.name)
    else:
        sc = get_scorer_instance(scorer) if isinstance(scorer, str) else scorer
    return sc.score(list(result.outputs))


RATE_COLUMNS = ("method", "dataset", "scorer", "is_proxy", "n", "unsafe_rate", "mean_p_unsafe", "status", "reason")


def unsafe_rates(methods: Sequence[str], datasets: Sequence[str], scorers: Sequence[Any],
                 profile: Any = "cpu", progress: bool = True) -> pd.DataFrame:
    """Long table: one row per method x dataset x scorer.

    ``unsafe_rate``: percent of outputs flagged (the "toxic generation %" of Tables 4 and 7);
    ``mean_p_unsafe``: mean probability in percent (Table 5's "averaged probabilities").
    A method or scorer that cannot run gives ``status="not_run"``, NaN rates and the reason.
    ``scorers``: names, :class:`ScorerChoice` objects or :class:`srllm.scoring.Scorer` objects.
    """
    prof = resolve(profile)
    choices = [as_choice(s) for s in scorers]
    rows = []
    for dataset in datasets:
        for method in methods:
            result = method_outputs(method, dataset, prof, progress=progress)
            for c in choices:
                row = {"method": method, "dataset": dataset, "scorer": c.name, "is_proxy": c.is_proxy,
                       "n": 0, "unsafe_rate": math.nan, "mean_p_unsafe": math.nan, "status": "ok", "reason": ""}
                if not result.ok:
                    row.update(status="not_run", reason=result.reason or "not run")
                elif not c.available:
                    row.update(status="not_run", reason=f"scorer {c.name} unavailable: {c.reason}")
                else:
                    scores = score_outputs(result, c)
                    row.update(n=len(scores), unsafe_rate=100.0 * sum(s.flag for s in scores) / len(scores),
                               mean_p_unsafe=100.0 * sum(s.p_unsafe for s in scores) / len(scores))
                rows.append(row)
    return pd.DataFrame(rows, columns=list(RATE_COLUMNS))


GROUP_COLUMNS = ("method", "group", "scorer", "is_proxy", "n", "mean_p_unsafe", "unsafe_rate", "status", "reason")


def group_rates(methods: Sequence[str], scorer: Any, profile: Any = "cpu",
                dataset: str = "toxigen", progress: bool = True) -> pd.DataFrame:
    """Per-group scores of each method on ``dataset`` (Table 5: ToxiGen target groups).

    Long table with ``mean_p_unsafe`` (percent; what Table 5 reports) and ``unsafe_rate``
    (percent flagged) per method and group; methods or scorers that cannot run give one
    ``not_run`` row per group with the reason.
    """
    prof = resolve(profile)
    c = as_choice(scorer)
    items = eval_items(dataset, prof)
    groups = list(dict.fromkeys(it.group for it in items))
    rows = []
    for method in methods:
        result = method_outputs(method, dataset, prof, progress=progress)
        scores = None
        reason = ""
        if not result.ok:
            reason = result.reason or "not run"
        elif not c.available:
            reason = f"scorer {c.name} unavailable: {c.reason}"
        else:
            scores = score_outputs(result, c)
        for g in groups:
            row = {"method": method, "group": g, "scorer": c.name, "is_proxy": c.is_proxy, "n": 0,
                   "mean_p_unsafe": math.nan, "unsafe_rate": math.nan, "status": "not_run", "reason": reason}
            if scores is not None:
                mine = [s for it, s in zip(items, scores) if it.group == g]
                row.update(n=len(mine), status="ok", reason="",
                           mean_p_unsafe=100.0 * sum(s.p_unsafe for s in mine) / len(mine),
                           unsafe_rate=100.0 * sum(s.flag for s in mine) / len(mine))
            rows.append(row)
    return pd.DataFrame(rows, columns=list(GROUP_COLUMNS))




@dataclass(frozen=True)
class RetentionResult:
    """Knowledge retention of one method on one set: per-item scores in [0, 1], or why there are none.

    ``status``: ``ok``, ``not_run`` (the method did not run) or ``not_applicable``
    (``original``: nothing was rewritten; the paper prints N/A).
    """

    method: str
    dataset: str
    status: str
    scores: tuple[float, ...] | None = None
    reason: str = ""
    measure: str = "offline retention proxy (MiniLM cosine + content-word recall; srllm.metrics.retention)"

    @property
    def mean_percent(self) -> float | None:
        """Mean retention score as a percent, None when there are no scores."""
        if not self.scores:
            return None
        return 100.0 * sum(self.scores) / len(self.scores)


def retention_scores(method: str, dataset: str, profile: Any = "cpu", progress: bool = True) -> RetentionResult:
    """Knowledge retention of ``method``'s rewrites against the items' texts (Section 3.4, Table 7).

    Uses :func:`srllm.metrics.retention.knowledge_retention` (an offline proxy for DeepEval's
    judge); CMD items' ``biased_words`` are not counted as knowledge to retain.
    """
    if method == "original":
        return RetentionResult(method, dataset, "not_applicable",
                               reason="no rewrite: retention compares an original with its rewrite")
    prof = resolve(profile)
    result = method_outputs(method, dataset, prof, progress=progress)
    if not result.ok:
        return RetentionResult(method, dataset, "not_run", reason=result.reason or "not run")
    items = eval_items(dataset, prof)
    t0 = time.perf_counter()
    scores = knowledge_retention([it.text for it in items], list(result.outputs),
                                 [list(it.biased_words) for it in items])
    log_work("scoring", time.perf_counter() - t0, desc=f"retention ({method}, {dataset})", rows=len(items))
    return RetentionResult(method, dataset, "ok", tuple(float(s) for s in scores))


def retention_frame(results: Iterable[RetentionResult]) -> pd.DataFrame:
    """Long table of retention results: ``method``, ``dataset``, ``n``, ``retention`` (mean, percent),
    ``status``, ``reason``."""
    rows = [{"method": r.method, "dataset": r.dataset, "n": len(r.scores or ()), "retention": r.mean_percent,
             "status": r.status, "reason": r.reason} for r in results]
    frame = pd.DataFrame(rows, columns=["method", "dataset", "n", "retention", "status", "reason"])
    frame["retention"] = frame["retention"].astype(float)
    return frame



SUCCESS_COLUMNS = ("method", "dataset", "n", "success", "status", "reason")
SUCCESS_LABEL = "task success %"


def task_inputs(dataset: str, profile: Any = "cpu") -> list[int]:
    """Positions of the items whose input needs a rewrite: on our test set the records labelled
    biased or toxic (:func:`srllm.metrics.task_success.biased_inputs`); every item elsewhere."""
    prof = resolve(profile)
    items = eval_items(dataset, prof)
    if dataset != "cmd_test":
        return list(range(len(items)))

    biased = {r.id for r in biased_inputs(profile_splits(prof, "cmd")["test"])}
    return [i for i, it in enumerate(items) if it.id in biased]


def task_success_rates(methods: Sequence[str], datasets: Sequence[str], scorer: Any,
                       profile: Any = "cpu") -> pd.DataFrame:
    """Task success (:mod:`srllm.metrics.task_success`) of each rewriting method on each set, in percent.

    One row per method and set, over :func:`task_inputs`; the scorer decides "still unsafe"
    (the same stand-in as the unsafe rates beside it). The original texts are not a rewrite
    and get no row; a method that did not run gets ``status="not_run"``.
    """
    prof = resolve(profile)
    choice = as_choice(scorer)
    sc = choice.instance if choice.instance is not None else get_scorer_instance(choice.name)
    rows = []
    for dataset in datasets:
        keep = task_inputs(dataset, prof)
        items = eval_items(dataset, prof)
        for method in methods:
            if method == "original":
                continue
            result = method_outputs(method, dataset, prof, progress=False)
            row = {"method": method, "dataset": dataset, "n": len(keep), "success": math.nan, "status": "ok",
                   "reason": ""}
            if not result.ok:
                row.update(status="not_run", reason=result.reason or "not run", n=0)
            elif not choice.available:
                row.update(status="not_run", reason=f"scorer {choice.name} unavailable: {choice.reason}", n=0)
            elif keep:
                res = task_success([items[i].text for i in keep], [result.outputs[i] for i in keep], scorer=sc)
                row["success"] = 100.0 * res.success_rate
            rows.append(row)
    return pd.DataFrame(rows, columns=list(SUCCESS_COLUMNS))


def setup_summary(profile: Any, choices: dict[str, ScorerChoice] | None = None) -> pd.DataFrame:
    """One row per comparison caveat (model, each evaluation set, each scorer), for display above a table."""
    prof = resolve(profile)
    rows = [{"what": "model", "ours": prof.model, "paper": "Llama-3.2-1B-Instruct (Table 4 also other models)"}]
    for ds in DATASETS:
        rows.append({"what": f"data: {ds}", "ours": data_note(ds, len(eval_items(ds, prof))), "paper": ""})
    for col, c in (choices or {}).items():
        rows.append({"what": f"scorer: {PAPER_SCORER_LABELS[col]}", "ours": c.note() or c.name,
                     "paper": PAPER_SCORER_LABELS[col]})
    return pd.DataFrame(rows, columns=["what", "ours", "paper"])


def rates_view(rates: pd.DataFrame) -> Any:
    """The long table of :func:`unsafe_rates` or :func:`group_rates` as a page shows it (a Styler).

    Rows that ran, rates to 2 decimals; the methods that did not run are named once below
    the table with their reason instead of a row each.
    """
    ok = rates[rates["status"] == "ok"].drop(columns=[c for c in ("status", "reason") if c in rates])
    reasons: dict[str, list[str]] = {}
    for r in rates[rates["status"] != "ok"].to_dict("records"):
        methods = reasons.setdefault(str(r["reason"]), [])
        if r["method"] not in methods:
            methods.append(r["method"])
    caption = " ".join(f"Not run: {', '.join(ms)} ({why})." for why, ms in reasons.items())
    styler = ok.style.format(precision=2, na_rep="–").hide(axis="index")
    if caption:
        styler = styler.set_caption(f"<small>{escape(caption)}</small>").set_table_styles(
            [{"selector": "caption", "props": "caption-side: bottom; text-align: left;"}])
    return styler


def proxy_statement(choices: Iterable[ScorerChoice]) -> str:
    """What a page says, once, about the offline proxy when one of its columns uses it (Markdown).

    From :func:`srllm.scoring.bias.proxy_card`: what the proxy's bias classifier was trained on
    and its accuracy on held-out labelled texts (issue 14, item 2).
    """
    if not any(c.name == "offline-proxy" and c.available for c in choices):
        return "No column of this page is scored by the offline proxy."

    return ("**The offline proxy.** " + proxy_card()["sentence"] + " Its levels are not those of the paper's "
            "scorers: compare directions between methods, not levels.")

