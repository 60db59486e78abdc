"""srllm.results.style: the style page's tables and glue values on small, known style results."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from srllm import paper
from srllm.errors import SrllmError
from srllm.results import style
from srllm.scoring.style_proxy import StyleResult


def _result(score: float, dominant: str, polarity: str) -> StyleResult:
    return StyleResult(score=score, traits={}, dominant=dominant, polarity=polarity)


@dataclass
class FakeScorer:
    """Scores a text by its length; texts starting with '!' are angry (negative), others polite."""

    name: str = "fake-style"
    is_proxy: bool = True

    def score(self, texts):
        return [_result(len(t) / 10.0, "angry" if t.startswith("!") else "polite",
                        "negative" if t.startswith("!") else "positive") for t in texts]


TEXTS = {style.SR_LLM: (["!a b c.", "!d e f g.", "h i."], ["a b c d.", "d e f g h i.", "h i j."]),
         style.REFERENCE: (["!x y.", "!z w v."], ["x y z.", "!z."])}


def test_choose_scorer_falls_back_to_the_proxy_and_rejects_unknown_names():
    scorer, line = style.choose_scorer("style-proxy")
    assert scorer.name == "style-proxy" and line == ""
    with pytest.raises(SrllmError, match="unknown style scorer"):
        style.choose_scorer("no-such-scorer")


def test_ttest_negative_share_clen_and_headlines_on_known_texts():
    scorer = FakeScorer()
    scored = style.score_comparisons(scorer, TEXTS)
    examples = style.examples_table(TEXTS, scored)
    assert list(examples["trait before"]) == ["angry", "angry", "polite"]
    assert list(examples["style after"]) == pytest.approx([0.8, 1.2, 0.6])

    tests = style.ttests(scored)
    main = tests[style.SR_LLM]
    assert main.n == 3 and main.mean == pytest.approx((0.1 + 0.3 + 0.2) / 3)
    table = style.ttest_table(tests, scorer, "smoke")
    assert table.loc[(style.SR_LLM, "n"), "ours"] == 3
    assert table.loc[(style.SR_LLM, "t"), "paper"] == paper.FIG3.t
    assert "style proxy" in table.loc[(style.SR_LLM, "mean change"), "note"]
    assert table.loc[(style.REFERENCE, "n"), "note"].endswith("human rewrites, no model")
    assert "0.200" in style.ttest_view(table).to_html()

    negative = style.negative_share_table(scored, scorer)
    assert negative.loc[(style.SR_LLM, "before"), "ours"] == pytest.approx(200 / 3)
    assert negative.loc[(style.SR_LLM, "after"), "ours"] == 0.0
    assert negative.loc[(style.REFERENCE, "after"), "ours"] == 50.0

    clens = style.clen_table(TEXTS)
    h = style.headlines(scorer, "smoke", tests, negative, clens)
    assert h["style_n"] == 3 and h["style_ref_n"] == 2 and h["style_model"] == "tiny-random-llama"
    assert h["style_neg_before_pct"] == 66.7 and h["style_neg_after_pct"] == 0.0
    assert h["style_mean_change"] == round(main.mean, 4) and h["style_paper_n"] == paper.FIG3.n
    assert h["style_clen_before"] == round(clens.loc[(style.SR_LLM, "before"), "ours"], 3)


def test_clen_table_keeps_going_when_clen_cannot_be_computed():
    table = style.clen_table({style.SR_LLM: (["", ""], ["a b c.", "d e."])})
    assert math.isnan(table.loc[(style.SR_LLM, "before"), "ours"])
    assert table.attrs["messages"] and table.attrs["messages"][0].startswith("CLEN not computed")


def test_stat_format_prints_counts_small_p_values_and_missing_values():
    assert style.stat_format(1234.0) == "1,234"
    assert style.stat_format(0.00001) == "1.0e-05"
    assert style.stat_format(0.5) == "0.500"
    assert style.stat_format(float("nan")) == "–"
