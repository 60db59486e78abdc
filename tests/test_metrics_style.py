"""CLEN and the one-sample t-test with its plot (Sections 3.4 and 4.4, Fig. 3)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from srllm.errors import SrllmError
from srllm.metrics import style


def test_sentence_lengths_split_rules():
    text = "One two three. Four five six seven! Hi?\nA line without a stop\n\n... Don't stop."
    assert style.sentence_lengths([text]) == [3, 4, 1, 5, 2]
    with pytest.raises(SrllmError, match="text 1 is int"):
        style.sentence_lengths(["ok", 3])


def test_bins_are_fixed():
    assert list(style.length_bins()[:3]) == [1, 6, 11] and len(style.length_bins()) - 1 == 11
    assert list(style.length_bins(5, 12)) == [1, 6, 11, 13, np.inf]


def test_clen_extremes_and_hand_case():
    assert style.clen_from_lengths([7, 8, 9, 10, 6]) == pytest.approx(0.0)  # one bin
    one_per_bin = [1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 80]
    assert style.clen_from_lengths(one_per_bin) == pytest.approx(1.0)
    # two of eleven bins, equal shares: ln 2 / ln 11
    assert style.clen_from_lengths([3, 4, 12, 14]) == pytest.approx(math.log(2) / math.log(11))
    # shares 3/4, 1/4 in bins of width 10 up to 30 -> K = 4
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert style.clen_from_lengths([1, 2, 3, 25], bin_width=10, max_length=30) == pytest.approx(h / math.log(4))


def test_clen_of_texts_and_errors():
    varied = ["Short one. This sentence is a little bit longer than that. " + " ".join(["word"] * 30) + "."]
    flat = ["Five words in this sentence. Five more words right here."]
    assert style.clen(varied) > style.clen(flat) == pytest.approx(0.0)
    with pytest.raises(SrllmError, match="at least one sentence"):
        style.clen(["...", ""])


def test_ttest_matches_formula_and_scipy():
    from scipy import stats

    values = [0.2, 0.5, 0.1, 0.9, 0.4, 0.7, 0.3]
    res = style.one_sample_ttest(values, popmean=0.25)
    n, m, s = len(values), np.mean(values), np.std(values, ddof=1)
    t = (m - 0.25) / (s / math.sqrt(n))
    assert res.t == pytest.approx(t) and res.df == n - 1
    assert res.p == pytest.approx(2 * stats.t.sf(abs(t), n - 1))
    assert res.t_critical == pytest.approx((-stats.t.ppf(0.975, 6), stats.t.ppf(0.975, 6)))
    assert res.reject == (res.p < 0.05)
    greater = style.one_sample_ttest(values, popmean=0.25, alternative="greater")
    assert greater.p == pytest.approx(res.p / 2) and len(greater.t_critical) == 1
    with pytest.raises(SrllmError, match="at least two"):
        style.one_sample_ttest([1.0])
    with pytest.raises(SrllmError, match="value 1 is not"):
        style.one_sample_ttest([1.0, float("nan")])


def test_plot_ttest_marks_observed_and_critical_values():
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0)
    res = style.one_sample_ttest(rng.normal(0.4, 1.0, 300))
    fig = style.plot_ttest(res)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    vlines = {round(float(line.get_xdata()[0]), 6): line.get_color() for line in ax.lines[1:]}
    assert round(res.t, 6) in vlines and vlines[round(res.t, 6)] == "tab:green"
    for c in res.t_critical:
        assert vlines[round(c, 6)] == "tab:red"
    assert ax.get_xlim()[1] >= res.t  # the observed t is on the plot even when far in the tail
    assert len(ax.collections) == 2  # two shaded rejection regions
