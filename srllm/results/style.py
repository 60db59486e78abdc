"""Style change (Section 4.4, Figures 3 and 4): how SR_LLM's rewrites and the human safe variations
change a text's style, ours beside the paper's where it printed numbers.

The paper scores style with ParlAI's style classifier; offline the style proxy
(:mod:`srllm.scoring.style_proxy`, MiniLM zero-shot traits) stands in, on its own scale. Two
comparisons are scored the same way: SR_LLM's rewrites of the test split (the cached outputs
of :func:`srllm.results.common.method_outputs`) and the train split's human safe variations
(a reference without any model). Notebook 07 shows the tables built here: the one-sample
t-test of the style change (Figure 3), CLEN before and after, the share of texts whose
dominant trait is negative (Figure 4) and the page's glue values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from srllm import paper
from srllm.data.sources import profile_splits
from srllm.errors import SrllmError
from srllm.metrics.style import TTestResult, clen, one_sample_ttest
from srllm.profiles import resolve
from srllm.report import side_by_side
from srllm.results.common import method_outputs, model_label, model_note
from srllm.scoring.style_proxy import available_style_scorers, get_style_scorer, polarity_share, style_differences

SR_LLM = "SR_LLM rewrites (test split)"
"""The comparison of SR_LLM's rewrites with their originals."""
REFERENCE = "human safe variations (train split)"
"""The comparison of the human safe variations with their originals (no model)."""

Comparisons = Mapping[str, tuple[Sequence[str], Sequence[str]]]


def choose_scorer(name: str) -> tuple[Any, str]:
    """The style scorer ``name`` if it can run here, else the offline ``style-proxy``; and a Markdown
    line saying so (empty when ``name`` runs). Unknown names are an error."""
    available = available_style_scorers()
    if name not in available:
        raise SrllmError(f"unknown style scorer {name!r}; choose one of {sorted(available)}")
    if available[name][0]:
        return get_style_scorer(name), ""
    return get_style_scorer("style-proxy"), (f"**Style scorer `{name}` is not available** ({available[name][1]}); "
                                             "using the offline `style-proxy` instead.")


def scorer_note(scorer: Any) -> str:
    """What a row scored by ``scorer`` measures against the paper's classifier."""
    return ("style proxy (MiniLM zero-shot traits) in place of ParlAI's style classifier; other scale"
            if scorer.is_proxy else "ParlAI style classifier")


def comparisons(profile: Any) -> dict[str, tuple[list[str], list[str]]]:
    """``{comparison: (texts before, texts after)}``: SR_LLM's rewrites of the test split and the
    train split's human safe variations. SR_LLM's rewrites must have run (an error otherwise)."""
    prof = resolve(profile)
    originals = list(method_outputs("original", "cmd_test", prof).outputs)
    sr = method_outputs("sr_llm", "cmd_test", prof)
    if not sr.ok:
        raise SrllmError(f"SR_LLM rewrites are not available: {sr.reason}")
    train_split = [r for r in profile_splits(prof)["train"] if r.safe_variation]
    return {SR_LLM: (originals, list(sr.outputs)),
            REFERENCE: ([r.text for r in train_split], [r.safe_variation for r in train_split])}


def score_comparisons(scorer: Any, texts: Comparisons) -> dict[str, tuple[list[Any], list[Any]]]:
    """Style results of every text before and after, per comparison."""
    return {name: (scorer.score(before), scorer.score(after)) for name, (before, after) in texts.items()}


def examples_table(texts: Comparisons, scored: Mapping[str, tuple[Sequence[Any], Sequence[Any]]]) -> pd.DataFrame:
    """SR_LLM's test items with their rewrites, style scores and dominant traits before and after."""
    (originals, rewrites), (before, after) = texts[SR_LLM], scored[SR_LLM]
    return pd.DataFrame({
        "original": originals, "SR_LLM rewrite": rewrites,
        "style before": [r.score for r in before], "style after": [r.score for r in after],
        "trait before": [r.dominant for r in before], "trait after": [r.dominant for r in after],
    })


def ttests(scored: Mapping[str, tuple[Sequence[Any], Sequence[Any]]]) -> dict[str, TTestResult]:
    """One-sample t-test (against 0) of the style change of each comparison (the paper's Figure 3)."""
    return {name: one_sample_ttest(style_differences(b, a), 0.0) for name, (b, a) in scored.items()}


def ttest_table(tests: Mapping[str, TTestResult], scorer: Any, profile: Any) -> pd.DataFrame:
    """The t-tests beside Figure 3's (n, mean change, t, p), index (comparison, statistic), with notes."""
    prof = resolve(profile)
    ours, theirs, notes = {}, {}, {}
    paper_stats = {"n": paper.FIG3.n, "mean change": paper.FIG3.mean, "t": paper.FIG3.t, "p-value": paper.FIG3.p_below}
    for name, res in tests.items():
        values = {"n": res.n, "mean change": res.mean, "t": res.t, "p-value": res.p}
        for stat, value in values.items():
            key = (name, stat)
            ours[key], theirs[key] = value, paper_stats[stat]
            parts = [scorer_note(scorer) if stat == "mean change" else "",
                     "paper: p < 0.00001 (an upper bound)" if stat == "p-value" else "",
                     f"paper: {paper.FIG3.n:,} texts from its training set" if stat == "n" else "",
                     model_note(prof) if name.startswith("SR_LLM") else "human rewrites, no model"]
            notes[key] = "; ".join(p for p in parts if p)
    return side_by_side(ours, theirs, notes=notes, index_names=("comparison", "statistic"))


def stat_format(v: float) -> str:
    """A statistic as the t-test table prints it: counts with thousands separators, tiny p-values in
    scientific notation, everything else to three decimals; NaN as –."""
    if v != v:
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if 0 < abs(v) < 0.001:
        return f"{v:.1e}"
    return f"{v:.3f}"


def ttest_view(table: pd.DataFrame) -> Styler:
    """:func:`ttest_table` as the page shows it (counts, t values and p-values share a column)."""
    return table.style.format(stat_format, subset=["ours", "paper", "difference"])


def clen_table(texts: Comparisons) -> pd.DataFrame:
    """CLEN of every comparison's texts before and after (the paper reports none).

    A CLEN that cannot be computed (e.g. no sentence with a word in it, as from a random smoke
    model) is missing, and why is in ``table.attrs["messages"]``.
    """
    ours, theirs, notes, messages = {}, {}, {}, []
    for name, (before, after) in texts.items():
        for when, part in (("before", before), ("after", after)):
            try:
                ours[(name, when)] = clen(part)
            except SrllmError as exc:
                ours[(name, when)] = None
                messages.append(f"CLEN not computed: {exc}")
            theirs[(name, when)] = None
            notes[(name, when)] = "the paper reports no CLEN value; our definition of CLEN (see srllm.metrics.style)"
    table = side_by_side(ours, theirs, notes=notes, index_names=("comparison", "texts"))
    table.attrs["messages"] = messages
    return table


def negative_share_table(scored: Mapping[str, tuple[Sequence[Any], Sequence[Any]]], scorer: Any) -> pd.DataFrame:
    """Percent of texts whose dominant trait is negative, before and after, per comparison (Figure 4
    shows trait networks without counts, so the paper's column is empty)."""
    ours, theirs, notes = {}, {}, {}
    for name, (b, a) in scored.items():
        for when, results in (("before", b), ("after", a)):
            ours[(name, when)] = 100.0 * polarity_share(results, "negative")
            theirs[(name, when)] = None
            notes[(name, when)] = ("% of texts whose dominant trait is negative; " + scorer_note(scorer)
                                   + "; Fig. 4 shows trait networks without counts")
    return side_by_side(ours, theirs, notes=notes, index_names=("comparison", "texts"))


def _rounded(value: Any, digits: int) -> float | None:
    return None if pd.isna(value) else round(value, digits)


def headlines(scorer: Any, profile: Any, tests: Mapping[str, TTestResult], negative: pd.DataFrame,
              clens: pd.DataFrame) -> dict[str, Any]:
    """Glue-ready values of the style page (``style_*``): the scorer, both t-tests, the negative-trait
    shares and CLEN of SR_LLM's comparison, and Figure 3's t and n."""
    main, ref = tests[SR_LLM], tests[REFERENCE]
    return {
        "style_scorer": scorer.name,
        "style_is_proxy": bool(scorer.is_proxy),
        "style_model": model_label(resolve(profile).model),
        "style_n": main.n,
        "style_mean_change": round(main.mean, 4),
        "style_t": round(main.t, 2),
        "style_p": float(f"{main.p:.3g}"),
        "style_ref_n": ref.n,
        "style_ref_t": round(ref.t, 2),
        "style_ref_mean_change": round(ref.mean, 4),
        "style_neg_before_pct": round(negative.loc[(SR_LLM, "before"), "ours"], 1),
        "style_neg_after_pct": round(negative.loc[(SR_LLM, "after"), "ours"], 1),
        "style_clen_before": _rounded(clens.loc[(SR_LLM, "before"), "ours"], 3),
        "style_clen_after": _rounded(clens.loc[(SR_LLM, "after"), "ours"], 3),
        "style_paper_t": paper.FIG3.t,
        "style_paper_n": paper.FIG3.n,
    }
