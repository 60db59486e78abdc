"""Prompt formats (Section 2.2, Fig. 2), response-only loss masking, and few-shot builders."""

from __future__ import annotations

import pytest
import torch

from srllm.data import Record
from srllm.generation import SHOTS
from srllm.prompts import (
    FORMATS, INSTRUCTION, SYSTEM_PROMPT, Shot, few_shot_prompts, format_prompt, response_suffix,
    select_shots, tokenize_example,
)


@pytest.fixture
def tiny(tiny_model):
    """The session's tiny random Llama (conftest), in eval mode for this test only."""
    model, tok = tiny_model
    was_training = model.training
    model.eval()
    yield model, tok
    model.train(was_training)


def _pool(n: int = 12) -> list[Record]:
    return [Record(id=f"p{i}", text=f"unsafe text number {i}", safe_variation=f"safe text number {i}") for i in range(n)]


def test_llama2_layout_matches_fig2():
    p = format_prompt("Some unsafe text.", "llama2")
    assert p.startswith("<s><<SYS>>\n" + SYSTEM_PROMPT + "\n<</SYS>>")
    assert p.index("<</SYS>>") < p.index("[INST]") < p.index(INSTRUCTION) < p.index("Some unsafe text.") < p.index("[/INST]")
    assert p.endswith("[/INST]\n")


def test_alpaca_layout():
    p = format_prompt("Some unsafe text.", "alpaca", shots=[Shot("a", "b")])
    assert p.index("### Instruction:") < p.index("### Example input:\na") < p.index("### Input:\nSome unsafe text.")
    assert p.endswith("### Response:\n")


def test_chat_uses_model_template(tiny):
    _, tok = tiny
    p = format_prompt("Some unsafe text.", "chat", tok)
    assert SYSTEM_PROMPT in p and "Some unsafe text." in p
    from srllm.prompts import _user_message

    expected = tok.apply_chat_template(
        [{"role": "system", "content": SYSTEM_PROMPT},
         {"role": "user", "content": _user_message("Some unsafe text.", INSTRUCTION, ())}],
        tokenize=False, add_generation_prompt=True)
    assert p == expected
    with pytest.raises(ValueError, match="chat template"):
        format_prompt("x", "chat", None)
    with pytest.raises(ValueError, match="unknown prompt format"):
        format_prompt("x", "markdown")


@pytest.mark.parametrize("fmt", FORMATS)
def test_labels_mask_the_prompt(tiny, fmt):
    _, tok = tiny
    prompt = format_prompt("Old people cannot use phones.", fmt, tok)
    ex = tokenize_example(prompt, "People of all ages use phones.", tok, max_length=512)
    n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
    assert ex["labels"][:n_prompt] == [-100] * n_prompt
    assert ex["labels"][n_prompt:] == ex["input_ids"][n_prompt:]
    target = tok.decode(ex["input_ids"][n_prompt:])
    assert target == "People of all ages use phones." + response_suffix(tok)
    assert not ex["truncated"] and len(ex["attention_mask"]) == len(ex["input_ids"])


def test_truncation_flag(tiny):
    _, tok = tiny
    prompt = format_prompt("word " * 50, "alpaca")
    ex = tokenize_example(prompt, "short", tok, max_length=20)
    assert ex["truncated"] and len(ex["input_ids"]) == 20 and len(ex["labels"]) == 20


def test_loss_covers_response_tokens_only(tiny):
    """The model's loss with our labels equals cross-entropy over the response positions alone."""
    model, tok = tiny
    prompt = format_prompt("Immigrants ruin everything here.", "llama2", tok)
    ex = tokenize_example(prompt, "New residents bring change to the town.", tok, max_length=512)
    ids = torch.tensor([ex["input_ids"]])
    labels = torch.tensor([ex["labels"]])
    with torch.no_grad():
        out = model(input_ids=ids, labels=labels)
        logits = out.logits[0, :-1]
        targets = ids[0, 1:]
        keep = labels[0, 1:] != -100
        n_resp = int(keep.sum())
        manual = torch.nn.functional.cross_entropy(logits[keep], targets[keep])
        everything = torch.nn.functional.cross_entropy(logits, targets)
        # changing the prompt tokens' labels cannot change the loss, changing a response label does
        other = labels.clone()
        other[0, : len(ex["labels"]) - n_resp] = -100
        same = model(input_ids=ids, labels=other).loss
    assert n_resp == sum(l != -100 for l in ex["labels"]) and n_resp < len(ex["labels"]) // 2
    assert torch.allclose(out.loss, manual, atol=1e-5)
    assert not torch.allclose(out.loss, everything, atol=1e-4)
    assert torch.allclose(out.loss, same, atol=1e-6)


def test_select_shots_reproducible_and_skips_missing_rewrites():
    pool = _pool() + [Record(id="nr", text="no rewrite")]
    a = select_shots(pool, 5, seed=1)
    assert a == select_shots(pool, 5, seed=1) and len(a) == 5
    assert all(s.text != "no rewrite" for s in a)
    assert select_shots(pool, 5, seed=2) != a
    with pytest.raises(ValueError, match="asked for 13 shots but the pool has only 12"):
        select_shots(pool, 13)


@pytest.mark.parametrize("k", sorted(set(SHOTS.values())))  # the shot counts the methods use: 0, 2, 5
def test_few_shot_prompts(k):
    pool = _pool()
    texts = ["first unsafe", "second unsafe"]
    prompts = few_shot_prompts(texts, "alpaca", k=k, pool=pool, seed=3)
    assert len(prompts) == 2 and prompts == few_shot_prompts(texts, "alpaca", k=k, pool=pool, seed=3)
    for p, t in zip(prompts, texts):
        assert p.count("### Example input:") == k and p.rstrip().endswith("### Response:") and t in p
    llama = few_shot_prompts(texts, "llama2", k=k, pool=pool, seed=3)
    assert all(p.count("Example ") == 2 * k for p in llama)
    if k:
        shots = select_shots(pool, k, seed=3)
        assert all(s.text in prompts[0] and s.rewrite in prompts[0] for s in shots)


def test_few_shot_zero_needs_no_pool_and_rejects_negative():
    assert few_shot_prompts(["x"], "alpaca") == [format_prompt("x", "alpaca")]
    with pytest.raises(ValueError, match="k must be >= 0"):
        few_shot_prompts(["x"], "alpaca", k=-1)


# --- clean_response: the rewrite inside a model's reply ------------------------------------------

@pytest.mark.parametrize("reply, expected", [
    ("Here is the rewritten text: Women can be great engineers.", "Women can be great engineers."),
    ("Sure! Here's a neutral version:\n\nWomen can be great engineers.\n\nNote: I removed the stereotype.",
     "Women can be great engineers."),
    ("Rewritten text: Older people vary in how they use computers.", "Older people vary in how they use computers."),
    ('"Women can be great engineers."', "Women can be great engineers."),
    ("Women can be great engineers.\nExample 3 input:\nOld people are slow.\nExample 3 output:", "Women can be great engineers."),
    ("People differ.\n\nText:\nImmigrants are lazy.", "People differ."),
    ("People differ.\n\nI hope this helps! Let me know if you need more.", "People differ."),
    ("People differ.\n\nThis rewrite keeps the meaning.", "People differ."),
    # seen from SmolLM2 2-shot on a sentence outside the repository's data
    ("Anyone over sixty can learn a new job.\n\nThe original text is grammatically incorrect and contains an error.",
     "Anyone over sixty can learn a new job."),
])
def test_clean_response_strips_preamble_scaffolding_and_chatter(reply, expected):
    from srllm.prompts import clean_response

    assert clean_response(reply) == expected


@pytest.mark.parametrize("reply", [
    "Here are the facts: the bus runs at nine.",  # a preamble-like start that is content
    "Line one of a post.\nLine two with notes on the schedule.",
    "She said \"fine\" and left.",
    "Text: this starts with the word text.",  # scaffolding at the very start is kept (nothing before it)
])
def test_clean_response_keeps_content(reply):
    from srllm.prompts import clean_response

    assert clean_response(reply) == reply


def test_clean_response_keeps_a_quoted_original_quoted():
    from srllm.prompts import clean_response

    assert clean_response('"Stay home," she said.', original='"Stay home," he said.') == '"Stay home," she said.'
    assert clean_response("Here is the rewritten text: fine.", original="Here is the rewritten text: bad.") == \
        "Here is the rewritten text: fine."
