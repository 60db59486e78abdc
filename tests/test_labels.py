"""One definition of "unsafe" (the paper's footnote 1: any of bias, toxicity, harm, negative sentiment)."""

from __future__ import annotations

from srllm import human_eval
from srllm.data import Record, load_sample
from srllm.labels import field_of, is_unsafe

SAFE = {"bias": "No", "toxicity": "No", "harm": "Low", "sentiment": "Neutral"}


def test_any_one_unsafe_label_makes_a_record_unsafe():
    assert not is_unsafe(SAFE)
    for name, value in (("bias", "Yes"), ("toxicity", "Mild"), ("toxicity", "High"), ("harm", "Medium"),
                        ("harm", "High"), ("sentiment", "Negative")):
        assert is_unsafe({**SAFE, name: value}), (name, value)
    assert not is_unsafe({**SAFE, "sentiment": "Positive"}) and not is_unsafe({})


def test_records_and_dicts_read_alike_and_callers_share_the_definition():
    recs = load_sample("cmd")
    assert isinstance(recs[0], Record)
    for r in recs[:50]:
        d = {k: field_of(r, k) for k in ("bias", "toxicity", "harm", "sentiment")}
        assert is_unsafe(r) == is_unsafe(d)
    assert human_eval.is_unsafe is is_unsafe
    # the bundled sample has both kinds, so the definition separates something
    assert {is_unsafe(r) for r in recs} == {True, False}


def test_needs_rewrite_is_biased_or_toxic_and_narrower_than_unsafe():
    from srllm.labels import is_unsafe, needs_rewrite

    assert needs_rewrite({"bias": "Yes", "toxicity": "No"})
    assert needs_rewrite({"bias": "No", "toxicity": "Mild"})
    negative_report = {"bias": "No", "toxicity": "No", "sentiment": "Negative", "harm": "Low"}
    assert is_unsafe(negative_report) and not needs_rewrite(negative_report)


def test_rewrites_twice_repeats_the_biased_pairs_in_train_and_keeps_dev_whole():
    from srllm.labels import needs_rewrite
    from srllm.profiles import get_profile
    from srllm.training import default_records

    every, every_dev, _ = default_records(get_profile("smoke", **{"data.max_train_rows": None}))
    twice, twice_dev, source = default_records(get_profile("smoke", **{"data.max_train_rows": None,
                                                                       "data.train_pairs": "rewrites_twice"}))
    extra = [r.id for r in every if needs_rewrite(r)]
    assert extra and [r.id for r in twice] == [r.id for r in every] + extra
    assert [r.id for r in twice_dev] == [r.id for r in every_dev]
    assert "twice in train" in source


def test_profile_can_train_on_the_pairs_that_need_a_rewrite_only():
    from srllm.labels import needs_rewrite
    from srllm.profiles import ProfileError, get_profile
    from srllm.training import default_records

    every, every_dev, _ = default_records(get_profile("smoke", **{"data.max_train_rows": None}))
    only, only_dev, source = default_records(get_profile("smoke", **{"data.max_train_rows": None,
                                                                     "data.train_pairs": "needs_rewrite"}))
    assert only and all(needs_rewrite(r) for r in only + only_dev)
    assert [r.id for r in only] == [r.id for r in every if needs_rewrite(r)]
    assert len(only) < len(every) and "biased or toxic inputs only" in source
    import pytest

    with pytest.raises(ProfileError, match="train_pairs"):
        get_profile("smoke", **{"data.train_pairs": "some"})
