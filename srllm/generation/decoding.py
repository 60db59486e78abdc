"""Greedy generation in batches, cached row by row so an interrupted run resumes.

The paper decodes greedily (Appendix C). :func:`generate_texts` does the same in
batches: prompts are tokenised once and sorted by length; in each batch the
prompt start shared by all rows (system prompt, instruction, demonstrations) is
encoded once, each row's remainder is encoded without padding, and the rows are
then decoded together from a LEFT-padded cache with an attention mask and
explicit position ids, a row leaving the batch at its own end-of-sequence token
(see :func:`_greedy_batch`). The text of every row is the same as generating
that prompt alone with ``model.generate`` (tested).

Every finished row is appended to a JSONL cache file and flushed after each
batch. A cache file belongs to one key-set (model, adapter, prompt format,
decoding settings: see :func:`generation_cache_path`) and each line is keyed by
the prompt text and the number of new tokens, so a rerun after an interruption
only generates the rows that are missing.

Higher level, :func:`rewrite` builds the prompts of one method of the paper
(zero-/2-/5-shot prompting of the base model, prefix-tuned or instruction
fine-tuned SR_LLM) and :func:`debias` rewrites one text with the newest trained
adapter.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from srllm.cache import cache_dir, file_hash, stable_hash
from srllm.errors import SrllmError
from srllm.quiet import is_quiet

# Bumped whenever post-processing or the cache line layout changes, so old lines are not reused.
CACHE_VERSION = 3

# Text markers that end a response when the model writes them as plain text
# (for example a base model continuing an Alpaca or Llama-2 layout).
END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "</s>", "<|im_start|>")

METHODS = ("sr_llm", "zero_shot", "two_shot", "five_shot", "prefix")
SHOTS = {"zero_shot": 0, "two_shot": 2, "five_shot": 5, "sr_llm": 0, "prefix": 0}


# --------------------------------------------------------------------------- cache


def adapter_fingerprint(adapter_dir: str | os.PathLike | None) -> str | None:
    """Content hash of a peft adapter folder (config and weight files), or None."""
    if adapter_dir is None:
        return None
    d = Path(adapter_dir)
    if not (d / "adapter_config.json").exists():
        raise SrllmError(f"{d} is not a peft adapter folder: adapter_config.json is missing")
    parts = []
    for f in sorted(d.iterdir()):
        if f.is_file() and (f.name == "adapter_config.json" or f.name.startswith("adapter_model")):
            parts.append((f.name, file_hash(f)))
    return stable_hash(parts)


def decoding_settings(max_new_tokens: int) -> dict[str, Any]:
    """The decoding settings that enter every cache key (greedy, Appendix C)."""
    return {"strategy": "greedy", "do_sample": False, "num_beams": 1, "max_new_tokens": int(max_new_tokens),
            "cache_version": CACHE_VERSION}


def generation_cache_path(model_id: str, adapter_id: str | None, prompt_format: str, max_new_tokens: int,
                          root: str | os.PathLike | None = None) -> Path:
    """The JSONL cache file of one key-set: model, adapter, prompt format, decoding settings."""
    key = stable_hash({"model": model_id, "adapter": adapter_id, "prompt_format": prompt_format,
                       "decoding": decoding_settings(max_new_tokens)})
    base = Path(root) if root is not None else cache_dir() / "generations"
    return base / f"{key}.jsonl"


def row_key(prompt: str, max_new_tokens: int) -> str:
    """Key of one cache line: the full prompt text and the decoding length."""
    return stable_hash(prompt, int(max_new_tokens), CACHE_VERSION, length=24)


def read_cache(path: str | os.PathLike) -> dict[str, str]:
    """Finished rows of a cache file as ``{row key: output}``.

    A run killed while writing can leave an unterminated last line; it is cut off
    here (the file is truncated to its last complete line) so that the next append
    starts on a fresh line. Any other unreadable line is an error naming the line.
    """
    path = Path(path)
    if not path.exists():
        return {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        print(f"generate: dropping an unfinished last line of {path} (interrupted write); it will be regenerated",
              file=sys.stderr)
        with open(path, "r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    out: dict[str, str] = {}
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out[row["key"]] = row["output"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SrllmError(f"generation cache {path}, line {n}: unreadable ({exc}); delete the file to regenerate")
    return out


# --------------------------------------------------------------------------- decoding


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
    from srllm.prompts import clean_response

    for marker in END_MARKERS:
        i = text.find(marker)
        if i >= 0:
            text = text[:i]
    return clean_response(text)


def _decode_row(tokenizer: Any, new_ids: Sequence[int], stops: set[int]) -> tuple[str, bool]:
    ids = list(new_ids)
    hit = False
    for i, t in enumerate(ids):
        if t in stops:
            ids, hit = ids[:i], True
            break
    return postprocess(tokenizer.decode(ids, skip_special_tokens=True)), hit


def _left_pad(rows: list[list[int]], pad_id: int) -> tuple[Any, Any]:
    # Hand-written rather than tokenizer.pad: the ids are already tokenised once
    # up front and this avoids changing the shared tokenizer's padding side.
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
    return ids, mask


def _device_of(model: Any) -> Any:
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover - a model always has parameters
        return "cpu"


def _prefix_tokens(model: Any) -> int:
    """Number of virtual tokens when ``model`` is a peft prefix-tuning model, else 0."""
    cfg = getattr(model, "active_peft_config", None)
    if cfg is None or str(getattr(cfg, "peft_type", "")).upper().split(".")[-1] != "PREFIX_TUNING":
        return 0
    return int(cfg.num_virtual_tokens)


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
    device = _device_of(model)
    ids, mask = _left_pad(rows, pad_id)
    out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs)
    return out[:, ids.shape[1]:].tolist()


def _new_cache(base: Any, model: Any, n_virtual: int) -> Any:
    if n_virtual:
        # peft's learned prefix, as a filled cache for one row (positions 0..n_virtual-1).
        return model.get_prompt(batch_size=1)
    from transformers import DynamicCache

    return DynamicCache(config=base.config)


def _full_attention_cache(cache: Any) -> bool:
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in getattr(cache, "layers", [None]))


@functools.lru_cache(maxsize=1)
def _buffer_layer_class() -> type:
    """A transformers ``DynamicLayer`` that writes into a preallocated buffer instead of concatenating.

    Hand-written because neither stock layer fits batched CPU decoding:
    ``DynamicLayer.update`` concatenates, so every decoding step copies the whole
    cache of every layer; ``StaticLayer`` preallocates, but attention then runs
    over its full length at every step. This layer preallocates (growing by
    doubling if ever needed) and hands attention a view of the filled part only.
    """
    from transformers.cache_utils import DynamicLayer

    class BufferLayer(DynamicLayer):
        def __init__(self, capacity: int) -> None:
            super().__init__()
            self.capacity = int(capacity)
            self.length = 0

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            self.device = key_states.device
            b, h, _, _ = key_states.shape
            self._k = key_states.new_zeros((b, h, self.capacity, key_states.shape[-1]))
            self._v = value_states.new_zeros((b, h, self.capacity, value_states.shape[-1]))
            self.is_initialized = True

        def _views(self) -> None:
            self.keys, self.values = self._k[:, :, :self.length], self._v[:, :, :self.length]

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.length + key_states.shape[-2]
            if end > self.capacity:  # not reached when the capacity was computed right; kept correct anyway
                self.capacity = max(end, 2 * self.capacity)
                k, v = self._k, self._v
                self.lazy_initialization(k, v)
                self._k[:, :, :self.length], self._v[:, :, :self.length] = k[:, :, :self.length], v[:, :, :self.length]
            self._k[:, :, self.length:end] = key_states
            self._v[:, :, self.length:end] = value_states
            self.length = end
            self._views()
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.length

        def batch_select_indices(self, indices: Any) -> None:
            if self.is_initialized:
                self._k, self._v = self._k[indices], self._v[indices]
                self._views()

    return BufferLayer


def _buffer_cache(base: Any, capacity: int) -> Any:
    from transformers import DynamicCache

    cache = DynamicCache(config=base.config)
    layer = _buffer_layer_class()
    n = len(cache.layers) or base.config.num_hidden_layers
    cache.layers = [layer(capacity) for _ in range(n)]
    return cache


# A finished row stays in the decoding batch (its tokens are ignored) until this share of
# the batch has finished; then the batch is compacted. Compacting copies every layer's
# cache, so doing it at every finished row costs more than a few wasted row-steps.
COMPACT_SHARE = 0.25


def _greedy_batch(model: Any, rows: list[list[int]], *, max_new_tokens: int, stops: list[int], pad_id: int,
                  share_prefix: bool = True, stats: dict[str, Any] | None = None) -> list[list[int]]:
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
    2. its keys and values are copied to every row of a preallocated cache, and
       the rows' own remainders are encoded in one batched forward pass,
       left-padded *between* the shared start and the remainder, with an
       attention mask and explicit position ids, which also yields each row's
       first new token;
    3. the rows are decoded together, one token per step, writing into the same
       preallocated cache (no per-step copy of the cache); a row that emits a stop
       token (or reaches ``max_new_tokens``) is finished, and finished rows are
       dropped from the batch once :data:`COMPACT_SHARE` of it has finished.

    Every row sees exactly the keys, values and positions of encoding it alone
    (padding is masked out), so the tokens equal those of one-at-a-time
    ``generate`` (tested), up to float rounding in exact near-ties. This also
    makes prefix-tuning work at all: peft 0.21 injects its prefix as
    ``past_key_values``, which transformers 5.24's ``generate`` ignores (it passes
    ``cache``), silently dropping it.
    """
    import torch

    device = _device_of(model)
    n_virtual = _prefix_tokens(model)
    base = model.get_base_model() if n_virtual else model
    probe = _new_cache(base, model, n_virtual)
    if not _full_attention_cache(probe) and probe.layers and n_virtual == 0:
        return _hf_generate_batch(model, rows, max_new_tokens=max_new_tokens, stops=stops, pad_id=pad_id)
    shared = common_prefix_len(rows) if share_prefix and len(rows) > 1 else 0
    shared = min(shared, min(len(r) for r in rows) - 1)  # every row keeps >= 1 token of its own
    if shared < MIN_SHARED_TOKENS:
        shared = 0
    stop_set = set(stops)
    b = len(rows)

    def forward(ids: Any, cache: Any, pos: Any, mask: Any) -> Any:
        out = base(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True,
                   logits_to_keep=1)
        return out.logits[:, -1, :].float()

    # 1. shared start, once
    ctx = probe
    if shared:
        ids = torch.tensor([rows[0][:shared]], dtype=torch.long, device=device)
        pos = n_virtual + torch.arange(shared, device=device).view(1, -1)
        forward(ids, ctx, pos, torch.ones((1, n_virtual + shared), dtype=torch.long, device=device))
    n_ctx = n_virtual + shared

    # 2. every row's remainder in one pass, left-padded between the shared start and the remainder
    rest = [r[shared:] for r in rows]
    width = max(len(r) for r in rest)
    cache = _buffer_cache(base, n_ctx + width + max_new_tokens)
    if n_ctx:
        for i, layer in enumerate(ctx.layers):
            cache.update(layer.keys.expand(b, -1, -1, -1), layer.values.expand(b, -1, -1, -1), i)
    ids = torch.full((b, width), pad_id, dtype=torch.long)
    mask = torch.zeros((b, n_ctx + width), dtype=torch.long)
    mask[:, :n_ctx] = 1
    pos = torch.full((b, width), n_ctx, dtype=torch.long)  # padding: any valid position (masked out)
    for j, r in enumerate(rest):
        n = len(r)
        ids[j, width - n:] = torch.tensor(r, dtype=torch.long)
        mask[j, n_ctx + width - n:] = 1
        pos[j, width - n:] = torch.arange(n_ctx, n_ctx + n)
    ids, mask, pos = ids.to(device), mask.to(device), pos.to(device)
    nxt = forward(ids, cache, pos, mask).argmax(dim=-1)
    pos = pos[:, -1] + 1  # position of each row's next token

    # 3. decode together
    outs: list[list[int]] = [[] for _ in rows]
    active = list(range(b))  # row index of each batch slot
    finished = [False] * b
    n_finished = steps = row_steps = 0
    for step in range(max_new_tokens):
        for j, t in zip(active, nxt.tolist()):
            if not finished[j]:
                outs[j].append(t)
                if t in stop_set or step + 1 >= max_new_tokens:
                    finished[j] = True
                    n_finished += 1
        if n_finished == b:
            break
        done_here = sum(finished[j] for j in active)
        if done_here and done_here >= COMPACT_SHARE * len(active):
            keep = [s for s, j in enumerate(active) if not finished[j]]
            idx = torch.tensor(keep, dtype=torch.long, device=device)
            cache.batch_select_indices(idx)
            mask, pos, nxt = mask[idx], pos[idx], nxt[idx]
            active = [active[s] for s in keep]
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
        nxt = forward(nxt.view(-1, 1), cache, pos.view(-1, 1), mask).argmax(dim=-1)
        pos = pos + 1
        steps += 1
        row_steps += len(active)
    if stats is not None:
        stats["decode_steps"] = stats.get("decode_steps", 0) + steps
        stats["decode_row_steps"] = stats.get("decode_row_steps", 0) + row_steps
        stats["prefill_tokens"] = stats.get("prefill_tokens", 0) + shared + sum(len(r) for r in rest)
        stats["prefill_padded_tokens"] = stats.get("prefill_padded_tokens", 0) + shared + b * width
    return outs


# Batch sizes tried by pick_batch_size ("auto" in a profile's generate.batch_size).
AUTO_BATCH_CANDIDATES = (8, 16, 32, 64)
_PICKED: dict[str, int] = {}


def _batch_pick_key(model: Any) -> str:
    import torch

    from srllm.perf import _cpu_model

    cfg = model.config.to_dict() if hasattr(model, "config") else {}
    shape = {k: cfg.get(k) for k in ("model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                                     "num_attention_heads", "num_key_value_heads", "vocab_size")}
    dev = _device_of(model)
    where = torch.cuda.get_device_name(dev) if getattr(dev, "type", "cpu") == "cuda" else _cpu_model()
    return stable_hash(shape, str(next(model.parameters()).dtype), where, os.cpu_count(), torch.get_num_threads(),
                       length=16)


def pick_batch_size(model: Any, *, candidates: Sequence[int] = AUTO_BATCH_CANDIDATES, context: int = 160,
                    steps: int = 2, tolerance: float = 0.1, use_cache: bool = True) -> int:
    """The decoding batch size for this machine and model shape, from a short measurement.

    For each candidate size b, times ``steps`` one-token decoding steps of b rows over a
    cache of ``context`` positions (filled with random keys and values: the cost does
    not depend on them) and takes the time per row. The pick is the smallest candidate
    within ``tolerance`` of the best time per row (a larger batch pads more and holds
    more memory for no gain). Stored per model shape, dtype, device and thread count
    in ``<cache>/perf/batch-size.json`` (and in memory), so it is measured once per machine.
    """
    import torch

    from srllm.cache import atomic_write_text

    key = _batch_pick_key(model)
    if key in _PICKED:
        return _PICKED[key]
    store = cache_dir() / "perf" / "batch-size.json"
    known: dict[str, Any] = {}
    if use_cache and store.exists():
        try:
            known = json.loads(store.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            known = {}  # a damaged record is measured again and rewritten
        if isinstance(known.get(key), dict) and isinstance(known[key].get("batch_size"), int):
            _PICKED[key] = known[key]["batch_size"]
            return _PICKED[key]
    n_virtual = _prefix_tokens(model)
    base = model.get_base_model() if n_virtual else model
    cfg = base.config
    heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    device, dtype = _device_of(model), next(base.parameters()).dtype
    per_row: dict[int, float] = {}
    with torch.inference_mode():
        for b in sorted(set(int(c) for c in candidates)):
            cache = _buffer_cache(base, context + steps + 1)
            for i in range(len(cache.layers)):
                cache.update(torch.randn((b, heads, context, head_dim), dtype=dtype, device=device),
                             torch.randn((b, heads, context, head_dim), dtype=dtype, device=device), i)
            ids = torch.zeros((b, 1), dtype=torch.long, device=device)
            mask = torch.ones((b, context), dtype=torch.long, device=device)
            times = []
            for s in range(steps + 1):  # the first step warms up
                mask = torch.cat([mask, mask.new_ones((b, 1))], dim=1)
                pos = torch.full((b, 1), context + s, dtype=torch.long, device=device)
                t = time.perf_counter()
                base(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True,
                     logits_to_keep=1)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
            per_row[b] = min(times[1:]) / b
            del cache
    best = min(per_row.values())
    pick = min(b for b, t in per_row.items() if t <= best * (1 + tolerance))
    _PICKED[key] = pick
    if use_cache:
        known[key] = {"batch_size": pick, "ms_per_row_step": {str(b): round(t * 1e3, 3) for b, t in per_row.items()},
                      "context": context, "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
        atomic_write_text(store, json.dumps(known, indent=1))
    return pick


def resolve_batch_size(batch_size: int | str, model: Any) -> int:
    """``batch_size`` itself, or :func:`pick_batch_size` for ``"auto"``."""
    if batch_size == "auto":
        return pick_batch_size(model)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")
    return batch_size


def generate_texts(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int | str,
                   cache_path: str | os.PathLike | None = None, desc: str = "generate",
                   stats: dict[str, Any] | None = None, progress: bool = True,
                   share_prefix: bool = True) -> list[str]:
    """Greedy continuations of ``prompts`` (the echoed prompt removed), in input order.

    ``cache_path``: a JSONL file of finished rows for this model/adapter/format/decoding
    key-set (see :func:`generation_cache_path`); rows already there are reused and
    new rows are appended and flushed after every batch. ``stats``, when a dict, is
    filled with ``cached``, ``generated`` (unique prompts), ``seconds`` and ``rows_per_s``.
    ``batch_size``: rows decoded together, or ``"auto"`` for :func:`pick_batch_size`'s
    measured choice for this machine (outputs do not depend on it).
    ``share_prefix``: encode the prompt start that a batch's rows share once (see
    :func:`_greedy_batch`); same outputs, much less work when prompts share an instruction.
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
                                        stops=stops, pad_id=pad_id, share_prefix=share_prefix, stats=work)
                    lines = []
                    for j, i in enumerate(idx):
                        work["new_tokens"] += len(new[j])
                        text, hit = _decode_row(tokenizer, new[j], stop_set)
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
        from srllm.perf import log_work

        log_work("generation", seconds, rows=len(todo), cached_rows=len(prompts) - len(todo), desc=desc,
                 new_tokens=work["new_tokens"])
    return [done[k] for k in keys]


# --------------------------------------------------------------------------- methods


def _text_of(item: Any, i: int) -> str:
    if isinstance(item, str):
        text = item
    elif isinstance(item, dict):
        text = item.get("text")
    else:
        text = getattr(item, "text", None)
    if not isinstance(text, str) or not text.strip():
        raise SrllmError(f"item {i}: field 'text' is missing or empty")
    return text


def _resolve_profile(profile: Any) -> Any:
    from srllm.profiles import Profile, get_profile

    if profile is None:
        return get_profile()
    if isinstance(profile, Profile):
        return profile
    return get_profile(str(profile))


def default_shots_pool(seed: int = 42) -> list[Any]:
    """The train split of the bundled CMD sample, where demonstrations come from."""
    try:
        from srllm.data import load_sample, split_records
    except ImportError as exc:
        raise SrllmError("k-shot prompting needs a shots pool; srllm.data (load_sample/split_records) is not "
                         f"available here ({exc}); pass shots_pool=...") from None
    return list(split_records(load_sample("cmd"), seed=seed)["train"])


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    tokenizer: Any
    model_name: str
    adapter_dir: str | None
    adapter_id: str | None
    adapter_type: str | None


def adapter_type(adapter_dir: str | os.PathLike) -> str:
    """The peft type of an adapter folder (``LORA``, ``PREFIX_TUNING``, ...)."""
    cfg = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    return str(cfg.get("peft_type", "")).upper()


@functools.lru_cache(maxsize=2)
def _load_cached(model_name: str, adapter_dir: str | None, adapter_id: str | None, device: str) -> LoadedModel:
    from srllm.models import load_model

    model, tok = load_model(model_name, device=device)
    kind = None
    if adapter_dir is not None:
        from peft import PeftModel

        kind = adapter_type(adapter_dir)
        try:
            model = PeftModel.from_pretrained(model, adapter_dir)
        except Exception as exc:  # shape mismatch, wrong base model, corrupt files
            raise SrllmError(f"cannot load adapter {adapter_dir} on model {model_name!r}: {exc}") from exc
        if kind == "LORA":
            # Folding LoRA into the weights makes decoding as fast as the base model.
            model = model.merge_and_unload()
    model.eval()
    return LoadedModel(model, tok, model_name, adapter_dir, adapter_id, kind)


def load_for_generation(model_name: str, adapter_dir: str | os.PathLike | None = None,
                        device: str = "cpu") -> LoadedModel:
    """Base model (plus adapter, if given) ready for decoding; the last two loads are kept in memory."""
    a_dir = str(Path(adapter_dir).resolve()) if adapter_dir is not None else None
    a_id = adapter_fingerprint(a_dir) if a_dir is not None else None
    from srllm.models import resolve_device

    return _load_cached(model_name, a_dir, a_id, resolve_device(device))


def build_prompts(texts: Sequence[str], tokenizer: Any, *, method: str, prompt_format: str,
                  shots_pool: Sequence[Any] | None = None, seed: int = 42) -> list[str]:
    """Prompts of one method: its prompt format, with k demonstrations for k-shot prompting."""
    if method not in METHODS:
        raise SrllmError(f"unknown generation method {method!r}; choose one of {METHODS}")
    from srllm.prompts import few_shot_prompts

    k = SHOTS[method]
    pool = (list(shots_pool) if shots_pool is not None else default_shots_pool(seed)) if k else []
    try:
        # The k demonstrations are drawn once (by seed) and shared by every prompt.
        return few_shot_prompts(list(texts), prompt_format, tokenizer, k=k, pool=pool, seed=seed)
    except ValueError as exc:
        raise SrllmError(f"{method}: {exc}") from None


def rewrite(records_or_texts: Iterable[Any], *, model_name: str | None = None,
            adapter_dir: str | os.PathLike | None = None, method: str = "sr_llm", profile: Any = "cpu",
            shots_pool: Sequence[Any] | None = None, seed: int | None = None,
            cache: bool = True, progress: bool = True, stats: dict[str, Any] | None = None) -> list[str]:
    """Safe rewrites of texts (or records with a ``text`` field) by one method of Section 4.5.

    ``method``: ``sr_llm`` (instruction fine-tuned adapter), ``prefix`` (prefix-tuned
    adapter), ``zero_shot``, ``two_shot`` or ``five_shot`` (the base model with k
    demonstrations drawn by ``seed`` from ``shots_pool``, default the train split of the profile's CMD).
    Decoding is greedy with the profile's ``generate`` settings; results are cached.
    """
    if method not in METHODS:
        raise SrllmError(f"unknown generation method {method!r}; choose one of {METHODS}")
    prof = _resolve_profile(profile)
    seed = prof.seed if seed is None else seed
    texts = [_text_of(x, i) for i, x in enumerate(records_or_texts)]
    if method in ("sr_llm", "prefix") and adapter_dir is None:
        raise SrllmError(f"method {method!r} needs a trained adapter folder (adapter_dir=...); "
                         "train one with `srllm train` first")
    if method not in ("sr_llm", "prefix") and adapter_dir is not None:
        raise SrllmError(f"method {method!r} prompts the base model; do not pass an adapter")
    name = model_name or prof.model
    lm = load_for_generation(name, adapter_dir, prof.device)
    if method == "prefix" and lm.adapter_type != "PREFIX_TUNING":
        raise SrllmError(f"method 'prefix' needs a prefix-tuning adapter; {adapter_dir} is {lm.adapter_type}")
    if not texts:
        return []
    if shots_pool is None and SHOTS[method]:
        # Demonstrations come from the train split of the CMD the profile reads (issue 15); for the
        # bundled sample that is default_shots_pool's split.
        from srllm.data.sources import load_dataset_for, source_for

        if source_for(prof, "cmd").kind != "sample":
            p_seed = prof if seed == prof.seed else prof.replace(seed=seed)
            shots_pool = load_dataset_for(p_seed, "cmd").splits["train"]
    prompts = build_prompts(texts, lm.tokenizer, method=method, prompt_format=prof.prompt_format,
                            shots_pool=shots_pool, seed=seed)
    settings = prof.generate
    path = (generation_cache_path(name, lm.adapter_id, prof.prompt_format, settings.max_new_tokens)
            if cache else None)
    return generate_texts(lm.model, lm.tokenizer, prompts, max_new_tokens=settings.max_new_tokens,
                          batch_size=settings.batch_size, cache_path=path, desc=f"rewrite ({method})",
                          stats=stats, progress=progress)


# --------------------------------------------------------------------------- one text


FINISHED_STATUSES = ("finished", "complete", "completed", "done", "ok", "success")


def _adapter_folder(run: Path, manifest: dict[str, Any]) -> Path | None:
    candidates = []
    for key in ("adapter_dir", "adapter", "adapter_path"):
        v = manifest.get(key)
        if isinstance(v, str) and v:
            p = Path(v)
            candidates.append(p if p.is_absolute() else run / p)
    candidates += [run / "adapter", run / "final", run]
    for c in candidates:
        if (c / "adapter_config.json").exists():
            return c
    return None


def _manifest_model(manifest: dict[str, Any]) -> str | None:
    for key in ("model", "model_name", "base_model"):
        if isinstance(manifest.get(key), str):
            return manifest[key]
    for key in ("profile", "config"):
        sub = manifest.get(key)
        if isinstance(sub, dict):
            found = _manifest_model(sub)
            if found:
                return found
    return None


def _matches_model(adapter: Path, manifest: dict[str, Any], model_name: str) -> bool:
    named = _manifest_model(manifest)
    if named is not None:
        return named == model_name
    try:
        base = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, json.JSONDecodeError):
        return False
    return bool(base) and (base == model_name or Path(base).name == model_name)


def latest_adapter(model_name: str | None = None, runs_dir: str | os.PathLike | None = None, *,
                   kind: str | None = None) -> Path | None:
    """The adapter of the newest finished training run under ``cache_dir()/runs``.

    A run counts when its folder has a ``manifest.json`` (with a finished status,
    where the manifest records one) and a peft adapter; with ``model_name``, only
    runs trained on that base model count; with ``kind`` (``LORA`` or ``PREFIX_TUNING``),
    only adapters of that peft type. Newest by the manifest's ``finished_at`` (else its
    modification time).
    """
    root = Path(runs_dir) if runs_dir is not None else cache_dir() / "runs"
    if not root.is_dir():
        return None
    found: list[tuple[float, Path]] = []
    for manifest_path in root.glob("*/manifest.json"):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # a run still being written, or not a run record
        if not isinstance(manifest, dict):
            continue
        status = manifest.get("status")
        if isinstance(status, str) and status.lower() not in FINISHED_STATUSES:
            continue
        adapter = _adapter_folder(manifest_path.parent, manifest)
        if adapter is None:
            continue
        if model_name is not None and not _matches_model(adapter, manifest, model_name):
            continue
        if kind is not None:
            try:
                if adapter_type(adapter) != kind.upper():
                    continue
            except (OSError, json.JSONDecodeError):
                continue
        found.append((_finished_at(manifest, manifest_path), adapter))
    return max(found)[1] if found else None


def _finished_at(manifest: dict[str, Any], path: Path) -> float:
    """When a run finished: its manifest's ``finished_at`` (ISO time) where readable, else the file's mtime."""
    from datetime import datetime

    stamp = manifest.get("finished_at")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            pass
    return path.stat().st_mtime


SR_LLM_LABEL = {"LORA": "SR_LLM (instruction fine-tuned)", "PREFIX_TUNING": "prefix-tuned"}


def profile_adapter(profile: Any = "cpu", method: str | None = None) -> tuple[Path | None, Path]:
    """The adapter of the profile's own training run for ``method`` (default the profile's
    ``train.method``, SR_LLM's QLoRA) and that run's folder, found by its settings hash
    (:func:`srllm.train.profile_run_name`); ``(None, folder)`` when that run has not finished."""
    from srllm.train import profile_run_name

    prof = _resolve_profile(profile)
    run = cache_dir() / "runs" / profile_run_name(prof, method)
    try:
        manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None, run
    if not isinstance(manifest, dict) or manifest.get("status") != "finished":
        return None, run
    return _adapter_folder(run, manifest), run


def how_to_train(profile: Any = "cpu", method: str | None = None) -> str:
    """One sentence: which run is missing and the command that trains it."""
    prof = _resolve_profile(profile)
    m = method or prof.train.method
    name = "SR_LLM" if m in ("qlora", "lora", "dense") else "prefix-tuning"
    return (f"no finished {name} run for profile '{prof.name}' yet; train it with "
            f"`srllm train --profile {prof.name} --method {m}` (the run notebook 02 of the book trains)")


@dataclass(frozen=True)
class DebiasResult:
    text: str
    method: str
    model: str
    adapter_dir: str | None
    run: str | None = None  # the run folder's name (<method>-<settings hash>) when an adapter came from a run
    note: str | None = None  # why no adapter was used, and how to train one


def debias_detail(text: str, adapter_dir: str | os.PathLike | None = None, *, profile: Any = "cpu",
                  progress: bool = False) -> DebiasResult:
    """Rewrite one text and say how.

    With ``adapter_dir``, that adapter. Otherwise the profile's own SR_LLM run (found by
    its settings hash, see :func:`profile_adapter`; a workshop or sweep adapter is used
    only when named). When that run has not been trained, the base model with a 2-shot
    prompt, and ``note`` says how to train the run.
    """
    if not isinstance(text, str) or not text.strip():
        raise SrllmError("debias needs a non-empty text")
    prof = _resolve_profile(profile)
    run_name = note = None
    if adapter_dir is not None:
        adapter = Path(adapter_dir)
    else:
        adapter, run = profile_adapter(prof)
        if adapter is not None:
            run_name = run.name
        else:
            note = how_to_train(prof)
    if adapter is not None:
        method = "prefix" if adapter_type(adapter) == "PREFIX_TUNING" else "sr_llm"
        out = rewrite([text], model_name=prof.model, adapter_dir=adapter, method=method, profile=prof,
                      progress=progress)
    else:
        method = "two_shot"
        out = rewrite([text], model_name=prof.model, method=method, profile=prof, progress=progress)
    return DebiasResult(out[0], method, prof.model, str(adapter) if adapter is not None else None, run_name, note)


def debias(text: str, adapter_dir: str | os.PathLike | None = None, *, profile: Any = "cpu") -> str:
    """Safe rewrite of one text with the default model and the profile's SR_LLM run.

    Without that run the base model is prompted with two demonstrations (the paper's
    2-shot baseline); :func:`debias_detail` reports which was used.
    """
    return debias_detail(text, adapter_dir, profile=profile).text
