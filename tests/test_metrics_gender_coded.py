"""Gender-coded word counts (Section 5.3, Table 9) against genderdecoder3's own assess()."""

from __future__ import annotations

import json
import warnings
from importlib import resources

import pytest

from srllm.errors import SrllmError
from srllm.metrics import gender_coded as gc


def test_stems_come_from_the_package():
    stems = gc.coded_stems()
    assert "lead" in stems["masculine"] and "support" in stems["feminine"]
    assert len(stems["masculine"]) > 40 and len(stems["feminine"]) > 40


def test_prefix_matching_hand_case():
    text = 'We need a "driven" leader who is competitive, yet supportive and warm! Interpersonal skills.'
    found = gc.coded_words(text)
    assert found.masculine == ("driven", "leader", "competitive")
    assert found.feminine == ("supportive", "warm", "Interpersonal")
    assert found.total == 6
    # assess() keeps the quotes (so "driven" is missed) and counts Interpersonal once per matching stem
    compat = gc.coded_words(text, mode="genderdecoder3")
    assert compat.masculine == ("leader", "competitive")
    assert compat.feminine.count("Interpersonal") == 2


def test_genderdecoder3_mode_equals_assess_on_sample_postings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package's regexes use invalid escapes
        from genderdecoder3 import assess

    lines = resources.files("srllm").joinpath("samples/job_postings.jsonl").read_text().splitlines()
    texts = [t for line in lines[:30] for t in (json.loads(line)["biased"], json.loads(line)["debiased"])]
    for text in texts + ["Analytical, ambitious; co-operative (and kind)."]:
        ref = assess(text)
        got = gc.coded_words(text, mode="genderdecoder3")
        assert list(got.masculine) == ref["masculine_coded_words"]
        assert list(got.feminine) == ref["feminine_coded_words"]


def test_average_and_errors():
    assert gc.average_coded_terms(["A confident leader.", "Nothing here.", "Kind and loyal."]) == pytest.approx(4 / 3)
    with pytest.raises(SrllmError, match="at least one text"):
        gc.average_coded_terms([])
    with pytest.raises(SrllmError, match="text 1 is NoneType"):
        gc.average_coded_terms(["ok", None])
    with pytest.raises(SrllmError, match="mode must be"):
        gc.coded_words("x", mode="other")
