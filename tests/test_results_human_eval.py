"""srllm.results.human_eval: the human-evaluation page's tables and glue values (the illustrative sheet)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from srllm import paper
from srllm.human_eval import VARIANT_ORDER, evaluate_sheets
from srllm.results import human_eval as he_results


@pytest.fixture(scope="module")
def res():
    return evaluate_sheets(model="tiny-random-llama")  # the bundled ILLUSTRATIVE example


def test_headlines_quote_the_summary_agreement_and_table8(res):
    h = he_results.headlines(res, sheet_items=7)
    assert h["he_illustrative"] == "ILLUSTRATIVE (simulated ratings)" and res.illustrative
    assert h["he_items_rated"] == res.ratings["item_id"].nunique() and h["he_raters"] == res.ratings["rater"].nunique()
    assert h["he_sheet_items"] == 7
    for v in res.summary.index:
        tag = v.replace("-", "_").lower()
        assert h[f"he_{tag}_safety_pct"] == round(float(res.summary.loc[v, "safety_pct"]), 1)
        assert h[f"he_{tag}_language_pct"] == round(float(res.summary.loc[v, "language_pct"]), 1)
    for c, a in res.agreement.items():
        assert h[f"he_kappa_{c}"] == (round(a.kappa, 3) if a.kappa is not None else "n/a")
    peft1 = {r.key: r for r in paper.TABLE8}["peft_1ep"]
    assert (h["he_paper_peft1_safety"], h["he_paper_peft1_language"]) == (peft1.safety, peft1.language)
    values = he_results.findings_values(res)
    assert set(values) < set(h) and not any(k.startswith("he_kappa") for k in values)


def test_plans_runs_and_example_tables():
    plans = he_results.plans_table("smoke")
    assert list(plans.index) == list(VARIANT_ORDER)
    run = SimpleNamespace(summary=lambda: {**{c: 1 for c in he_results.RUN_COLUMNS}, "extra": 0})
    runs = he_results.runs_table({v: run for v in VARIANT_ORDER})
    assert list(runs.columns) == he_results.RUN_COLUMNS and list(runs.index) == list(VARIANT_ORDER)
    example = he_results.example_table(["a text", "b"], {"PEFT-1": ["a rewrite", "x"], "Dense": ["other", "y"]})
    assert list(example.index) == ["original", "PEFT-1", "Dense"]
    assert list(example["output"]) == ["a text", "a rewrite", "other"]
