"""srllm.report.side_by_side: the shared ours-versus-paper table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from srllm.report import COLUMNS, side_by_side


def test_columns_difference_and_order():
    df = side_by_side({"b": 3.0, "a": 1.5, "extra": 7.0}, {"a": 1.0, "b": 5.0})
    assert tuple(df.columns) == COLUMNS
    assert list(df.index) == ["a", "b", "extra"]  # the paper's keys first, then ours
    assert df.loc["a", "difference"] == pytest.approx(0.5)
    assert df.loc["b", "difference"] == pytest.approx(-2.0)
    assert math.isnan(df.loc["extra", "paper"]) and math.isnan(df.loc["extra", "difference"])


def test_none_is_missing_and_notes_are_joined():
    assert math.isnan(side_by_side({"x": pd.NA}, {"x": 1.0}).loc["x", "ours"])
    df = side_by_side({"x": None, "y": 2}, {"x": 4.0, "y": None},
                      note="SmolLM2-135M instead of Llama-3.2-1B", notes={"x": "not run: needs OPENAI_API_KEY"})
    assert math.isnan(df.loc["x", "ours"]) and math.isnan(df.loc["x", "difference"])
    assert df.loc["x", "note"] == "SmolLM2-135M instead of Llama-3.2-1B; not run: needs OPENAI_API_KEY"
    assert df.loc["y", "note"] == "SmolLM2-135M instead of Llama-3.2-1B"
    assert df["ours"].dtype == float


def test_tuple_keys_make_a_multiindex():
    paper = {("sr_llm", "toxigen", "openai"): 4.6, ("original", "toxigen", "openai"): 69.78}
    ours = {("sr_llm", "toxigen", "openai"): 10.0}
    df = side_by_side(ours, paper, index_names=("method", "test_set", "scorer"))
    assert isinstance(df.index, pd.MultiIndex)
    assert df.index.names == ["method", "test_set", "scorer"]
    assert df.loc[("sr_llm", "toxigen", "openai"), "difference"] == pytest.approx(5.4)


def test_keep_restricts_rows():
    assert list(side_by_side({"a": 1, "z": 2}, {"a": 1}, keep="paper").index) == ["a"]
    assert list(side_by_side({"z": 2}, {"a": 1}, keep="ours").index) == ["z"]
    with pytest.raises(ValueError, match="keep"):
        side_by_side({}, {}, keep="both")


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="'a'"):
        side_by_side({"a": "12%"}, {"a": 12.0})
    with pytest.raises(KeyError, match="neither side"):
        side_by_side({"a": 1}, {"a": 1}, notes={"b": "typo"})
    with pytest.raises(ValueError, match="index name"):
        side_by_side({"a": 1}, {"a": 1}, index_names=("x", "y"))


def test_works_with_paper_module():
    from srllm import paper

    ref = {(g, "sr_llm_ift"): row["sr_llm_ift"] for g, row in paper.TABLE5.items()}
    ours = {k: v + 1.0 for k, v in ref.items()}
    df = side_by_side(ours, ref, note="offline proxy scorer")
    assert len(df) == 13
    assert (df["difference"].round(6) == 1.0).all()


def test_paper_table_puts_ours_beside_the_paper_in_each_column_group():
    import math

    from srllm.report import paper_table, side_by_side

    ours = {("A", "cmd", "p"): 1.234567, ("A", "cmd", "o"): 2.0, ("B", "cmd", "p"): None, ("B", "cmd", "o"): None,
            ("A", "tox", "p"): 3.0, ("A", "tox", "o"): 4.0, ("B", "tox", "p"): None, ("B", "tox", "o"): None}
    paper = {k: 10.0 + i for i, k in enumerate(ours)}
    frame = side_by_side(ours, paper, index_names=("model", "set", "scorer"), keep="paper")
    styler = paper_table(frame, "model", ["set", "scorer"], caption="Table X", footnotes=["one note", ""],
                         decimals=2)
    wide = styler.data
    assert list(wide.index) == ["A", "B"] and wide.index.name == "model"
    assert list(wide.columns) == [("cmd", "p", "ours"), ("cmd", "p", "paper"), ("cmd", "o", "ours"),
                                  ("cmd", "o", "paper"), ("tox", "p", "ours"), ("tox", "p", "paper"),
                                  ("tox", "o", "ours"), ("tox", "o", "paper")]
    assert wide.loc["A", ("cmd", "p", "ours")] == 1.234567 and wide.loc["B", ("tox", "o", "paper")] == 17.0
    assert math.isnan(wide.loc["B", ("cmd", "p", "ours")])
    html = styler.to_html()
    assert "1.23" in html and "1.2346" not in html and "–" in html
    assert html.count("one note") == 1 and "Table X" in html and "difference" not in html

    two_levels = paper_table(frame, ["model", "scorer"], "set").data
    assert two_levels.index.names == ["model", "scorer"] and len(two_levels) == 4
    with pytest.raises(KeyError, match="not in"):
        paper_table(frame, "nope", "set")
