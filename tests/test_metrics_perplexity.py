"""Perplexity (Section 5.3, Table 9) against transformers' own loss, batched vs one at a time."""

from __future__ import annotations

import math

import pytest

from srllm.errors import SrllmError
from srllm.metrics.lm import start_token_id
from srllm.metrics.perplexity import perplexity

TEXTS = [
    "We are hiring a project manager.",
    "Join a friendly team that values clear writing, careful testing and kind reviews of every change.",
    "Apply now.",
]


@pytest.fixture(scope="module")
def tiny():
    from srllm.models import load_model

    return load_model("tiny-random-llama", device="cpu")


def _hf_loss(model, tok, text):
    import torch

    ids = torch.tensor([[start_token_id(tok)] + tok(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        return model(input_ids=ids, labels=ids).loss.item(), ids.shape[1] - 1


def test_matches_transformers_loss_token_weighted(tiny):
    model, tok = tiny
    res = perplexity(model, tok, TEXTS, batch_size=2)
    losses = [_hf_loss(model, tok, t) for t in TEXTS]
    for (loss, _), ppl in zip(losses, res.per_text):
        assert ppl == pytest.approx(math.exp(loss), rel=1e-4)
    n = sum(k for _, k in losses)
    assert res.n_tokens == n
    assert res.perplexity == pytest.approx(math.exp(sum(loss * k for loss, k in losses) / n), rel=1e-4)
    # token weighting differs from the mean of per-text perplexities
    assert res.perplexity != pytest.approx(sum(res.per_text) / len(res.per_text), rel=1e-6)


def test_batching_does_not_change_result(tiny):
    model, tok = tiny
    one = perplexity(model, tok, TEXTS, batch_size=1)
    many = perplexity(model, tok, TEXTS, batch_size=8)
    assert one.per_text == pytest.approx(many.per_text, rel=1e-4)


def test_bad_inputs(tiny):
    model, tok = tiny
    with pytest.raises(SrllmError, match="text 1 .* too few tokens"):
        perplexity(model, tok, ["fine", ""])
    with pytest.raises(SrllmError, match="text 0 has .* tokens"):
        perplexity(model, tok, ["word " * 50], max_length=10)
    with pytest.raises(SrllmError, match="at least one text"):
        perplexity(model, tok, [])
