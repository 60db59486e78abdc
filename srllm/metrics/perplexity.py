"""Perplexity of texts under a causal language model (Section 5.3, Table 9).

The paper reports perplexity of job postings before (22.0) and after (19.3)
rewriting without saying which model scored them or how. Here:

* every token of a text is predicted, the first one from a start token
  (:func:`srllm.metrics.lm.start_token_id`), so a one-word text still counts;
* the corpus perplexity is token-weighted: ``exp(sum of NLL / number of tokens)``
  over all texts, not a mean of per-text perplexities (which long texts would
  not dominate and short noisy ones would);
* per-text perplexities are returned as well.

A text longer than the model's context is an error rather than silently cut;
pass ``max_length`` to raise the limit for models with a longer context.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from srllm.errors import SrllmError
from srllm.metrics.lm import token_logprobs


@dataclass(frozen=True)
class PerplexityResult:
    """Corpus perplexity (token-weighted), mean NLL per token, token count and each text's perplexity."""

    perplexity: float  # exp(total NLL / n_tokens)
    mean_nll: float  # nats per token
    n_tokens: int
    per_text: tuple[float, ...]  # exp(mean NLL) of each text


def perplexity(model: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 8,
               start_token: int | str | None = "auto", max_length: int | None = None,
               progress: bool = False) -> PerplexityResult:
    """Token-weighted perplexity of ``texts`` under ``model`` (batched, in inference mode)."""
    if len(texts) == 0:
        raise SrllmError("perplexity needs at least one text")
    lps = token_logprobs(model, tokenizer, texts, batch_size=batch_size, start_token=start_token,
                         max_length=max_length, progress=progress, desc="perplexity")
    total = -sum(float(lp.sum()) for lp in lps)
    n = sum(len(lp) for lp in lps)
    per_text = tuple(math.exp(-float(lp.mean())) for lp in lps)
    return PerplexityResult(perplexity=math.exp(total / n), mean_nll=total / n, n_tokens=n, per_text=per_text)
