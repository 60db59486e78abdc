""""What this build found": the opening paragraph of each results page, from its numbers.

Each function takes the plain numbers a results notebook already computes (its glue
values) and returns Markdown that states them: before and after each method, under
which scorer, and whether the paper's ordering holds here. The notebook glues the text
(``glue(name, Markdown(text), display=False)``) and pastes it at the top of the page
with ``{glue:md}``, so the prose is true for whatever profile built the book and no
number in it is typed by hand. Numbers are rounded as the paper prints them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from srllm import paper


def _ok(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def fmt(v: Any, decimals: int = 2, unit: str = "") -> str:
    """A number as the page prints it ("n/a" when missing)."""
    if not _ok(v):
        return "n/a"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return f"{v:,.{decimals}f}{unit}"


def strictly_decreasing(values: Sequence[Any]) -> bool | None:
    """True when each value is below the one before, None when one is missing."""
    if len(values) < 2 or not all(_ok(v) for v in values):
        return None
    return all(b < a for a, b in zip(values, values[1:]))


def _scorer_phrase(scorer: str, is_proxy: bool, stands_for: str = "") -> str:
    if is_proxy:
        return f"the {scorer} scorer (a proxy" + (f" in place of {stands_for}" if stands_for else "") + ")"
    return f"the {scorer} scorer"


def safety_findings(headlines: Mapping[str, Any], *, scorer: str, is_proxy: bool, model: str,
                    datasets: Mapping[str, str], stands_for: str = "OpenAI moderation") -> str:
    """Table 4: unsafe share of the originals, 2-shot prompting and SR_LLM on each test set.

    ``headlines``: :func:`srllm.results.safety.table4_headlines` (``t4_<method>_<set>_unsafe``);
    ``datasets``: short set name -> label (``{"cmd": "our test set", ...}``).
    """
    lines = []
    holds, total = 0, 0
    for short, label in datasets.items():
        o, t, s = (headlines.get(f"t4_{m}_{short}_unsafe") for m in ("original", "two_shot", "sr_llm"))
        po, pt, ps = (headlines.get(f"t4_paper_{m}_{short}_unsafe") for m in ("original", "two_shot", "sr_llm"))
        order = strictly_decreasing([o, t, s])
        if order is not None:
            total += 1
            holds += bool(order)
        verdict = {True: "the paper's ordering (original > 2-shot > SR_LLM) holds",
                   False: "the paper's ordering (original > 2-shot > SR_LLM) does not hold",
                   None: "the ordering cannot be checked (a method did not run)"}[order]
        lines.append(f"* **{label}**: {fmt(o)}% of the original texts are flagged unsafe, {fmt(t)}% after 2-shot "
                     f"prompting and {fmt(s)}% after SR_LLM (paper: {fmt(po)}%, {fmt(pt)}%, {fmt(ps)}%); "
                     f"{verdict}.")
    head = (f"With {model} and {_scorer_phrase(scorer, is_proxy, stands_for)}, "
            f"the paper's ordering holds on {holds} of {total} test sets where all three ran:")
    return head + "\n\n" + "\n".join(lines)


def demographics_findings(means: Mapping[str, Any], *, groups_dropped: int | None, groups: int,
                          scorer: str, is_proxy: bool, model: str) -> str:
    """Table 5: mean toxicity over the groups before and after, and in how many groups SR_LLM lowered it.

    ``means``: :func:`srllm.results.demographics.table5_headlines` (``t5_mean_<method>``, ``t5_paper_mean_<method>``).
    """
    o, t, s = (means.get(f"t5_mean_{m}") for m in ("original", "two_shot", "sr_llm"))
    po, pt, ps = (means.get(f"t5_paper_mean_{m}") for m in ("original", "two_shot", "sr_llm"))
    text = (f"With {model} and {_scorer_phrase(scorer, is_proxy, 'ToxiGen-RoBERTa')}, the mean toxicity over the "
            f"ToxiGen groups is {fmt(o)}% for the original statements, {fmt(t)}% after 2-shot prompting and "
            f"{fmt(s)}% after SR_LLM (paper: {fmt(po)}%, {fmt(pt)}%, {fmt(ps)}%).")
    if groups_dropped is not None:
        text += f" SR_LLM lowers the mean toxicity in {groups_dropped} of {groups} groups."
    order = strictly_decreasing([o, s])
    if order is not None:
        text += (" As in the paper, SR_LLM's rewrites score lower than the originals on average." if order else
                 " Unlike in the paper, SR_LLM's rewrites do not score lower than the originals on average.")
    return text


def paper_mean_icat(key: str) -> float:
    """The mean of Table 6's ICAT over its four domains for one row key (the paper prints no overall row)."""
    values = [r.icat for r in paper.TABLE6 if r.key == key]
    return sum(values) / len(values)


def stereoset_findings(h: Mapping[str, Any], *, paper_base_icat: float | None = None,
                       paper_sr_icat: float | None = None) -> str:
    """Table 6: overall LMS, SS and ICAT of the base model and SR_LLM (``ss_*`` glue values of 06).

    ``paper_base_icat``/``paper_sr_icat``: e.g. :func:`paper_mean_icat` of the rows our systems stand for.
    """
    text = (f"On {h.get('ss_items')} StereoSet intrasentence items, {h.get('ss_model')} scores an overall ICAT of "
            f"{fmt(h.get('ss_base_overall_icat'))} (LMS {fmt(h.get('ss_base_overall_lms'))}, SS "
            f"{fmt(h.get('ss_base_overall_ss'))}) and with the SR_LLM adapter {fmt(h.get('ss_sr_overall_icat'))} (LMS "
            f"{fmt(h.get('ss_sr_overall_lms'))}, SS {fmt(h.get('ss_sr_overall_ss'))}).")
    b, s = h.get("ss_base_overall_icat"), h.get("ss_sr_overall_icat")
    if _ok(b) and _ok(s):
        text += " The adapter " + ("raises" if s > b else "lowers" if s < b else "leaves unchanged") + " ICAT here"
        if _ok(paper_base_icat) and _ok(paper_sr_icat):
            same = (s > b) == (paper_sr_icat > paper_base_icat)
            text += (f"; in the paper it {'raises' if paper_sr_icat > paper_base_icat else 'lowers'} it "
                     f"(mean over its four domains, Llama3.2 (P) to SR_LLM (IFT): {fmt(paper_base_icat)} to "
                     f"{fmt(paper_sr_icat)}), so the direction "
                     f"{'agrees' if same else 'differs'}")
        text += "."
    fails = h.get("ss_paper_icat_failures")
    if fails is not None:
        text += f" {fails} of the paper's Table 6 ICAT values do not follow from their own LMS and SS."
    return text


def style_findings(h: Mapping[str, Any]) -> str:
    """Section 4.4: the t-test of the style change and the share of negative dominant traits (``style_*`` of 07)."""
    scorer = h.get("style_scorer")
    proxy = " (a proxy for ParlAI's style classifier)" if h.get("style_is_proxy") else ""
    p = h.get("style_p")
    sig = "significant at 5%" if _ok(p) and p < 0.05 else "not significant at 5%"
    return (f"Scored by {scorer}{proxy}, {h.get('style_model')}'s SR_LLM rewrites of {h.get('style_n')} test texts "
            f"change the style score by {fmt(h.get('style_mean_change'), 3)} on average (t = {fmt(h.get('style_t'))}, "
            f"p = {fmt(p, 3)}, {sig}); the paper reports t = {fmt(h.get('style_paper_t'))} over "
            f"{fmt(h.get('style_paper_n'), 0)} texts. The human safe variations of the training split change it by "
            f"{fmt(h.get('style_ref_mean_change'), 3)} (t = {fmt(h.get('style_ref_t'))}, n = {h.get('style_ref_n')}). "
            f"Texts whose dominant trait is negative: {fmt(h.get('style_neg_before_pct'), 1)}% before, "
            f"{fmt(h.get('style_neg_after_pct'), 1)}% after.")


def prompting_findings(h: Mapping[str, Any], *, scorer: str, is_proxy: bool, model: str,
                       methods: Mapping[str, str]) -> str:
    """Table 7: unsafe share and retention of each method on our test set (``t7_*`` headlines).

    ``methods``: method key -> label, in the paper's order (original first, SR_LLM last).
    """
    parts = []
    for key, label in methods.items():
        u, r = h.get(f"t7_{key}_cmd_unsafe"), h.get(f"t7_{key}_cmd_retention")
        parts.append(f"{label} {fmt(u)}% unsafe" + (f", {fmt(r)}% retained" if _ok(r) else ""))
    keys = [k for k in methods if k != "original"]
    ours = [h.get(f"t7_{k}_cmd_unsafe") for k in keys]
    best = min((v, k) for v, k in zip(ours, keys) if _ok(v)) if any(_ok(v) for v in ours) else None
    text = (f"On our test set, with {model} and {_scorer_phrase(scorer, is_proxy)}: " + "; ".join(parts) + ".")
    if best is not None:
        lowest = [methods[k] for v, k in zip(ours, keys) if _ok(v) and v == best[0]]
        text += (f" The lowest unsafe share among the rewriting methods is {', '.join(lowest)}'s; in the paper it is "
                 f"SR_LLM's ({fmt(h.get('t7_paper_sr_llm_cmd_unsafe'))}%, with "
                 f"{fmt(h.get('t7_paper_sr_llm_cmd_retention'))}% retained).")
    return text


def human_eval_findings(h: Mapping[str, Any], variants: Sequence[str]) -> str:
    """Section 4.6: each variant's safety and language scores (``he_*`` glue values of 09)."""
    parts = []
    for v in variants:
        tag = v.replace("-", "_").lower()
        parts.append(f"{v} {fmt(h.get(f'he_{tag}_safety_pct'), 1)}% safety, "
                     f"{fmt(h.get(f'he_{tag}_language_pct'), 1)}% language")
    return (f"These ratings are {h.get('he_illustrative')}: {h.get('he_items_rated')} items, "
            f"{h.get('he_raters')} raters. " + "; ".join(parts) + ".")


def jobs_findings(h: Mapping[str, Any]) -> str:
    """Table 9: gender-coded terms before and after, similarity and perplexity (``jobs_*`` of 10)."""
    return (f"On {h.get('jobs_postings')} held-out job postings, gender-coded terms fall from "
            f"{fmt(h.get('jobs_biased_before'))} to {fmt(h.get('jobs_biased_after'))} per posting "
            f"(a {fmt(h.get('jobs_reduction_pct'), 1)}% reduction; paper: {fmt(h.get('jobs_paper_biased_before'))} to "
            f"{fmt(h.get('jobs_paper_biased_after'))}), the rewrites keep {fmt(h.get('jobs_similarity_pct'), 1)}% "
            f"content similarity, and perplexity goes from {fmt(h.get('jobs_ppl_before'), 1)} to "
            f"{fmt(h.get('jobs_ppl_after'), 1)}.")
