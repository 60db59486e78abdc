"""The bfloat16-screened output layer picks the float32 layer's arg-max token (srllm.generation.greedy_head)."""

from __future__ import annotations

import pytest
import torch

from srllm.generation import generate_texts
from srllm.generation import greedy_head
from srllm.generation.greedy_head import ScreenedHead

needs_bf16 = pytest.mark.skipif(not greedy_head.cpu_bf16_supported(), reason="this CPU has no native bfloat16")


def _head(weight: torch.Tensor) -> ScreenedHead:
    return ScreenedHead(weight=weight, weight_bf16=weight.to(torch.bfloat16), row_norms=weight.norm(dim=1))


def test_screened_tokens_equal_the_float32_argmax_on_the_models_own_head(smollm):
    model, _ = smollm
    head = ScreenedHead.for_model(model)
    if head is None:
        pytest.skip("no screened head on this machine (no native bfloat16)")
    torch.manual_seed(0)
    # hidden states shaped like the model's (after its final norm: |h| of 35-60) and some nearly flat ones
    hidden = torch.randn(256, head.weight.shape[1]) * 2.0
    hidden[:8] *= 0.01
    stats: dict = {}
    got = head.next_tokens(hidden, stats)
    assert torch.equal(got, (hidden @ head.weight.T).argmax(dim=-1))
    assert stats["screened_rows"] == 256


def test_rows_that_cannot_be_certified_fall_back_to_the_float32_layer():
    # 2,000 tokens whose logits differ by less than bfloat16 can tell apart: no candidate set certifies,
    # so every row takes the float32 layer and still gets its exact arg-max
    torch.manual_seed(1)
    base = torch.randn(1, 64)
    weight = base.repeat(2000, 1) + 1e-4 * torch.randn(2000, 64)
    hidden = torch.randn(5, 64)
    stats: dict = {}
    got = _head(weight).next_tokens(hidden, stats)
    assert torch.equal(got, (hidden @ weight.T).argmax(dim=-1))
    assert stats["screen_uncertified_k512"] == 5


def test_equal_best_logits_give_the_smallest_token_id_as_argmax_does():
    weight = torch.zeros(100, 8)
    weight[[7, 42, 90]] = torch.ones(8)  # three tokens with the same, highest logit
    hidden = torch.ones(3, 8)
    assert _head(weight).next_tokens(hidden).tolist() == [7, 7, 7]


def test_no_screened_head_where_it_is_not_safe_or_not_faster(tiny_model, monkeypatch):
    model, _ = tiny_model
    monkeypatch.setattr(greedy_head, "cpu_bf16_supported", lambda: False)
    assert ScreenedHead.for_model(model) is None  # no native bfloat16: the float32 layer is faster
    monkeypatch.setattr(greedy_head, "cpu_bf16_supported", lambda: True)
    assert ScreenedHead.for_model(model) is not None
    monkeypatch.setattr(model.config, "model_type", "gemma2")  # logits are soft-capped there
    assert ScreenedHead.for_model(model) is None


@needs_bf16
def test_generation_is_the_same_with_and_without_screening(tiny_model):
    model, tok = tiny_model
    prompts = [f"Rewrite this sentence without bias, number {i}: people from town {i} are lazy." for i in range(6)]
    screened = generate_texts(model, tok, prompts, max_new_tokens=12, batch_size=3, progress=False)
    plain = generate_texts(model, tok, prompts, max_new_tokens=12, batch_size=3, progress=False, screen_head=False)
    assert screened == plain


def test_a_screened_head_is_reused_while_the_weight_is_unchanged_and_freed_with_its_model(monkeypatch):
    import gc
    import weakref

    from transformers import LlamaConfig, LlamaForCausalLM

    monkeypatch.setattr(greedy_head, "cpu_bf16_supported", lambda: True)
    cfg = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).float()
    first = ScreenedHead.for_model(model)
    assert ScreenedHead.for_model(model) is first  # made once
    with torch.no_grad():
        model.lm_head.weight.mul_(2.0)  # the weight changed in place: a new head, with the new values
    second = ScreenedHead.for_model(model)
    assert second is not first and torch.equal(second.weight, model.lm_head.weight)
    gone = weakref.ref(second)
    del model, first, second
    gc.collect()
    assert gone() is None  # nothing outside the model keeps the head (and its weight copies) alive
