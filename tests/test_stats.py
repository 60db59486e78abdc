"""Data-notebook statistics (srllm.data.stats): distributions, lengths, change measure, Flesch, Fleiss' kappa."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from srllm.data import Record, load_annotations, load_file, split_records
from srllm.errors import SrllmError
from srllm.data.stats import (
    change_measures, change_stats, change_table, describe, fleiss_kappa_by_field, flesch_by_label,
    flesch_reading_ease, flesch_summary, label_counts, label_shares, length_stats, split_table, words,
)

FIX = Path(__file__).parent / "fixtures" / "data"


def test_label_counts_and_shares():
    recs = [Record(id=str(i), text="t", bias=b, harm=h) for i, (b, h) in
            enumerate([("Yes", "Low"), ("No", "Low"), ("No", None), ("No", "High")])]
    c = label_counts(recs, fields=("bias", "harm"))
    assert c == {"bias": {"Yes": 1, "No": 3}, "harm": {"Low": 2, "Medium": 0, "High": 1, "missing": 1}}
    s = label_shares(c)
    assert s[("bias", "No")] == 75.0 and math.isclose(s[("harm", "Low")], 200 / 3)
    assert ("harm", "missing") not in s


def test_length_stats_match_pandas_describe():
    texts = ["one two three", "a", "four words are here", "x y"]
    st = length_stats(texts)
    assert st["word_length"]["count"] == 4 and st["word_length"]["max"] == 4 and st["word_length"]["min"] == 1
    assert st["char_length"]["mean"] == pd.Series([len(t) for t in texts]).mean()
    assert st["word_length"]["50%"] == 2.5
    assert describe([])["count"] == 0


def test_change_measures_definition():
    same = change_measures("Hello, world!", "hello world")
    assert same.edit_ratio == 0.0 and same.word_change == 0.0 and same.length_ratio == 1.0
    m = change_measures("old people are slow", "older people are careful")
    assert m.edit_ratio == 0.5  # two of four words replaced
    assert math.isclose(m.word_change, 1 - 2 / 6)  # {people, are} shared of 6 distinct words
    ins = change_measures("a b c", "a b c d e")
    assert ins.edit_ratio == 2 / 5 and ins.length_ratio == 5 / 3
    reorder = change_measures("b a", "a b")
    assert reorder.word_change == 0.0 and reorder.edit_ratio == 1.0
    assert words("Don't stop, it's 5pm") == ["don't", "stop", "it's", "5pm"]


def test_change_table_skips_records_without_rewrite():
    recs, _ = load_file(FIX / "cmd_small.jsonl")
    t = change_table(recs)
    assert len(t) == 4 and "a4" not in t.index and t.loc["a3", "edit_ratio"] == 0.0
    st = change_stats(recs)
    assert st["count"] == 4 and 0.0 <= st["min"] <= st["max"] <= 1.0
    with pytest.raises(SrllmError, match="unknown change measure 'bleu'"):
        change_stats(recs, "bleu")


def test_flesch_easy_text_scores_higher_and_grouping():
    easy = "The cat sat. The dog ran. We had fun."
    hard = ("Institutional considerations notwithstanding, the administrative reorganisation "
            "necessitated comprehensive intergovernmental consultation.")
    assert flesch_reading_ease(easy) > 80 > 0 > flesch_reading_ease(hard)
    recs = [Record(id="1", text=easy, sentiment="Positive"), Record(id="2", text=hard, sentiment="Negative"),
            Record(id="3", text=easy)]
    df = flesch_by_label(recs)
    assert list(df["id"]) == ["1", "2"]
    summ = flesch_summary(df)
    assert list(summ.index) == ["Positive", "Neutral", "Negative"] and summ.loc["Neutral", "count"] == 0
    assert summ.loc["Positive", "mean"] > summ.loc["Negative", "mean"]


def test_split_table_beside_paper():
    recs = [Record(id=str(i), text=f"t{i}") for i in range(100)]
    t = split_table(split_records(recs), {"train": 13_999, "dev": 1_999, "test": 4_001})
    assert list(t.index) == ["train", "dev", "test"] and t["ours_n"].sum() == 100
    assert abs(t.loc["train", "ours_%"] - t.loc["train", "paper_%"]) < 1.0


def _long_from_counts(counts: list[list[int]]) -> pd.DataFrame:
    rows = []
    for i, per_cat in enumerate(counts):
        labels = [c for c, n in enumerate(per_cat) for _ in range(n)]
        rows += [{"item_id": f"i{i}", "annotator": f"r{j}", "bias": str(lab)} for j, lab in enumerate(labels)]
    return pd.DataFrame(rows)


def test_fleiss_kappa_textbook_example():
    # Fleiss (1971)-style worked example often used to illustrate the statistic:
    # 10 items, 14 raters, 5 categories; kappa = 0.210.
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    k = fleiss_kappa_by_field(_long_from_counts(counts), fields=("bias",))
    assert round(k["bias"], 3) == 0.210


def test_fleiss_kappa_perfect_and_per_field():
    df, _ = load_annotations(FIX / "annotations_small.csv")
    k = fleiss_kappa_by_field(df)
    assert set(k) == {"bias", "toxicity", "sentiment", "harm", "negative_sentiment", "safe_ok"}
    assert k["negative_sentiment"] == pytest.approx(1.0)  # every item agrees on Negative vs not
    assert all(-1.0 <= v <= 1.0 for v in k.values()) and k["bias"] < 1.0


def test_fleiss_kappa_by_field_is_the_one_implementation_in_metrics():
    # stats counts with metrics.agreement and computes with its fleiss_kappa: the same value as
    # statsmodels on the hand-built count table, and an empty label is not a rating
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    df = pd.DataFrame({"item_id": ["i1"] * 3 + ["i2"] * 3 + ["i3"] * 3,
                       "annotator": ["A", "B", "C"] * 3,
                       "bias": ["Yes", "Yes", "No", "No", "No", "No", "Yes", "No", "Yes"]})
    expected = sm_fleiss([[1, 2], [3, 0], [1, 2]])
    assert fleiss_kappa_by_field(df, fields=("bias",))["bias"] == pytest.approx(expected, abs=1e-12)
    df["harm"] = ["Low", None, "Low", "High", None, "High", "Low", None, "High"]
    assert fleiss_kappa_by_field(df, fields=("harm",))["harm"] == pytest.approx(sm_fleiss([[2, 0], [0, 2], [1, 1]]))


def test_fleiss_kappa_unequal_ratings_is_clear_error():
    df, _ = load_annotations(FIX / "annotations_small.csv")
    df = df[~((df["item_id"] == "i2") & (df["annotator"] == "C"))]
    with pytest.raises(SrllmError, match=r"Fleiss' kappa for 'bias' needs the same number of ratings per item; "
                                         r"items with fewer: i2"):
        fleiss_kappa_by_field(df)


def test_token_edit_distance_matches_nltk():
    import random

    from nltk.metrics.distance import edit_distance

    from srllm.data.stats import token_edit_distance

    rng = random.Random(0)
    vocab = ["a", "b", "c", "d", "e"]
    for _ in range(200):
        x = [rng.choice(vocab) for _ in range(rng.randint(0, 12))]
        y = [rng.choice(vocab) for _ in range(rng.randint(0, 12))]
        assert token_edit_distance(x, y) == edit_distance(x, y)
