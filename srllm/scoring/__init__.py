"""Safety scorers behind one interface (paper Section 3.4).

``get_scorer(name).score(texts)`` returns one :class:`ScoreResult` per text
(``p_unsafe`` in [0, 1], ``flag = p_unsafe >= threshold``), cached so that a
rerun never calls a service or a model twice for the same text.

Names: ``offline-proxy`` (default, a labelled proxy), ``perspective``,
``openai-moderation``, ``hf:<model id>``. See :func:`available_scorers`.
"""

from srllm.scoring.base import Scorer, ScoreResult, ScorerError, ScorerUnavailableError, unsafe_rate
from srllm.scoring.registry import DEFAULT_SCORER, available_scorers, get_scorer

__all__ = ["DEFAULT_SCORER", "ScoreResult", "Scorer", "ScorerError", "ScorerUnavailableError",
           "available_scorers", "get_scorer", "unsafe_rate"]
