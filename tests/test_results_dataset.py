"""srllm.results.dataset: the CMD page's tables on the bundled samples, beside the paper's numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from srllm import paper
from srllm.data import load_sample, split_records
from srllm.results import dataset
from srllm.data.stats import KAPPA_PAPER_KEYS, fleiss_kappa_by_field, label_counts, label_shares


@pytest.fixture(scope="module")
def records():
    return load_sample("cmd")


def test_label_tables_put_our_shares_and_counts_beside_table12(records):
    shares = dataset.label_share_table(records)
    ours = label_shares(label_counts(records))
    assert shares.loc[("bias", "Yes"), "ours"] == pytest.approx(ours[("bias", "Yes")])
    assert shares.loc[("bias", "Yes"), "paper"] == pytest.approx(label_shares(paper.TABLE12)[("bias", "Yes")])
    counts = dataset.label_count_table(records)
    assert counts.loc[("bias", "Yes"), "ours (count)"] == label_counts(records)["bias"]["Yes"]
    assert counts.loc[("bias", "Yes"), "paper (count)"] == paper.TABLE12["bias"]["Yes"]
    assert (counts.dtypes == int).all()


def test_split_shares_have_one_column_per_split(records):
    splits = split_records(records, seed=42)
    table = dataset.split_share_table(splits)
    assert list(table.columns) == list(splits) and table.index.names == ["label", "value"]
    assert table[list(splits)[0]].groupby(level="label").sum().round(6).eq(100).all()


def test_flesch_claim_compares_positive_with_the_other_two():
    summary = pd.DataFrame({"mean": [70.0, 50.0, 60.0]}, index=["Positive", "Negative", "Neutral"])
    claim = dataset.flesch_claim(summary)
    assert claim["positive_easier"] is True and claim["negative_mean"] == 50.0
    summary.loc["Neutral", "mean"] = 80.0
    assert dataset.flesch_claim(summary)["positive_easier"] is False


def test_kappa_table_and_bold_table():
    ann = load_sample("annotations")
    table, ours = dataset.kappa_table(ann)
    expected = {KAPPA_PAPER_KEYS[k]: v for k, v in fleiss_kappa_by_field(ann).items() if k in KAPPA_PAPER_KEYS}
    assert ours == expected
    for k, v in ours.items():
        assert table.loc[k, "ours"] == pytest.approx(v) and table.loc[k, "our band"] == paper.kappa_band(v)
    assert "paper (text below Table 10)" in table.columns
    bold = dataset.bold_table()
    assert bold.index.name == "domain" and (bold["prompts"] >= bold["groups"]).all()
