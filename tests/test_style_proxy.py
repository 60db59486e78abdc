"""The offline style proxy (srllm.scoring.style_proxy): trait scores, style score, summaries, guards."""

from __future__ import annotations

import numpy as np
import pytest

from srllm.errors import SrllmError
from srllm.scoring.style_proxy import (
    TRAITS,
    StyleProxy,
    StyleResult,
    Trait,
    available_style_scorers,
    dominant_counts,
    get_style_scorer,
    polarity_share,
    style_differences,
    trait_names,
    trait_shift,
)


@pytest.fixture(scope="module")
def proxy() -> StyleProxy:
    return get_style_scorer("style-proxy")


def test_trait_list_has_both_polarities_and_the_papers_fig4_names():
    from srllm import paper

    pos, neg = trait_names("positive"), trait_names("negative")
    assert len(pos) >= 8 and len(neg) >= 8
    assert set(paper.FIG4_POSITIVE_TRAITS) <= set(pos)
    assert set(paper.FIG4_NEGATIVE_TRAITS) <= set(neg)
    assert len(set(pos) | set(neg)) == len(TRAITS)


def test_scores_follow_the_definition(proxy):
    texts = ["People from that town are all lazy liars and should be thrown out.",
             "Volunteers helped their elderly neighbours with shopping during the storm."]
    sims = proxy.trait_matrix(texts)
    results = proxy.score(texts)
    assert sims.shape == (2, len(TRAITS))
    pos = np.array([t.polarity == "positive" for t in TRAITS])
    for row, res in zip(sims, results):
        assert res.score == pytest.approx(row[pos].mean() - row[~pos].mean())
        assert res.dominant == TRAITS[int(np.argmax(row))].name
        assert res.polarity == TRAITS[int(np.argmax(row))].polarity
        assert set(res.traits) == set(trait_names())


def test_hostile_text_scores_below_caring_text(proxy):
    hostile = proxy.score(["You people are disgusting vermin and everyone hates you, get out of our country."])[0]
    caring = proxy.score(["I hope you and your family are safe; let me know if you need anything at all."])[0]
    assert hostile.score < 0 < caring.score
    assert hostile.polarity == "negative" and caring.polarity == "positive"


def test_proxy_prefers_the_cmd_safe_variations_to_the_biased_originals(proxy):
    """On the bundled CMD sample, human-written safe variations read as more positive than the
    biased originals they replace: the behaviour the Fig. 3 t-test relies on."""
    from srllm.data import load_sample

    recs = [r for r in load_sample("cmd") if r.bias == "Yes" and r.safe_variation][:40]
    assert len(recs) == 40
    diffs = np.array(style_differences(proxy.score([r.text for r in recs]),
                                       proxy.score([r.safe_variation for r in recs])))
    assert diffs.mean() > 0
    assert (diffs > 0).mean() > 0.6


def test_summaries_count_dominant_traits_and_polarities():
    def r(name: str, pol: str, score: float = 0.0) -> StyleResult:
        return StyleResult(score=score, traits={}, dominant=name, polarity=pol)  # type: ignore[arg-type]

    before = [r("Hostile", "negative"), r("Hostile", "negative"), r("Caring", "positive")]
    after = [r("Caring", "positive"), r("Honest", "positive"), r("Unlisted", "positive")]
    assert dominant_counts(before) == {"Hostile": 2, "Caring": 1}
    assert polarity_share(before) == pytest.approx(2 / 3)
    assert polarity_share(after, "positive") == 1.0
    rows = {row["trait"]: row for row in trait_shift(before, after)}
    assert rows["Hostile"]["change"] == -2 and rows["Caring"]["change"] == 0
    assert rows["Unlisted"]["polarity"] == "other" and rows["Unlisted"]["after"] == 1
    assert [row["trait"] for row in trait_shift(before, after)][:len(TRAITS)] == list(trait_names())


def test_bad_input_is_an_error(proxy):
    with pytest.raises(SrllmError, match="text 1"):
        proxy.score(["fine", 3])
    with pytest.raises(SrllmError, match="pairs"):
        style_differences(proxy.score(["a"]), [])
    with pytest.raises(SrllmError, match="duplicate"):
        StyleProxy([Trait("A", "positive", "x"), Trait("A", "negative", "y")])
    with pytest.raises(SrllmError, match="negative"):
        StyleProxy([Trait("A", "positive", "x")])
    with pytest.raises(SrllmError, match="unknown style scorer"):
        get_style_scorer("nope")
    assert proxy.score([]) == []


def test_parlai_path_is_guarded():
    ok, why = available_style_scorers()["parlai"]
    if ok:
        pytest.skip("parlai is installed here; the guard is not reachable")
    assert "parlai" in why
    with pytest.raises(SrllmError, match="style-proxy"):
        get_style_scorer("parlai")


def test_trait_shift_plot_draws_only_used_traits():
    rows = [{"trait": "Hostile", "polarity": "negative", "before": 3, "after": 1, "change": -2},
            {"trait": "Caring", "polarity": "positive", "before": 1, "after": 3, "change": 2},
            {"trait": "Calm", "polarity": "positive", "before": 0, "after": 0, "change": 0}]
    from srllm.scoring.style_proxy import plot_trait_shift

    fig = plot_trait_shift(rows)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Hostile", "Caring"]
    assert sorted(p.get_height() for p in ax.patches) == [1, 1, 3, 3]
