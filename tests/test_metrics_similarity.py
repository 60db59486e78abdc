"""MiniLM content similarity (Section 5.3) and the offline knowledge-retention measure (Section 3.4, Table 7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from srllm.errors import SrllmError
from srllm.metrics import retention, similarity

PAIRS = Path(__file__).parent / "fixtures" / "metrics" / "retention_pairs.jsonl"


@pytest.fixture(scope="module")
def minilm():
    return similarity.load_minilm()  # cached for the whole process


@pytest.fixture(scope="module")
def pairs():
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    assert len(rows) >= 30 and {r["retained"] for r in rows} == {True, False}
    return rows


def test_cosine_matches_manual_embedding_math(minilm):
    a = ["The nurse finished her shift.", "Quarterly revenue rose by five percent."]
    b = ["The nurse completed the shift.", "A cat slept on the warm windowsill."]
    got = similarity.cosine_similarity(a, b)
    raw = minilm.encode(a + b, normalize_embeddings=False)
    manual = [float(np.dot(raw[i], raw[i + 2]) / np.linalg.norm(raw[i]) / np.linalg.norm(raw[i + 2]))
              for i in range(2)]
    assert got == pytest.approx(manual, abs=1e-5)
    assert got[0] > 0.7 > got[1]
    assert similarity.cosine_similarity(a[:1], a[:1])[0] == pytest.approx(1.0, abs=1e-5)
    assert similarity.mean_content_similarity(a, b) == pytest.approx(float(np.mean(got)))
    assert similarity.load_minilm() is similarity.load_minilm("cpu")


def test_cosine_input_errors():
    with pytest.raises(SrllmError, match="needs pairs"):
        similarity.cosine_similarity(["a"], [])
    with pytest.raises(SrllmError, match="text 1 is NoneType"):
        similarity.embed(["a", None])


def test_content_words_drop_stopwords_and_flagged_words():
    words = retention.content_words("The lazy workers were building bridges in Springfield.", ["lazy"])
    assert words == {"worker", "build", "bridg", "springfield"}
    # the flagged phrase is excluded whatever its inflection
    assert "lazi" not in retention.content_words("Lazy, lazier workers", ["lazy"])


def test_content_recall_hand_case():
    orig = "Greedy landlords in Brookside raised rents by 20 percent."
    # content words without 'greedy': landlord, brooksid, rais, rent, 20, percent -> 6; rewrite keeps 4
    assert retention.content_recall(orig, "Rents in Brookside rose 20 percent.", ["Greedy"]) == pytest.approx(4 / 6)
    assert retention.content_recall("The and of", "anything") is None


def test_retention_separates_hand_labelled_pairs(minilm, pairs):
    from sklearn.metrics import roc_auc_score

    scores = retention.knowledge_retention([p["original"] for p in pairs], [p["rewrite"] for p in pairs],
                                           [p["biased_words"] for p in pairs])
    labels = np.array([p["retained"] for p in pairs])
    assert np.all((scores >= 0) & (scores <= 1))
    assert roc_auc_score(labels, scores) > 0.9
    assert np.mean((scores >= 0.5) == labels) >= 0.9
    assert scores[labels].mean() - scores[~labels].mean() > 0.4


def test_retention_falls_back_to_cosine_without_content_words(minilm):
    cos = similarity.cosine_similarity(["It is what it is."], ["It is."])
    got = retention.knowledge_retention(["It is what it is."], ["It is."])
    assert got[0] == pytest.approx(max(0.0, cos[0]))


def test_empty_rewrite_retains_nothing(minilm):
    scores = retention.knowledge_retention(["The council met on Monday to discuss the new bridge."] * 3,
                                 ["", "   ", "The council met on Monday about the bridge."])
    assert scores[0] == 0.0 and scores[1] == 0.0 and scores[2] > 0.5


def test_retention_input_errors():
    with pytest.raises(SrllmError, match="biased_words\\[0\\] must be a list"):
        retention.knowledge_retention(["a b"], ["a b"], ["lazy"])
    with pytest.raises(SrllmError, match="similarity_weight"):
        retention.RetentionConfig(similarity_weight=1.5)


def test_deepeval_path_is_optional(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(SrllmError, match="deepeval is not installed|needs an LLM judge"):
        retention.deepeval_retention(["a"], ["b"])


def test_nearest_similarity_is_each_texts_best_match():
    from srllm.metrics.similarity import cosine_similarity, nearest_similarity

    texts = ["The cat sat on the mat.", "Stock markets fell sharply today."]
    others = ["A cat was sitting on a mat.", "I like green tea.", "Shares dropped steeply on the exchange."]
    got = nearest_similarity(texts, others)
    pairwise = np.array([[cosine_similarity([t], [o])[0] for o in others] for t in texts])
    assert got == pytest.approx(pairwise.max(axis=1), abs=1e-5)
    assert list(pairwise.argmax(axis=1)) == [0, 2]
    assert nearest_similarity([], others).shape == (0,)
    with pytest.raises(SrllmError, match="at least one"):
        nearest_similarity(texts, [])
