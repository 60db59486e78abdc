"""Knowledge retention: how much of the original's content survives the safe rewrite (Section 3.4, Table 7).

The paper uses DeepEval's knowledge-retention metric with GPT-4 as the judge.
That needs a paid online judge, so the default here is an offline measure,
labelled as such wherever it is reported:

``retention = w * max(0, cos) + (1 - w) * recall``  (``w = 0.5`` by default)

* ``cos``: MiniLM cosine between original and rewrite
  (:mod:`srllm.metrics.similarity`): is the rewrite about the same thing?
* ``recall``: the share of the original's content words that the rewrite
  still contains. Content words are lower-cased word tokens, Snowball-stemmed
  (so "workers" matches "worker"), minus scikit-learn's English stop words and
  minus the words of the record's flagged ``biased_words``: dropping those is
  the point of the rewrite, not a loss of knowledge. Is the specific content
  (names, places, numbers, events) still there?

When the original has no content word left, ``recall`` is undefined and the
score is ``max(0, cos)``. An empty or blank rewrite scores 0. Scores lie in
[0, 1]; Table 7 prints them as percent.

The measure is validated on a hand-labelled set of retained-versus-lost pairs
(``tests/fixtures/metrics/retention_pairs.jsonl``): it must rank retained pairs
above lost ones (ROC AUC) before it is used. It is a proxy, not DeepEval's
judge; :func:`deepeval_retention` runs the real metric when ``deepeval`` is
installed and a judge model is configured.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from srllm.errors import SrllmError
from srllm.metrics.similarity import cosine_similarity

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class RetentionConfig:
    """Weight of the embedding cosine; the rest goes to content-word recall."""

    similarity_weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.similarity_weight <= 1.0:
            raise SrllmError(f"similarity_weight must be in [0, 1], got {self.similarity_weight}")


@functools.lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def _tokens(text: str) -> list[str]:
    return [w.split("'")[0] for w in _WORD.findall(text.lower().replace("\u2019", "'"))]


def content_words(text: str, exclude: Iterable[str] = ()) -> set[str]:
    """Stemmed content words of ``text``, without stop words and without the words of ``exclude`` phrases."""
    stop = _stop_words()
    stem = _stemmer().stemWord
    banned = {stem(w) for phrase in exclude for w in _tokens(phrase)}
    return {s for w in _tokens(text) if w not in stop and (s := stem(w)) not in banned}


def content_recall(original: str, rewrite: str, exclude: Iterable[str] = ()) -> float | None:
    """Share of the original's content words found in the rewrite; None when the original has none."""
    orig = content_words(original, exclude)
    if not orig:
        return None
    return len(orig & content_words(rewrite)) / len(orig)


def knowledge_retention(originals: Sequence[str], rewrites: Sequence[str],
                        biased_words: Sequence[Iterable[str]] | None = None,
                        config: RetentionConfig = RetentionConfig(), *, progress: bool = False) -> np.ndarray:
    """Offline knowledge-retention score of each (original, rewrite) pair, in [0, 1].

    ``biased_words[i]`` lists the flagged words/phrases of pair ``i`` (the CMD
    ``biased_words`` field); they are not counted as content to retain.
    """
    if len(originals) != len(rewrites):
        raise SrllmError(f"knowledge_retention needs pairs: {len(originals)} originals vs {len(rewrites)} rewrites")
    if biased_words is not None and len(biased_words) != len(originals):
        raise SrllmError(f"biased_words has {len(biased_words)} entries for {len(originals)} pairs")
    excl = list(biased_words) if biased_words is not None else [()] * len(originals)
    for i, e in enumerate(excl):
        if isinstance(e, str):
            raise SrllmError(f"biased_words[{i}] must be a list of phrases, not a string")
    cos = np.maximum(cosine_similarity(originals, rewrites, progress=progress), 0.0)
    w = config.similarity_weight
    out = np.empty(len(originals))
    for i, (o, r) in enumerate(zip(originals, rewrites)):
        if not r.strip():  # an empty rewrite keeps nothing (MiniLM would still give "" a small cosine)
            out[i] = 0.0
            continue
        rec = content_recall(o, r, excl[i])
        out[i] = cos[i] if rec is None else w * cos[i] + (1.0 - w) * rec
    return out


def mean_knowledge_retention(originals: Sequence[str], rewrites: Sequence[str],
                             biased_words: Sequence[Iterable[str]] | None = None,
                             config: RetentionConfig = RetentionConfig()) -> float:
    """Mean of :func:`knowledge_retention` over the pairs (Table 7 reports it as a percentage)."""
    scores = knowledge_retention(originals, rewrites, biased_words, config)
    if len(scores) == 0:
        raise SrllmError("mean_knowledge_retention needs at least one pair")
    return float(np.mean(scores))


def deepeval_available() -> bool:
    """True when deepeval is importable (a judge must still be configured for it to run)."""
    import importlib.util

    return importlib.util.find_spec("deepeval") is not None


def deepeval_retention(originals: Sequence[str], rewrites: Sequence[str], *, model: str | None = None,
                       threshold: float = 0.5) -> list[float]:
    """DeepEval's KnowledgeRetentionMetric per pair, as the paper did (with GPT-4 as judge).

    Optional and online: needs ``pip install deepeval`` (not a pinned
    dependency) and a judge that DeepEval can reach (``OPENAI_API_KEY`` for
    its default OpenAI judge, or ``model`` naming one). Each pair is a
    two-turn conversation: the user gives the original, the assistant answers
    with the rewrite. The key is read by DeepEval from the environment and is
    never written anywhere by this function.
    """
    import os

    if not deepeval_available():
        raise SrllmError("deepeval is not installed; the offline knowledge_retention() is the default. "
                         "Install deepeval and configure a judge to use DeepEval's metric.")
    if model is None and not os.environ.get("OPENAI_API_KEY"):
        raise SrllmError("DeepEval's knowledge retention needs an LLM judge: set OPENAI_API_KEY or pass model=")
    if len(originals) != len(rewrites):
        raise SrllmError(f"deepeval_retention needs pairs: {len(originals)} originals vs {len(rewrites)} rewrites")
    from deepeval.metrics import KnowledgeRetentionMetric  # type: ignore[import-not-found]
    from deepeval.test_case import ConversationalTestCase, Turn  # type: ignore[import-not-found]

    kwargs = {"threshold": threshold}
    if model is not None:
        kwargs["model"] = model
    scores = []
    for o, r in zip(originals, rewrites):
        metric = KnowledgeRetentionMetric(**kwargs)
        case = ConversationalTestCase(turns=[Turn(role="user", content=o), Turn(role="assistant", content=r)])
        metric.measure(case)
        scores.append(float(metric.score))
    return scores
