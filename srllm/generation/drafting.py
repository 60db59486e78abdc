"""Prompt-lookup drafts: the tokens a rewrite is likely to copy next, read off its own prompt and output.

A safe rewrite repeats most of its input. When a row's last few tokens also occur
earlier in its prompt or its output, the tokens that followed them there are a
likely continuation. Verifying such a draft costs one forward pass of the draft's
length. On a 2-core CPU a decoding step that has few rows is bound by reading the
weights, not by arithmetic (measured with SmolLM2-135M: one row and one token takes
55 ms; one row and nine tokens takes 72 ms). So each accepted draft token saves
most of a step.

The drafts come from the prompt-lookup idea (Saxena 2023, "Prompt Lookup
Decoding"; transformers' ``prompt_lookup_num_tokens``). They are checked as in
greedy speculative decoding (Leviathan et al. 2023): a drafted token is kept only
while it equals the model's own greedy choice at its position. The output is
therefore the model's greedy output, except where two logits are tied to float
rounding (a pass over several tokens sums in another order than a pass over one).
:func:`srllm.generation.decoding._greedy_batch` uses drafts only while a batch is
small enough that a longer pass costs little more than a one-token step
(:func:`draft_width`).
"""

from __future__ import annotations

from typing import Sequence

# The longest n-gram matched, and the most tokens drafted at once.
MAX_NGRAM = 3
DRAFT_TOKENS = 8
# Row-tokens one verification pass may compute. Measured on the 2-core machine with SmolLM2-135M:
# 1 row x 9 tokens took 1.3x a one-token step, 2 x 8 took 1.4x, 4 x 4 took 1.5x and 8 x 2 took 1.3x.
# 8 x 4 took 1.6x, and 16 rows x 2 tokens took 1.8x: each row then has to accept almost every
# drafted token for the pass to pay.
DRAFT_BUDGET = 16


def find_draft(history: Sequence[int], limit: int, max_ngram: int = MAX_NGRAM) -> list[int]:
    """The up-to-``limit`` tokens that followed the latest earlier occurrence of ``history``'s last n-gram.

    ``history`` is a row's prompt and the tokens generated so far. The longest n-gram
    (``max_ngram`` down to 1) that ends ``history`` and also occurs earlier is used, at its
    latest earlier occurrence. A rewrite is read from left to right, so the latest match
    is usually the place it is copying. Returns [] where no n-gram recurs.
    """
    n_hist = len(history)
    if limit <= 0:
        return []
    for n in range(min(max_ngram, n_hist - 1), 0, -1):
        tail = list(history[n_hist - n:])
        first = tail[0]
        # latest start first; a match must end before the tail itself and leave a token after it
        for start in range(n_hist - n - 1, -1, -1):
            if history[start] == first and list(history[start:start + n]) == tail:
                return list(history[start + n:start + n + limit])
    return []


def draft_width(rows: int, longest: int, budget: int = DRAFT_BUDGET) -> int:
    """Tokens per row in the next pass: 1 (the row's next token alone) plus the drafted tokens.

    A pass covers ``rows`` rows at one width, so the width is the longest draft plus one,
    kept within ``budget`` row-tokens. Returns 1 (a plain decoding step) where no row has a
    draft or the batch is too large for even one drafted token.
    """
    if longest <= 0 or rows <= 0:
        return 1
    return max(1, min(longest + 1, budget // rows))


def accepted(draft: Sequence[int], greedy: Sequence[int]) -> int:
    """How many leading tokens of ``draft`` equal the model's greedy choices at their positions.

    ``greedy[i]`` is the model's choice after the row's current token and ``draft[:i]``.
    The row then emits ``greedy[:accepted + 1]``: the accepted drafted tokens and the
    model's own next token after them.
    """
    a = 0
    while a < len(draft) and a < len(greedy) - 1 and draft[a] == greedy[a]:
        a += 1
    return a
