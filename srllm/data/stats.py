"""Descriptive statistics of a CMD-style dataset (paper Section 2.1, Appendix A and B.2).

One function per table or figure of the data notebook:

* :func:`label_counts` / :func:`label_shares` - Table 1 and Table 12 (label distributions);
* :func:`split_table` - Table 1's split sizes beside ours;
* :func:`length_stats` - Table 11 (character and word lengths);
* :func:`change_measures` / :func:`change_stats` - Table 13 (how much the benign
  rewrite changes the text). The paper does not name its statistic; ours is
  defined below and is therefore not expected to match its numbers;
* :func:`flesch_reading_ease` / :func:`flesch_by_label` - Fig. 6;
* :func:`fleiss_kappa_by_field` - the inter-annotator agreement of Section 2.1 / Table 10.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Iterable, Sequence

from srllm.data.schema import LABELS, LABEL_FIELDS
from srllm.errors import SrllmError
from srllm.labels import field_of
from srllm.metrics.agreement import count_table, fleiss_kappa

STAT_KEYS = ("count", "mean", "std", "min", "25%", "50%", "75%", "max")


# --- Table 1 / Table 12: label distributions -----------------------------------------------

def label_counts(records: Iterable[Any], fields: Sequence[str] = LABEL_FIELDS) -> dict[str, dict[str, int]]:
    """``{field: {label: count}}`` in the paper's label order; a ``"missing"`` entry only when some are."""
    records = list(records)
    out: dict[str, dict[str, int]] = {}
    for f in fields:
        counts = {v: 0 for v in LABELS[f]}
        missing = 0
        for r in records:
            v = field_of(r, f)
            if v is None:
                missing += 1
            else:
                counts[v] = counts.get(v, 0) + 1
        if missing:
            counts["missing"] = missing
        out[f] = counts
    return out


def label_shares(counts: dict[str, dict[str, int]]) -> dict[tuple[str, str], float]:
    """Percentages per field (of the labelled rows, missing excluded), keyed ``(field, label)``."""
    out = {}
    for f, c in counts.items():
        total = sum(n for k, n in c.items() if k != "missing")
        for k, n in c.items():
            if k != "missing":
                out[(f, k)] = 100.0 * n / total if total else float("nan")
    return out


def split_table(splits: dict[str, Sequence[Any]], paper_split: dict[str, int]) -> Any:
    """Split sizes and shares, ours beside the paper's (Table 1)."""
    import pandas as pd

    n_ours = sum(len(v) for v in splits.values())
    n_paper = sum(paper_split.values())
    rows = [{"split": s, "ours_n": len(splits[s]), "ours_%": 100.0 * len(splits[s]) / n_ours,
             "paper_n": paper_split[s], "paper_%": 100.0 * paper_split[s] / n_paper} for s in paper_split]
    return pd.DataFrame(rows).set_index("split")


def flatten(nested: dict[str, dict[str, float]]) -> dict[tuple[str, str], float]:
    """``{a: {b: v}}`` -> ``{(a, b): v}`` (the key shape of :func:`srllm.report.side_by_side` tables)."""
    return {(a, b): v for a, inner in nested.items() for b, v in inner.items()}


# --- Table 11: text lengths --------------------------------------------------------------------

def describe(values: Sequence[float]) -> dict[str, float]:
    """pandas' ``describe()`` statistics (count, mean, std, min, quartiles, max) as a plain dict."""
    import pandas as pd

    if len(values) == 0:
        return {k: float("nan") for k in STAT_KEYS} | {"count": 0.0}
    d = pd.Series(list(values), dtype="float64").describe()
    return {k: float(d[k]) for k in STAT_KEYS}


def length_stats(texts: Iterable[str]) -> dict[str, dict[str, float]]:
    """Table 11: statistics of ``char_length`` (characters) and ``word_length`` (whitespace-separated words)."""
    texts = list(texts)
    return {"char_length": describe([len(t) for t in texts]),
            "word_length": describe([len(t.split()) for t in texts])}


# --- Table 13: how much the benign rewrite changes the text -----------------------------------

_WORD = re.compile(r"[\w']+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, apostrophes); punctuation dropped."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class ChangeMeasures:
    """How far a rewrite is from its original (0 = unchanged).

    * ``edit_ratio`` - word-level Levenshtein distance divided by the longer
      text's word count, in [0, 1]: the share of word positions that had to be
      inserted, deleted or replaced. This is our Table 13 measure.
    * ``word_change`` - 1 minus the Jaccard overlap of the two word sets, in
      [0, 1]: ignores order, so it shows vocabulary change alone.
    * ``length_ratio`` - rewrite words / original words.
    """

    edit_ratio: float
    word_change: float
    length_ratio: float


def token_edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences (unit costs).

    Hand-written because nltk's ``edit_distance`` (the only implementation in our
    pinned set that takes token lists) keeps a full matrix and per-cell options
    and is about five times slower on paragraph-length texts; a test checks this
    one against nltk's.
    """
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        left = i
        for j, y in enumerate(b, 1):
            left = min(prev[j] + 1, left + 1, prev[j - 1] + (x != y))
            cur.append(left)
        prev = cur
    return prev[-1]


def change_measures(text: str, rewrite: str) -> ChangeMeasures:
    """:class:`ChangeMeasures` between an original text and its rewrite."""
    a, b = words(text), words(rewrite)
    longest = max(len(a), len(b))
    edit = token_edit_distance(a, b) / longest if longest else 0.0
    sa, sb = set(a), set(b)
    union = sa | sb
    jaccard = len(sa & sb) / len(union) if union else 1.0
    return ChangeMeasures(edit_ratio=edit, word_change=1.0 - jaccard, length_ratio=len(b) / len(a) if a else float("nan"))


def change_table(records: Iterable[Any]) -> Any:
    """One row of :class:`ChangeMeasures` per record that has a safe variation (DataFrame, indexed by id)."""
    import pandas as pd

    rows = []
    for r in records:
        sv = field_of(r, "safe_variation")
        if sv:
            rows.append({"id": field_of(r, "id"), **asdict(change_measures(field_of(r, "text"), sv))})
    return pd.DataFrame(rows, columns=["id", "edit_ratio", "word_change", "length_ratio"]).set_index("id")


def change_stats(records: Iterable[Any], measure: str = "edit_ratio") -> dict[str, float]:
    """Table 13 layout (count, mean, std, min, quartiles, max) of one change measure."""
    table = change_table(records)
    if measure not in table.columns:
        raise SrllmError(f"unknown change measure {measure!r}; choose one of {', '.join(table.columns)}")
    return describe(table[measure].tolist())


# --- Fig. 6: Flesch Reading Ease by sentiment ----------------------------------------------------

@lru_cache(maxsize=1)
def readability_backend() -> str:
    """Which syllable counter textstat uses here: ``"cmudict"`` or ``"pyphen"``.

    textstat looks words up in NLTK's CMUdict, which it downloads on first use.
    Offline (as here) that download fails and textstat raises; we then point
    textstat at its own fallback for unknown words, Pyphen's hyphenation
    patterns, for every word. Scores differ slightly from CMUdict-based ones.
    """
    import nltk

    try:
        nltk.data.find("corpora/cmudict")
        return "cmudict"
    except LookupError:
        import textstat.backend.counts._count_syllables as syllables

        syllables.get_cmudict = lambda lang: None  # -> Pyphen for every word
        return "pyphen"


def flesch_reading_ease(text: str) -> float:
    """Flesch Reading Ease of one text via textstat (higher = easier to read)."""
    import textstat

    readability_backend()
    return float(textstat.flesch_reading_ease(text))


def flesch_by_label(records: Iterable[Any], field: str = "sentiment") -> Any:
    """Per-record Flesch scores with the record's label (DataFrame: id, label, flesch); unlabelled rows skipped."""
    import pandas as pd

    rows = [{"id": field_of(r, "id"), "label": field_of(r, field), "flesch": flesch_reading_ease(field_of(r, "text"))}
            for r in records if field_of(r, field) is not None]
    df = pd.DataFrame(rows, columns=["id", "label", "flesch"])
    if field in LABELS:
        df["label"] = pd.Categorical(df["label"], categories=list(LABELS[field]), ordered=True)
    return df


def flesch_summary(scores: Any) -> Any:
    """Count, mean, std and median of the Flesch scores per label (the numbers behind Fig. 6)."""
    return scores.groupby("label", observed=False)["flesch"].agg(["count", "mean", "std", "median"])


# --- Section 2.1 / Table 10: Fleiss' kappa ------------------------------------------------------

# Our annotation columns -> the paper's Table 10 categories.
KAPPA_PAPER_KEYS = {"toxicity": "toxicity", "harm": "harm", "bias": "bias",
                    "negative_sentiment": "negative_sentiment", "safe_ok": "benign_variation"}


def fleiss_kappa_by_field(annotations: Any, fields: Sequence[str] | None = None) -> dict[str, float]:
    """Fleiss' kappa per label field of a long table (``item_id, annotator, <fields>``).

    ``negative_sentiment`` is added when ``sentiment`` is present: agreement on
    Negative vs not, the category the paper reports in Table 10. A label
    left empty is not a rating; every item must still have the same number of
    ratings (Fleiss' kappa assumes it). The kappa itself is the project's one
    implementation, :func:`srllm.metrics.agreement.fleiss_kappa` (statsmodels,
    Fleiss 1971), over :func:`srllm.metrics.agreement.count_table`.
    """
    df = annotations.copy()
    if "sentiment" in df.columns:
        df["negative_sentiment"] = df["sentiment"].map(lambda v: None if v is None else v == "Negative")
    present = [f for f in (fields or (*LABEL_FIELDS, "negative_sentiment", "safe_ok")) if f in df.columns]
    out = {}
    for f in present:
        wide = df.pivot(index="item_id", columns="annotator", values=f)
        n = wide.notna().sum(axis=1)
        if n.nunique() != 1:
            bad = ", ".join(str(i) for i in n[n != n.max()].index[:5])
            raise SrllmError(f"Fleiss' kappa for {f!r} needs the same number of ratings per item; "
                             f"items with fewer: {bad}")
        rows = [{"item_id": str(i), "annotator": str(a), f: str(v)}
                for i, a, v in zip(df["item_id"], df["annotator"], df[f]) if v is not None and v == v]
        out[f] = fleiss_kappa(count_table(rows, f))
    return out
