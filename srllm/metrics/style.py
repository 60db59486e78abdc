"""Style measures: CLEN and the one-sample t-test with its Fig. 3-style plot (Sections 3.4 and 4.4).

CLEN ("Content-Length Entropy Normalization", Section 3.4) is described in the
paper only as the entropy of sentence lengths, adapted from HolisticBias (Smith et al. 2022). We
define it precisely:

1. split each text into sentences at ``.``, ``!`` or ``?`` followed by
   whitespace, and at line breaks;
2. a sentence's length is its number of word tokens (``\\w+``, apostrophes
   kept inside words); sentences with no word are dropped;
3. lengths are binned in fixed-width bins of ``bin_width`` words (default 5:
   1-5, 6-10, ...) up to ``max_length`` (default 50), with one overflow bin
   for longer sentences, i.e. ``K = ceil(max_length / bin_width) + 1`` bins
   (11 by default) whatever the data;
4. ``CLEN = H / ln K``, the Shannon entropy (nats, scipy) of the bin shares
   divided by its maximum, so CLEN lies in [0, 1]: 0 when every sentence
   falls in one bin, 1 when the bins are equally filled.

Fixed bins make CLEN comparable between corpora (the paper compares before
and after rewriting); normalising by the number of bins rather than by the
number of non-empty bins keeps a corpus of uniform lengths at 0.

The paper's one-sample t-test (Section 4.4.1, Fig. 3: t = 28.17 on 16,602
examples) compares per-example style scores with a hypothesised neutral
value; the ParlAI style classifier behind those scores is not available
offline, so the test here takes any per-example scores the caller supplies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from srllm.errors import SrllmError

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+(?:'\w+)*")


def sentence_lengths(texts: Iterable[str]) -> list[int]:
    """Word counts of every sentence of every text, in order."""
    lengths = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise SrllmError(f"text {i} is {type(text).__name__}, not a string")
        for sentence in _SENTENCE_END.split(text):
            n = len(_WORD.findall(sentence))
            if n:
                lengths.append(n)
    return lengths


def length_bins(bin_width: int = 5, max_length: int = 50) -> np.ndarray:
    """Bin edges for sentence lengths: ``[1, 1+w, 1+2w, ..., >max_length]`` (last bin open-ended)."""
    if bin_width < 1 or max_length < bin_width:
        raise SrllmError(f"need bin_width >= 1 and max_length >= bin_width, got {bin_width}, {max_length}")
    edges = list(range(1, max_length + 1, bin_width)) + [max_length + 1]
    return np.array(edges + [np.inf], dtype=float)


def clen_from_lengths(lengths: Sequence[int], *, bin_width: int = 5, max_length: int = 50) -> float:
    """CLEN of a list of sentence lengths (see the module docstring)."""
    from scipy.stats import entropy

    arr = np.asarray(list(lengths), dtype=float)
    if arr.size == 0:
        raise SrllmError("CLEN needs at least one sentence")
    if np.any(arr < 1):
        raise SrllmError("sentence lengths must be >= 1")
    edges = length_bins(bin_width, max_length)
    counts, _ = np.histogram(arr, bins=edges)
    k = len(counts)
    return float(entropy(counts) / math.log(k))


def clen(texts: Iterable[str], *, bin_width: int = 5, max_length: int = 50) -> float:
    """CLEN of a corpus: normalised entropy of its sentence-length distribution, in [0, 1]."""
    return clen_from_lengths(sentence_lengths(texts), bin_width=bin_width, max_length=max_length)


@dataclass(frozen=True)
class TTestResult:
    """A one-sample t-test's statistic, p-value, degrees of freedom, sample summary and decision at ``alpha``.

    ``t_critical`` holds the bound(s) the statistic is compared with, for drawing Fig. 3.
    """

    t: float
    p: float
    df: int
    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1)
    popmean: float
    alternative: str
    alpha: float
    t_critical: tuple[float, ...]  # one bound for one-sided tests, (lower, upper) for two-sided
    reject: bool


def one_sample_ttest(values: Sequence[float], popmean: float = 0.0, *, alternative: str = "two-sided",
                     alpha: float = 0.05) -> TTestResult:
    """One-sample t-test of the mean of ``values`` against ``popmean`` (Section 4.4.1), via scipy.

    ``alternative``: ``"two-sided"``, ``"greater"`` or ``"less"``, as in
    :func:`scipy.stats.ttest_1samp`.
    """
    from scipy import stats

    arr = np.asarray(list(values), dtype=float)
    if arr.size < 2:
        raise SrllmError("a t-test needs at least two values")
    if not np.all(np.isfinite(arr)):
        raise SrllmError(f"t-test values must be finite; value {int(np.argmin(np.isfinite(arr)))} is not")
    if alternative not in ("two-sided", "greater", "less"):
        raise SrllmError(f"alternative must be two-sided, greater or less, got {alternative!r}")
    if not 0.0 < alpha < 1.0:
        raise SrllmError(f"alpha must be in (0, 1), got {alpha}")
    res = stats.ttest_1samp(arr, popmean, alternative=alternative)
    df = arr.size - 1
    if alternative == "two-sided":
        hi = float(stats.t.ppf(1 - alpha / 2, df))
        crit: tuple[float, ...] = (-hi, hi)
    elif alternative == "greater":
        crit = (float(stats.t.ppf(1 - alpha, df)),)
    else:
        crit = (float(stats.t.ppf(alpha, df)),)
    return TTestResult(t=float(res.statistic), p=float(res.pvalue), df=df, n=int(arr.size), mean=float(arr.mean()),
                       std=float(arr.std(ddof=1)), popmean=float(popmean), alternative=alternative, alpha=alpha,
                       t_critical=crit, reject=bool(res.pvalue < alpha))


def plot_ttest(result: TTestResult, *, title: str | None = None, figsize: tuple[float, float] = (7.0, 4.0)) -> Any:
    """Fig. 3-style plot: the null t-distribution, rejection regions and the observed t.

    Red dashed lines and red shading mark the critical values and rejection
    regions, the green solid line the observed t, the black dashed line the
    centre of the null distribution (t = 0, i.e. the hypothesised mean). The
    paper's figure puts the sample mean (20.19) on the t axis; a mean is not
    a t value, so here it is given in the legend instead. Returns a
    :class:`matplotlib.figure.Figure` (no pyplot state is touched).
    """
    from matplotlib.figure import Figure
    from scipy import stats

    reach = max(4.0, abs(result.t) * 1.15, *(abs(c) * 1.3 for c in result.t_critical))
    x = np.linspace(-reach, reach, 2000)
    pdf = stats.t.pdf(x, result.df)
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    ax.plot(x, pdf, color="tab:blue", label=f"t-distribution (df = {result.df})")
    crit_text = (f"\u00b1{result.t_critical[1]:.2f}" if len(result.t_critical) == 2
                 else f"{result.t_critical[0]:.2f}")
    for i, c in enumerate(result.t_critical):
        region = x >= c if c > 0 else x <= c
        ax.fill_between(x[region], pdf[region], color="tab:red", alpha=0.3)
        ax.axvline(c, color="tab:red", linestyle="--",
                   label=f"critical t = {crit_text} (alpha = {result.alpha:g})" if i == 0 else None)
    ax.axvline(0.0, color="black", linestyle="--",
               label=f"H0 mean {result.popmean:g} (sample mean {result.mean:.2f})")
    p_text = "p < 1e-5" if result.p < 1e-5 else f"p = {result.p:.3g}"
    ax.axvline(result.t, color="tab:green", linestyle="-", label=f"observed t = {result.t:.2f} ({p_text})")
    ax.set_xlabel("t")
    ax.set_ylabel("density")
    ax.set_title(title or f"One-sample t-test ({result.alternative}, n = {result.n})")
    ax.legend(fontsize="small", loc="upper left")
    fig.tight_layout()
    return fig
