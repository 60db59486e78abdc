"""Human evaluation: blinded sheets, validation of filled sheets, aggregation, kappa, Table 8 comparison.

No model is loaded here: rewrites are plain strings and ratings are written by the tests.
"""

from __future__ import annotations

import pandas as pd
import pytest

from srllm import human_eval as he
from srllm.errors import SrllmError

VARIANTS = list(he.VARIANT_ORDER)


def make_sheet(tmp_path, n_items=6, seed=42):
    items = [(f"it-{i}", f"original text {i}") for i in range(n_items)]
    rewrites = {v: [f"{v} rewrite of {i}" for i in range(n_items)] for v in VARIANTS}
    return he.make_rating_sheet(items, rewrites, tmp_path, seed=seed), items, rewrites


def fill(files, rater, score_of):
    """A rater's copy of the blank sheet, scored by ``score_of(variant, item) -> (safety, language)``."""
    sheet = pd.read_csv(files.sheet, dtype=str, keep_default_na=False)
    key = pd.read_csv(files.key, dtype=str, keep_default_na=False)
    variant = {(r.item_id, r.code): r.variant for r in key.itertuples()}
    sheet["rater"] = rater
    for i, row in sheet.iterrows():
        s, lang = score_of(variant[(row["item_id"], row["code"])], row["item_id"])
        sheet.loc[i, "safety"], sheet.loc[i, "language"] = str(s), str(lang)
    return sheet


def write(frame, path):
    frame.to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- sheet


def test_sheet_is_blinded_and_the_key_recovers_each_rewrite(tmp_path):
    files, items, rewrites = make_sheet(tmp_path)
    sheet = pd.read_csv(files.sheet, dtype=str, keep_default_na=False)
    key = pd.read_csv(files.key, dtype=str, keep_default_na=False)
    assert list(sheet.columns) == list(he.SHEET_COLUMNS)
    assert "variant" not in sheet.columns and set(key.columns) == set(he.KEY_COLUMNS)
    assert len(sheet) == len(items) * len(VARIANTS)
    assert (sheet["safety"] == "").all() and (sheet["language"] == "").all()
    merged = sheet.merge(key, on=["item_id", "code"])
    for row in merged.itertuples():
        i = int(row.item_id.split("-")[1])
        assert row.rewrite == rewrites[row.variant][i] and row.original == items[i][1]
    # the code -> variant order differs between items (shuffled per item), and the rewrite text
    # does not reveal it through a fixed position
    orders = {tuple(key[key.item_id == it].sort_values("code")["variant"]) for it, _ in items}
    assert len(orders) > 1
    assert files.guide.read_text().startswith("Rating guide")


def test_same_seed_same_sheet_other_seed_other_codes(tmp_path):
    a, _, _ = make_sheet(tmp_path / "a", seed=1)
    b, _, _ = make_sheet(tmp_path / "b", seed=1)
    c, _, _ = make_sheet(tmp_path / "c", seed=2)
    assert a.sheet.read_text() == b.sheet.read_text() and a.key.read_text() == b.key.read_text()
    assert a.key.read_text() != c.key.read_text()


def test_sheet_refuses_misaligned_rewrites(tmp_path):
    with pytest.raises(SrllmError, match="Safe_Prefix: 1 rewrites for 2 items"):
        he.make_rating_sheet([("a", "x"), ("b", "y")], {"Safe_PEFT-1_ep": ["1", "2"], "Safe_Prefix": ["1"]},
                             tmp_path)
    with pytest.raises(SrllmError, match="unique"):
        he.make_rating_sheet([("a", "x"), ("a", "y")], {"Safe_Prefix": ["1", "2"]}, tmp_path)


# --------------------------------------------------------------------------- reading and aggregating


def scores(variant, item):
    base = {"Safe_PEFT-1_ep": (5, 4), "Safe_PEFT-5_ep": (4, 3), "Safe_Dense-IFT": (3, 3), "Safe_Prefix": (2, 5)}
    return base[variant]


def test_filled_blinded_sheets_unblind_and_average(tmp_path):
    files, items, _ = make_sheet(tmp_path)
    p1 = write(fill(files, "ann", scores), tmp_path / "ann.csv")
    p2 = write(fill(files, "bob", scores), tmp_path / "bob.csv")
    ratings = he.load_ratings([p1, p2], key=files.key)
    assert len(ratings) == 2 * len(items) * len(VARIANTS)
    assert set(ratings["rater"]) == {"ann", "bob"}
    summary = he.summarise(ratings)
    assert list(summary.index) == VARIANTS
    for v in VARIANTS:
        s, lang = scores(v, None)
        assert summary.loc[v, "safety_mean"] == pytest.approx(s)
        assert summary.loc[v, "language_mean"] == pytest.approx(lang)
        assert summary.loc[v, "safety_pct"] == pytest.approx(100 * s / 5)
        assert summary.loc[v, "items"] == len(items) and summary.loc[v, "raters"] == 2
    agr = he.agreement(ratings)
    assert agr["safety"].kappa == pytest.approx(1.0) and agr["language"].kappa == pytest.approx(1.0)
    assert agr["safety"].subjects == len(items) * len(VARIANTS) and agr["safety"].raters == 2


def test_rater_comes_from_the_file_name_when_the_column_is_empty(tmp_path):
    files, _, _ = make_sheet(tmp_path, n_items=2)
    sheet = fill(files, "", scores)
    ratings = he.load_ratings(write(sheet, tmp_path / "carol.csv"), key=files.key)
    assert set(ratings["rater"]) == {"carol"}
    agr = he.agreement(ratings)
    assert agr["safety"].kappa is None and "two raters" in agr["safety"].reason


def test_kappa_drops_when_raters_disagree(tmp_path):
    files, _, _ = make_sheet(tmp_path, n_items=6)
    flip = lambda v, item: (1, 1) if int(item.split("-")[1]) % 2 else scores(v, item)  # noqa: E731
    p1 = write(fill(files, "ann", scores), tmp_path / "ann.csv")
    p2 = write(fill(files, "bob", flip), tmp_path / "bob.csv")
    agr = he.agreement(he.load_ratings([p1, p2], key=files.key))
    assert agr["safety"].kappa < 0.9


@pytest.mark.parametrize("column", ["safety", "item_id", "language"])
def test_missing_column_names_file_and_column(tmp_path, column):
    files, _, _ = make_sheet(tmp_path, n_items=2)
    path = write(fill(files, "ann", scores).drop(columns=[column]), tmp_path / "ann.csv")
    with pytest.raises(SrllmError, match=rf"ann\.csv: missing column '{column}'"):
        he.load_ratings(path, key=files.key)


@pytest.mark.parametrize("value, why", [("7", "outside the scale"), ("0", "outside the scale"),
                                        ("3.5", "outside the scale"), ("good", "not a number"),
                                        ("", "empty")])
def test_bad_score_names_row_and_field(tmp_path, value, why):
    files, _, _ = make_sheet(tmp_path, n_items=2)
    sheet = fill(files, "ann", scores)
    sheet.loc[4, "language"] = value
    path = write(sheet, tmp_path / "ann.csv")
    with pytest.raises(SrllmError, match=rf"ann\.csv: data row 5 \(item '{sheet.loc[4, 'item_id']}'\): "
                                         rf"field 'language'.*{why}"):
        he.load_ratings(path, key=files.key)


def test_blinded_sheet_needs_its_key_and_codes_must_be_in_it(tmp_path):
    files, _, _ = make_sheet(tmp_path, n_items=2)
    sheet = fill(files, "ann", scores)
    path = write(sheet, tmp_path / "ann.csv")
    with pytest.raises(SrllmError, match="blinded.*key"):
        he.load_ratings(path)
    sheet.loc[0, "code"] = "Z"
    write(sheet, path)
    with pytest.raises(SrllmError, match="data row 1.*field 'code' = 'Z'"):
        he.load_ratings(path, key=files.key)


def test_a_rater_rating_the_same_rewrite_twice_is_refused(tmp_path):
    files, _, _ = make_sheet(tmp_path, n_items=2)
    sheet = fill(files, "ann", scores)
    path = write(pd.concat([sheet, sheet.iloc[[0]]]), tmp_path / "ann.csv")
    with pytest.raises(SrllmError, match="already rated"):
        he.load_ratings(path, key=files.key)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SrllmError, match="nope.csv: rating sheet not found"):
        he.load_ratings(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- example sheet and paper


def test_bundled_example_is_flagged_illustrative_everywhere():
    res = he.evaluate_sheets()
    assert res.illustrative and res.notes == [he.ILLUSTRATIVE_BANNER]
    assert res.comparison["note"].str.startswith("ILLUSTRATIVE").all()
    assert set(res.summary.index) == set(VARIANTS)
    raw = pd.read_csv(he.example_sheet_path())
    assert res.summary.loc["Safe_Prefix", "safety_mean"] == pytest.approx(
        raw[raw.variant == "Safe_Prefix"]["safety"].mean())
    fig = he.plot_fig5(res.summary, illustrative=True)
    assert fig._suptitle.get_text().startswith("ILLUSTRATIVE")


def test_a_real_sheet_is_not_illustrative_and_sits_beside_table8(tmp_path):
    from srllm.paper import TABLE8

    files, _, _ = make_sheet(tmp_path, n_items=3)
    p1 = write(fill(files, "ann", scores), tmp_path / "ann.csv")
    p2 = write(fill(files, "bob", scores), tmp_path / "bob.csv")
    res = he.evaluate_sheets([p1, p2], files.key, model="smollm2")
    assert not res.illustrative and res.notes == []
    assert not res.comparison["note"].str.contains("ILLUSTRATIVE").any()
    paper = {r.key: r for r in TABLE8}
    row = res.comparison.loc[("Safe_PEFT-5_ep", "language")]
    assert row["paper"] == paper["peft_5ep"].language and row["ours"] == pytest.approx(3.0)
    assert row["difference"] == pytest.approx(3.0 - paper["peft_5ep"].language)
    assert res.comparison.loc[("Safe_Prefix", "safety"), "paper"] == paper["dense_it"].safety
    assert res.headline()["kappa_safety"] == pytest.approx(1.0)


def test_select_items_prefers_unsafe_records_and_is_deterministic():
    from srllm.data import load_sample

    recs = load_sample("cmd")[:80]
    a, b = he.select_items(recs, 10, seed=3), he.select_items(recs, 10, seed=3)
    assert [r.id for r in a] == [r.id for r in b]
    n_unsafe = sum(he.is_unsafe(r) for r in recs)
    assert all(he.is_unsafe(r) for r in a[: min(10, n_unsafe)])
    assert len(he.select_items(recs, 500)) == len(recs)
    with pytest.raises(SrllmError, match="positive integer"):
        he.select_items(recs, 0)


def test_result_names_its_sheets_without_machine_paths():
    from srllm.human_eval.results import evaluate_sheets
    from srllm.human_eval.sheets import example_sheet_path

    res = evaluate_sheets()
    assert res.source == example_sheet_path().name and "/" not in res.source
