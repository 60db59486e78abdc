"""Results notebooks run end to end under the smoke profile (papermill).

Each run must finish without an error output, show a side-by-side table
(our values beside the paper's: srllm.report.paper_table, or the long
srllm.report.side_by_side), draw at least one figure and glue its headline
numbers and its "What this build found" paragraph.

To add a notebook, append a :class:`ResultsNotebook` to ``NOTEBOOKS``.
Training runs and generations are cached ($SRLLM_CACHE), so the first run
of the suite also trains the smoke adapters; later runs reuse them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

SIDE_BY_SIDE_COLUMNS = ("ours", "paper")


@dataclass(frozen=True)
class ResultsNotebook:
    """A results notebook and the glue names it must record."""

    name: str
    glued: frozenset[str] = field(default_factory=frozenset)
    figures: int = 1
    parameters: tuple[tuple[str, object], ...] = (("profile", "smoke"),)


NOTEBOOKS: list[ResultsNotebook] = [
    ResultsNotebook("04_safety_across_datasets.ipynb", frozenset({
        "t4_sr_llm_cmd_unsafe", "t4_original_cmd_unsafe", "t4_two_shot_toxigen_unsafe", "t4_sr_llm_bold_unsafe",
        "t4_paper_sr_llm_cmd_unsafe", "t4_scorer", "t4_findings", "t4_proxy", "t4_ablation"})),
    ResultsNotebook("05_demographics.ipynb", frozenset({
        "t5_mean_sr_llm", "t5_mean_original", "t5_paper_mean_sr_llm", "t5_scorer", "t5_findings", "t5_proxy"})),
    ResultsNotebook("08_prompting_vs_finetuning.ipynb", frozenset({
        "t7_sr_llm_retention", "t7_sr_llm_cmd_unsafe", "t7_prefix_toxigen_unsafe", "t7_five_shot_cmd_retention",
        "t7_paper_sr_llm_retention", "t7_scorer", "t7_findings", "t7_proxy"})),
    ResultsNotebook("06_stereoset.ipynb", frozenset({
        "ss_items", "ss_base_overall_icat", "ss_sr_overall_icat", "ss_sr_overall_ss", "ss_paper_icat_failures", "ss_findings"})),
    ResultsNotebook("07_style.ipynb", frozenset({
        "style_n", "style_t", "style_mean_change", "style_neg_before_pct", "style_neg_after_pct",
        "style_ref_t", "style_paper_t", "style_findings"}), figures=3),
    ResultsNotebook("09_human_evaluation.ipynb", frozenset({
        "he_illustrative", "he_items_rated", "he_sheet_items", "he_safe_peft_1_ep_safety_pct",
        "he_safe_prefix_language_pct", "he_kappa_safety", "he_paper_peft1_safety", "he_findings"})),
    ResultsNotebook("10_job_postings.ipynb", frozenset({
        "jobs_postings", "jobs_biased_before", "jobs_biased_after", "jobs_similarity_pct", "jobs_ppl_before",
        "jobs_ppl_after", "jobs_truncated_rewrites", "jobs_paper_biased_before", "jobs_findings"})),
]


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _has_side_by_side(outputs) -> bool:
    for o in outputs:
        html = o.get("data", {}).get("text/html", "")
        if html and all(re.search(rf"<th[^>]*>{col}</th>", html) for col in SIDE_BY_SIDE_COLUMNS):
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("case", NOTEBOOKS, ids=[c.name for c in NOTEBOOKS])
def test_results_notebook_runs_under_smoke(tmp_path, repo_root, case):
    import nbformat
    import papermill as pm

    out = tmp_path / case.name
    pm.execute_notebook(str(repo_root / "notebooks" / case.name), str(out), parameters=dict(case.parameters),
                        cwd=str(repo_root), progress_bar=False, kernel_name="python3")
    nb = nbformat.read(str(out), as_version=4)
    outputs = _outputs(nb)
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    assert _has_side_by_side(outputs), "no side-by-side table (ours beside paper) in the outputs"
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    assert figures >= case.figures, f"{figures} figure(s), expected at least {case.figures}"
    glued = {o["metadata"]["scrapbook"]["name"] for o in outputs if o.get("metadata", {}).get("scrapbook")}
    missing = case.glued - glued
    assert not missing, f"not glued: {sorted(missing)}"
