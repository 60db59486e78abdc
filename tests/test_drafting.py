"""Prompt-lookup drafts: found where a row repeats itself, kept only where they equal the greedy tokens."""

from __future__ import annotations

import copy

import pytest
import torch

from srllm import generation as gen
from srllm.generation import batching, decoding, drafting
from srllm.generation import cache as gcache
from srllm.prompts import format_prompt
from conftest import distinct_llama


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    for module in (gcache, batching):
        monkeypatch.setattr(module, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr("srllm.perf.work_log_path", lambda: tmp_path / "work-log.jsonl")


def test_a_draft_follows_the_latest_earlier_occurrence_of_the_longest_matching_tail():
    #           0  1  2  3  4  5  6  7  8  9
    history = [5, 6, 7, 1, 5, 6, 8, 2, 5, 6]
    # the tail (5, 6) last occurred at 4..5, followed by 8, 2, 5
    assert drafting.find_draft(history, 3) == [8, 2, 5]
    assert drafting.find_draft(history, 1) == [8]
    # (1, 5, 6) is a longer match than (5, 6) and wins although (5, 6) occurs later
    assert drafting.find_draft([9, 1, 5, 6, 3, 3, 5, 6, 4, 1, 5, 6], 2) == [3, 3]
    assert drafting.find_draft([1, 2, 3, 4], 4) == []  # nothing recurs
    assert drafting.find_draft(history, 0) == []
    assert drafting.find_draft([7], 3) == []


def test_draft_width_stays_within_the_budget_and_is_one_without_drafts():
    assert drafting.draft_width(1, 0) == 1
    assert drafting.draft_width(1, 8, budget=16) == 9
    assert drafting.draft_width(4, 8, budget=16) == 4
    assert drafting.draft_width(4, 2, budget=16) == 3
    assert drafting.draft_width(16, 8, budget=16) == 1
    assert drafting.draft_width(20, 8, budget=16) == 1


def test_accepted_counts_the_drafted_tokens_that_equal_the_greedy_ones():
    assert drafting.accepted([4, 5, 6], [4, 5, 9, 1]) == 2
    assert drafting.accepted([4, 5, 6], [4, 5, 6, 1]) == 3
    assert drafting.accepted([4], [3, 4]) == 0
    assert drafting.accepted([], [3]) == 0


@pytest.fixture(scope="module")
def diverse(tmp_path_factory):
    return distinct_llama(tmp_path_factory.mktemp("diverse-llama"))


def _copying(model):
    """``model`` with its attention and MLP outputs zeroed: each next token depends on the current one
    alone, so a prompt that holds the model's own continuation gets drafts that are accepted."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for layer in m.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    return m


def _one_by_one(model, rows, max_new_tokens, stops=None):
    with torch.inference_mode():
        return [model.generate(input_ids=torch.tensor([r]), attention_mask=torch.ones((1, len(r)), dtype=torch.long),
                               max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stops,
                               pad_token_id=0)[0, len(r):].tolist() for r in rows]


def _spy_widths(model, monkeypatch):
    widths = []
    real = type(model.get_decoder()).forward

    def spy(self, *a, **k):
        widths.append(tuple(k["input_ids"].shape))
        return real(self, *a, **k)

    monkeypatch.setattr(type(model.get_decoder()), "forward", spy)
    return widths


TEXTS = ["the cat sat on the mat", "red blue green", "one two three four", "a b c d e"]


def _rows_holding_their_continuation(model, tok):
    """Prompts followed by the model's own 16-token continuation and the prompt's last 3 tokens again."""
    rows = []
    for t in TEXTS:
        p = tok(format_prompt(t, "chat", tok), add_special_tokens=False)["input_ids"]
        rows.append(p + _one_by_one(model, [p], 16)[0] + p[-3:])
    return rows


def test_accepted_drafts_give_the_tokens_of_one_at_a_time_generate_in_fewer_passes(diverse, monkeypatch):
    model = _copying(diverse[0])
    rows = _rows_holding_their_continuation(model, diverse[1])
    widths = _spy_widths(model, monkeypatch)
    stats: dict = {}
    with torch.inference_mode():
        got = decoding._greedy_batch(model, rows, max_new_tokens=24, stops=[], pad_id=0, stats=stats)
    monkeypatch.undo()
    assert got == _one_by_one(model, rows, 24)
    assert stats["accepted_draft_tokens"] >= 4 * 8  # each row copies its continuation
    assert stats["decode_steps"] < 23 / 2  # far fewer passes than one a token
    drafted = [w for w in widths[1:] if 1 < w[1] <= drafting.DRAFT_TOKENS + 1]  # decoding passes with drafts
    assert drafted and all(w[0] * w[1] <= drafting.DRAFT_BUDGET for w in drafted)


def test_rejected_drafts_are_masked_out_and_change_no_token(diverse, monkeypatch):
    """With attention at work (the random model does not copy itself), drafts are tried and rejected; their
    keys and values stay in the cache for rows that rejected them, masked out."""
    model, tok, _ = diverse
    texts = ["the cat sat on the mat and the cat sat on the", "red blue red blue red blue red",
             "one two three one two three one two", "a b c a b c a b c a b c"]
    rows = [tok(format_prompt(t, "chat", tok), add_special_tokens=False)["input_ids"] for t in texts]
    stats: dict = {}
    with torch.inference_mode():
        got = decoding._greedy_batch(model, rows, max_new_tokens=64, stops=[], pad_id=tok.pad_token_id, stats=stats)
        plain = decoding._greedy_batch(model, rows, max_new_tokens=64, stops=[], pad_id=tok.pad_token_id,
                                       draft=False)
    assert stats["drafted_tokens"] > stats["accepted_draft_tokens"]
    assert got == plain == _one_by_one(model, rows, 64)


def test_a_stop_token_inside_an_accepted_draft_ends_the_row_there(diverse):
    model = _copying(diverse[0])
    rows = _rows_holding_their_continuation(model, diverse[1])
    with torch.inference_mode():
        free = decoding._greedy_batch(model, rows, max_new_tokens=24, stops=[], pad_id=0, draft=False)
        stop = free[0][10]  # a token in the middle of row 0's copied continuation
        stats: dict = {}
        got = decoding._greedy_batch(model, rows, max_new_tokens=24, stops=[stop], pad_id=0, stats=stats)
    assert stats["accepted_draft_tokens"] > 0
    assert got == [o[:o.index(stop) + 1] if stop in o else o for o in free]
    assert got == _one_by_one(model, rows, 24, stops=[stop])


def test_generate_texts_is_the_same_with_and_without_drafts(diverse):
    model, tok, _ = diverse
    prompts = [format_prompt(t, "chat", tok) for t in ("one two three one two three", "x y x y x y x", "hi")]
    with_drafts = gen.generate_texts(model, tok, prompts, max_new_tokens=20, batch_size=3, progress=False)
    assert with_drafts == gen.generate_texts(model, tok, prompts, max_new_tokens=20, batch_size=3, progress=False,
                                             draft=False)
