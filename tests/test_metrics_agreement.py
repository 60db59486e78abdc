"""Fleiss' kappa (Appendix A, Table 10): Fleiss 1971's worked example, statsmodels, long-format conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srllm.errors import SrllmError
from srllm.metrics import agreement
from srllm.paper import kappa_band

FLEISS_1971 = Path(__file__).parent / "fixtures" / "metrics" / "fleiss1971_diagnoses.csv"

# The 10-subject, 14-rater, 5-category example often used to teach Fleiss' kappa (kappa = 0.210).
TEACHING_TABLE = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                  [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]


def test_fleiss_1971_worked_example_from_long_format():
    ct = agreement.count_table(FLEISS_1971, "diagnosis")
    assert ct.table.shape == (30, 5) and ct.n_raters == 6
    assert ct.table.sum() == 180 and np.all(ct.table.sum(axis=1) == 6)
    kappa = agreement.fleiss_kappa(ct)
    assert round(kappa, 3) == 0.430
    assert kappa == pytest.approx(0.4302445, abs=1e-7)
    assert kappa_band(kappa) == "Moderate"


def test_teaching_example():
    assert round(agreement.fleiss_kappa(TEACHING_TABLE), 3) == 0.210


def test_matches_statsmodels_on_random_long_format_data():
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    rng = np.random.default_rng(7)
    truth = rng.integers(0, 3, size=40)
    wide = np.where(rng.random((40, 5)) < 0.7, truth[:, None], rng.integers(0, 3, size=(40, 5)))
    cats = ["No", "Mild", "High"]
    long = pd.DataFrame([{"item_id": f"i{i}", "annotator": f"a{r}", "toxicity": cats[wide[i, r]]}
                         for i in range(40) for r in range(5)])
    ct = agreement.count_table(long, "toxicity", categories=cats)
    expected_table, _ = aggregate_raters(wide, n_cat=3)
    assert np.array_equal(ct.table, expected_table)
    assert agreement.fleiss_kappa(ct) == pytest.approx(sm_fleiss(expected_table), abs=1e-12)
    assert agreement.fleiss_kappa(ct, method="randolph") == pytest.approx(sm_fleiss(expected_table, "randolph"))


def test_kappa_per_field_perfect_and_systematic_disagreement():
    # per-field kappas come from srllm.data.stats.fleiss_kappa_by_field, which counts and computes here
    from srllm.data.stats import fleiss_kappa_by_field

    rows = [{"item_id": i, "annotator": a, "bias": "Yes" if i % 2 else "No", "harm": ["Low", "High"][(i + a) % 2]}
            for i in range(6) for a in range(3)]
    res = fleiss_kappa_by_field(pd.DataFrame(rows), ["bias", "harm"])
    assert res["bias"] == pytest.approx(1.0)
    assert res["harm"] < 0  # raters disagree systematically


def test_bad_annotation_files_are_named(tmp_path):
    path = tmp_path / "ann.csv"
    path.write_text("item_id,annotator,bias\n1,a,Yes\n1,b,\n")
    with pytest.raises(SrllmError, match=r"ann.csv: line 3: field 'bias' is missing or empty"):
        agreement.count_table(path, "bias")
    path.write_text("item_id,annotator,bias\n1,a,Yes\n1,a,No\n")
    with pytest.raises(SrllmError, match=r"line 3: annotator 'a' already labelled item '1' \(line 2\)"):
        agreement.count_table(path, "bias")
    path.write_text("item_id,annotator,bias\n1,a,Yes\n1,b,No\n2,a,Yes\n3,a,No\n3,b,No\n")
    with pytest.raises(SrllmError, match="same number of annotators per item.*2 \\(1\\)"):
        agreement.count_table(path, "bias")
    with pytest.raises(SrllmError, match="outside the categories"):
        agreement.count_table([{"item_id": 1, "annotator": "a", "bias": "Maybe"}], "bias", categories=["Yes", "No"])
    with pytest.raises(SrllmError, match="same number of ratings"):
        agreement.fleiss_kappa([[2, 0], [1, 0]])


@pytest.mark.parametrize("kappa, band", [(-0.1, "Poor"), (0.2, "Poor"), (0.21, "Fair"), (0.5, "Moderate"),
                                         (0.62, "Substantial"), (0.78, "Substantial"), (0.81, "Almost perfect")])
def test_interpretation_bands(kappa, band):
    # one band function, the paper's Appendix A (srllm.paper), for every kappa of the project
    assert kappa_band(kappa) == band
