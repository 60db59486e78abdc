"""Greedy generation in batches, cached row by row so an interrupted run resumes.

The paper decodes greedily (Appendix C). :func:`generate_texts` does the same in
batches: prompts are tokenised once and sorted by length; in each batch the
prompt start shared by all rows (system prompt, instruction, demonstrations) is
encoded once, the rows' remainders are encoded in groups of similar length (little
padding), and the rows are
then decoded together from a LEFT-padded cache with an attention mask and
explicit position ids, a row leaving the batch at its own end-of-sequence token
(see :func:`_greedy_batch`). The text of every row is the same as generating
that prompt alone with ``model.generate`` (tested).

Every finished row is appended to the generation cache
(:mod:`srllm.generation.cache`) and flushed after each batch.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

from srllm.generation.batching import resolve_batch_size
from srllm.generation.drafting import DRAFT_BUDGET, DRAFT_TOKENS, accepted, draft_width, find_draft
from srllm.generation.cache import read_cache, row_key
from srllm.generation.kvcache import (buffer_cache, decode_attention, device_of, full_attention_cache, left_pad,
                                      new_cache, prefix_tokens)
from srllm.generation.greedy_head import ScreenedHead
from srllm.perf import log_work
from srllm.prompts import clean_response
from srllm.quiet import is_quiet

# Text markers that end a response when the model writes them as plain text
# (for example a base model continuing an Alpaca or Llama-2 layout).
END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "</s>", "<|im_start|>")


def stop_token_ids(tokenizer: Any, model: Any = None) -> list[int]:
    """Token ids that end a response: the tokenizer's EOS, the model's EOS and chat end markers."""
    ids: list[int] = []

    def add(v: Any) -> None:
        if v is None:
            return
        for i in (v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(i, int) and i >= 0 and i not in ids:
                ids.append(i)

    add(getattr(tokenizer, "eos_token_id", None))
    gen_cfg = getattr(model, "generation_config", None)
    add(getattr(gen_cfg, "eos_token_id", None))
    vocab = tokenizer.get_vocab()
    for marker in ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>"):
        add(vocab.get(marker))
    return ids


def postprocess(text: str) -> str:
    """Cut at the first end marker written as text, then :func:`srllm.prompts.clean_response`
    (no preamble, prompt scaffolding or trailing chatter around the rewrite)."""

    for marker in END_MARKERS:
        i = text.find(marker)
        if i >= 0:
            text = text[:i]
    return clean_response(text)


def decode_row(tokenizer: Any, new_ids: Sequence[int], stops: set[int]) -> tuple[str, bool]:
    """Text of one row's new token ids, cut at the first stop token, then :func:`postprocess`-ed.

    Also returns whether a stop token was hit (False means the row ran to ``max_new_tokens``).
    """
    ids = list(new_ids)
    hit = False
    for i, t in enumerate(ids):
        if t in stops:
            ids, hit = ids[:i], True
            break
    return postprocess(tokenizer.decode(ids, skip_special_tokens=True)), hit


# Shortest common prompt start worth computing once per batch instead of once per row.
MIN_SHARED_TOKENS = 8


def common_prefix_len(rows: Sequence[Sequence[int]]) -> int:
    """Number of leading token ids that all rows share."""
    if not rows:
        return 0
    n = min(len(r) for r in rows)
    first = rows[0]
    for i in range(n):
        t = first[i]
        if any(r[i] != t for r in rows):
            return i
    return n


def _hf_generate_batch(model: Any, rows: list[list[int]], *, max_new_tokens: int, stops: list[int],
                       pad_id: int) -> list[list[int]]:
    """Reference path: transformers' generate on a left-padded batch (used where the fast path does not apply)."""
    kwargs = dict(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, eos_token_id=stops,
                  pad_token_id=pad_id, use_cache=True, temperature=None, top_p=None, top_k=None)
    device = device_of(model)
    ids, mask = left_pad(rows, pad_id)
    out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs)
    return out[:, ids.shape[1]:].tolist()


# Rows join a prefill group (longest first) while the group's padding stays under this share of
# its computed tokens. One padded pass over a whole batch of CMD texts (a dozen to a few hundred
# tokens) computed up to half padding; a few passes over rows of similar length cost a few
# forward calls more and compute little padding.
PREFILL_PAD_SHARE = 0.15


def prefill_groups(lengths: Sequence[int]) -> list[list[int]]:
    """Row indices in groups of similar length for the prefill pass, longest rows first.

    A row joins the current group while the group's padding (tokens computed for
    rows shorter than the group's longest) stays at most :data:`PREFILL_PAD_SHARE`
    of the tokens the group computes; otherwise it starts a new group.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    cur: list[int] = []
    total = 0
    for i in order:
        if cur:
            computed = (len(cur) + 1) * lengths[cur[0]]
            if computed - (total + lengths[i]) > PREFILL_PAD_SHARE * computed:
                groups.append(cur)
                cur, total = [], 0
        cur.append(i)
        total += lengths[i]
    if cur:
        groups.append(cur)
    return groups


# A finished row stays in the decoding batch (its tokens are ignored) until this share of
# the batch has finished; then the batch is compacted. Compacting copies every layer's
# cache, so doing it at every finished row costs more than a few wasted row-steps.
COMPACT_SHARE = 0.25


def _greedy_batch(model: Any, rows: list[list[int]], *, max_new_tokens: int, stops: list[int], pad_id: int,
                  share_prefix: bool = True, screen_head: bool = True, draft: bool = True,
                  stats: dict[str, Any] | None = None) -> list[list[int]]:
    """New token ids of one batch, greedy, each row ending at its own stop token.

    Hand-written on top of the model's forward (not ``model.generate``) because on
    CPUs two costs of batched ``generate`` dominate: it encodes every prompt padded
    to the longest one, with the instruction and demonstrations that every row
    shares encoded once per row, and it keeps computing rows that have already
    ended. (The library's own fix, continuous batching via ``generate_batch``, is
    built for GPUs and measured 2.5x slower than padded ``generate`` on these CPUs.) So:

    1. the prompt start that all rows share (system prompt, instruction, k-shot
       demonstrations) is encoded once, for one row; with prefix-tuning it
       follows the learned prefix, as in training;
    2. the rows' own remainders are encoded in a few batched forward passes, one
       per group of rows of similar length (:func:`prefill_groups`), each padded
       on the left to its group's width *between* the shared start and the
       remainder, with an attention mask and explicit position ids; this yields
       each row's first new token, and the keys and values (shared start
       included) are copied into one preallocated cache where every row is
       right-aligned;
    3. the rows are decoded together, one token per step, writing into the same
       preallocated cache (no per-step copy of the cache), attention reading the
       shared start's keys and values once for all rows on CPU
       (:func:`srllm.generation.kvcache.decode_attention`); a row that emits a stop
       token (or reaches ``max_new_tokens``) is finished, and finished rows are
       dropped from the batch once :data:`COMPACT_SHARE` of it has finished;
    4. while the batch is small (``draft``), a step also checks the tokens each row is
       likely to copy next from its own prompt and output (:mod:`srllm.generation.drafting`):
       one pass over the row's next token and its draft, keeping the drafted tokens that
       equal the model's greedy choices. A rejected token's keys and values stay in the
       cache, masked out for that row (and dropped where every row rejected them).

    Every row sees exactly the keys, values and positions of encoding it alone
    (padding is masked out), so the tokens equal those of one-at-a-time
    ``generate`` (tested), up to float rounding in exact near-ties. This also
    makes prefix-tuning work at all: peft 0.21 injects its prefix as
    ``past_key_values``, which transformers 5.24's ``generate`` ignores (it passes
    ``cache``), silently dropping it.
    """
    import torch

    device = device_of(model)
    n_virtual = prefix_tokens(model)
    base = model.get_base_model() if n_virtual else model
    probe = new_cache(base, model, n_virtual)
    if not full_attention_cache(probe) and probe.layers and n_virtual == 0:
        return _hf_generate_batch(model, rows, max_new_tokens=max_new_tokens, stops=stops, pad_id=pad_id)
    shared = common_prefix_len(rows) if share_prefix and len(rows) > 1 else 0
    shared = min(shared, min(len(r) for r in rows) - 1)  # every row keeps >= 1 token of its own
    if shared < MIN_SHARED_TOKENS:
        shared = 0
    stop_set = set(stops)
    b = len(rows)
    # the output layer screened in bfloat16 where that is safe and faster (srllm.generation.greedy_head)
    head = ScreenedHead.for_model(base) if screen_head else None
    decoder = base.get_decoder() if head is not None else None

    def forward(ids: Any, cache: Any, pos: Any, mask: Any, keep: int = 1) -> Any:
        """Each row's greedy next token after each of its last ``keep`` positions: (rows, keep)."""
        if head is not None:
            hidden = decoder(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache,
                             use_cache=True).last_hidden_state[:, -keep:, :]
            return head.next_tokens(hidden.reshape(-1, hidden.shape[-1]), stats).view(ids.shape[0], keep)
        out = base(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True,
                   logits_to_keep=keep)
        return out.logits[:, -keep:, :].float().argmax(dim=-1)

    t_start = time.perf_counter()
    # 1. shared start, once
    ctx = probe
    if shared:
        ids = torch.tensor([rows[0][:shared]], dtype=torch.long, device=device)
        pos = n_virtual + torch.arange(shared, device=device).view(1, -1)
        forward(ids, ctx, pos, torch.ones((1, n_virtual + shared), dtype=torch.long, device=device))
    n_ctx = n_virtual + shared

    # 2. every row's remainder, in groups of similar length (see prefill_groups), each padded on the
    #    left to its own width; keys and values land in one cache where every row is right-aligned
    rest = [r[shared:] for r in rows]
    width = max(len(r) for r in rest)
    # drafts leave rejected positions in the cache until every row has rejected them: room for that
    capacity = n_ctx + width + max_new_tokens * (2 if draft else 1)
    cache = buffer_cache(base, capacity)
    mask = torch.zeros((b, n_ctx + width), dtype=torch.long)
    mask[:, :n_ctx] = 1
    for j, r in enumerate(rest):
        mask[j, n_ctx + width - len(r):] = 1
    mask = mask.to(device)
    nxt = torch.empty(b, dtype=torch.long, device=device)
    computed = 0  # prefill positions computed, padding included
    for group in prefill_groups([len(r) for r in rest]):
        g, w = len(group), max(len(rest[j]) for j in group)
        sub = buffer_cache(base, n_ctx + w)
        if n_ctx:
            for i, layer in enumerate(ctx.layers):
                sub.update(layer.keys.expand(g, -1, -1, -1), layer.values.expand(g, -1, -1, -1), i)
        ids = torch.full((g, w), pad_id, dtype=torch.long)
        smask = torch.zeros((g, n_ctx + w), dtype=torch.long)
        smask[:, :n_ctx] = 1
        pos = torch.full((g, w), n_ctx, dtype=torch.long)  # padding: any valid position (masked out)
        for s_, j in enumerate(group):
            n = len(rest[j])
            ids[s_, w - n:] = torch.tensor(rest[j], dtype=torch.long)
            smask[s_, n_ctx + w - n:] = 1
            pos[s_, w - n:] = torch.arange(n_ctx, n_ctx + n)
        rows_idx = torch.tensor(group, dtype=torch.long, device=device)
        nxt[rows_idx] = forward(ids.to(device), sub, pos.to(device), smask.to(device))[:, 0]
        for i, layer in enumerate(sub.layers):
            big = cache.layers[i]
            if not big.is_initialized:
                big.reserve(layer.keys, b, n_ctx + width)
                if n_ctx:
                    big.write(slice(None), 0, layer.keys[:1, :, :n_ctx].expand(b, -1, -1, -1),
                              layer.values[:1, :, :n_ctx].expand(b, -1, -1, -1))
            big.write(rows_idx, n_ctx + width - w, layer.keys[:, :, n_ctx:], layer.values[:, :, n_ctx:])
        computed += g * w
    pos = torch.tensor([n_ctx + len(r) for r in rest], dtype=torch.long, device=device)  # each row's next position

    t_decode = time.perf_counter()
    # 3. decode together (4. with drafts while the batch is small)
    outs: list[list[int]] = [[] for _ in rows]
    new: list[list[int]] = [[t] for t in nxt.tolist()]  # each row's tokens from the last pass, not yet kept
    active = list(range(b))  # row index of each batch slot
    finished = [False] * b
    n_finished = steps = row_steps = drafted = kept_drafts = 0
    # each row's draft length, adapted as in transformers' assisted decoding: +2 after a wholly accepted
    # draft, down to what was accepted otherwise (a row that is not copying stops costing wide passes)
    draft_len = [DRAFT_TOKENS] * b
    while True:
        for j in active:
            for t in ([] if finished[j] else new[j]):
                outs[j].append(t)
                if t in stop_set or len(outs[j]) >= max_new_tokens:
                    finished[j] = True
                    n_finished += 1
                    break
        if n_finished == b:
            break
        done_here = sum(finished[j] for j in active)
        if done_here and done_here >= COMPACT_SHARE * len(active):
            keep = [s for s, j in enumerate(active) if not finished[j]]
            idx = torch.tensor(keep, dtype=torch.long, device=device)
            cache.batch_select_indices(idx)
            mask, pos = mask[idx], pos[idx]
            active = [active[s] for s in keep]
        rows_now = len(active)
        drafts: list[list[int]] = [[] for _ in active]
        if draft and rows_now * 2 <= DRAFT_BUDGET:
            drafts = [[] if finished[j] else
                      find_draft(rows[j] + outs[j], min(draft_len[j], max_new_tokens - len(outs[j]) - 1))
                      for j in active]
        width_now = draft_width(rows_now, max(len(d) for d in drafts))
        width_now = max(1, min(width_now, capacity - cache.get_seq_length()))
        ids = torch.full((rows_now, width_now), pad_id, dtype=torch.long)
        for s_, j in enumerate(active):
            d = drafts[s_][:width_now - 1]
            ids[s_, :1 + len(d)] = torch.tensor([outs[j][-1], *d], dtype=torch.long)
        mask = torch.cat([mask, mask.new_ones((rows_now, width_now))], dim=1)
        step_pos = pos.view(-1, 1) + torch.arange(width_now, device=device).view(1, -1)
        with decode_attention(device, shared=n_ctx):  # the shared start (and prefix) read once per step
            greedy = forward(ids.to(device), cache, step_pos, mask, keep=width_now).tolist()
        advance = []
        for s_, j in enumerate(active):
            a = accepted(drafts[s_][:width_now - 1], greedy[s_])
            new[j] = greedy[s_][:a + 1]
            advance.append(a + 1)
            if a + 1 < width_now:  # this row's rejected drafted tokens: masked out from now on
                mask[s_, mask.shape[1] - (width_now - a - 1):] = 0
            tried = min(len(drafts[s_]), width_now - 1)
            if tried:
                draft_len[j] = min(DRAFT_TOKENS, draft_len[j] + 2) if a == tried else max(1, a)
            drafted += tried
            kept_drafts += a
        unused = width_now - max(adv for s_, adv in enumerate(advance) if not finished[active[s_]])
        if unused:  # positions every unfinished row rejected: dropped from the cache
            for layer in cache.layers:
                layer.truncate(layer.get_seq_length() - unused)
            mask = mask[:, :mask.shape[1] - unused]
        pos = pos + torch.tensor(advance, dtype=torch.long, device=device)
        steps += 1
        row_steps += rows_now
    if stats is not None:
        stats["decode_steps"] = stats.get("decode_steps", 0) + steps
        stats["decode_row_steps"] = stats.get("decode_row_steps", 0) + row_steps
        stats["drafted_tokens"] = stats.get("drafted_tokens", 0) + drafted
        stats["accepted_draft_tokens"] = stats.get("accepted_draft_tokens", 0) + kept_drafts
        stats["prefill_tokens"] = stats.get("prefill_tokens", 0) + shared + sum(len(r) for r in rest)
        stats["prefill_padded_tokens"] = stats.get("prefill_padded_tokens", 0) + shared + computed
        stats["prefill_seconds"] = stats.get("prefill_seconds", 0.0) + t_decode - t_start
        stats["decode_seconds"] = stats.get("decode_seconds", 0.0) + time.perf_counter() - t_decode
    return outs


def generate_texts(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int | str,
                   cache_path: str | os.PathLike | None = None, desc: str = "generate",
                   stats: dict[str, Any] | None = None, progress: bool = True,
                   share_prefix: bool = True, screen_head: bool = True, draft: bool = True) -> list[str]:
    """Greedy continuations of ``prompts`` (the echoed prompt removed), in input order.

    ``model``: the model, or a function of no arguments that returns it, called only when
    a row is not in the cache (so cached rows are read without loading any weights).

    ``cache_path``: a JSONL file of finished rows for this model/adapter/format/decoding
    key-set (see :func:`generation_cache_path`); rows already there are reused and
    new rows are appended and flushed after every batch. ``stats``, when a dict, is
    filled with ``cached``, ``generated`` (unique prompts), ``seconds`` and ``rows_per_s``, and the
    decoder's counts (``prefill_tokens``, ``decode_steps``, ...) and split of time (``prefill_seconds``,
    ``decode_seconds``).
    ``batch_size``: rows decoded together, or ``"auto"`` for :func:`pick_batch_size`'s
    measured choice for this machine (outputs do not depend on it).
    ``share_prefix``: encode the prompt start that a batch's rows share once (see
    :func:`_greedy_batch`); same outputs, much less work when prompts share an instruction.
    ``screen_head``: pick each next token with the bfloat16-screened output layer where it
    applies (:mod:`srllm.generation.greedy_head`); the float32 layer's tokens, faster.
    ``draft``: while a batch is down to a few rows, check the tokens each row is likely to copy
    from its prompt in one pass (:mod:`srllm.generation.drafting`); the same greedy tokens, fewer passes.
    """
    import torch
    from tqdm.auto import tqdm

    if not isinstance(max_new_tokens, int) or max_new_tokens <= 0:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    if batch_size != "auto" and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0):
        raise ValueError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")
    prompts = list(prompts)
    for i, p in enumerate(prompts):
        if not isinstance(p, str) or not p:
            raise ValueError(f"prompt {i} must be a non-empty string, got {p!r}")

    keys = [row_key(p, max_new_tokens) for p in prompts]
    done: dict[str, str] = read_cache(cache_path) if cache_path is not None else {}
    todo: dict[str, str] = {}
    for k, p in zip(keys, prompts):
        if k not in done and k not in todo:
            todo[k] = p

    if todo and callable(model) and not isinstance(model, torch.nn.Module):
        model = model()  # a loader: some row must be generated (loading is not counted as generation time)
    t0 = time.perf_counter()
    work: dict[str, Any] = {"new_tokens": 0}
    if todo:
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        stops = stop_token_ids(tokenizer, model)
        stop_set = set(stops)
        batch_size = resolve_batch_size(batch_size, model)
        work["batch_size"] = batch_size
        todo_keys = list(todo)
        # Tokenise once; the prompt carries its own special tokens (format_prompt writes them).
        encoded = tokenizer([todo[k] for k in todo_keys], add_special_tokens=False)["input_ids"]
        # Longest first: similar lengths share a batch (less padding) and the
        # slowest batch runs first, so the rows/s estimate is not optimistic.
        order = sorted(range(len(todo_keys)), key=lambda i: -len(encoded[i]))
        fh = None
        if cache_path is not None:
            Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
            fh = open(cache_path, "a", encoding="utf-8")
        bar = tqdm(total=len(todo_keys), desc=desc, unit="rows", disable=not progress or is_quiet(), dynamic_ncols=True)
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    idx = order[start:start + batch_size]
                    new = _greedy_batch(model, [encoded[i] for i in idx], max_new_tokens=max_new_tokens,
                                        stops=stops, pad_id=pad_id, share_prefix=share_prefix,
                                        screen_head=screen_head, draft=draft, stats=work)
                    lines = []
                    for j, i in enumerate(idx):
                        work["new_tokens"] += len(new[j])
                        text, hit = decode_row(tokenizer, new[j], stop_set)
                        k = todo_keys[i]
                        done[k] = text
                        lines.append(json.dumps({"key": k, "output": text, "stopped_at_eos": hit,
                                                 "prompt": todo[k]}, ensure_ascii=False))
                    if fh is not None:
                        fh.write("\n".join(lines) + "\n")
                        fh.flush()
                        os.fsync(fh.fileno())
                    bar.update(len(idx))
        finally:
            bar.close()
            if fh is not None:
                fh.close()
            if was_training:
                model.train()
    seconds = time.perf_counter() - t0
    if stats is not None:
        stats.update({"rows": len(prompts), "cached": len(prompts) - sum(1 for k in keys if k in todo),
                      "generated": len(todo), "seconds": seconds,
                      "rows_per_s": (len(todo) / seconds) if todo and seconds > 0 else None,
                      "tokens_per_s": (work["new_tokens"] / seconds) if todo and seconds > 0 else None, **work})
    if todo:

        log_work("generation", seconds, rows=len(todo), cached_rows=len(prompts) - len(todo), desc=desc,
                 new_tokens=work["new_tokens"])
    return [done[k] for k in keys]

