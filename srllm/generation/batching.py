"""How many rows to decode together: a profile's number, or ``"auto"``, measured once per machine."""

from __future__ import annotations

import json
import os
import time
from typing import Any, Sequence

from srllm.cache import atomic_write_text, cache_dir, stable_hash
from srllm.generation.kvcache import buffer_cache, decode_attention, device_of, prefix_tokens
from srllm.runrecord import cpu_model

# Batch sizes tried by pick_batch_size ("auto" in a profile's generate.batch_size).
AUTO_BATCH_CANDIDATES = (8, 16, 32, 64)


_PICKED: dict[str, int] = {}

#: Which rule a stored pick was made by; part of its key, so that a pick stored under an earlier
#: rule is measured again rather than reused (1: the smallest candidate within the tolerance;
#: 2: the largest, with the library's attention in the timed steps; 3: the largest, timed with
#: the attention decoding uses, :func:`srllm.generation.kvcache.decode_attention`).
PICK_RULE = 3


def _batch_pick_key(model: Any) -> str:
    import torch


    cfg = model.config.to_dict() if hasattr(model, "config") else {}
    shape = {k: cfg.get(k) for k in ("model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                                     "num_attention_heads", "num_key_value_heads", "vocab_size")}
    dev = device_of(model)
    where = torch.cuda.get_device_name(dev) if getattr(dev, "type", "cpu") == "cuda" else cpu_model()
    return stable_hash(shape, str(next(model.parameters()).dtype), where, os.cpu_count(), torch.get_num_threads(),
                       PICK_RULE, length=16)


def choose_batch_size(per_row: dict[int, float], tolerance: float = 0.1) -> int:
    """The largest batch size whose time per row is within ``tolerance`` of the best (see :func:`pick_batch_size`)."""
    best = min(per_row.values())
    return max(b for b, t in per_row.items() if t <= best * (1 + tolerance))


def pick_batch_size(model: Any, *, candidates: Sequence[int] = AUTO_BATCH_CANDIDATES, context: int = 160,
                    steps: int = 2, tolerance: float = 0.1, use_cache: bool = True) -> int:
    """The decoding batch size for this machine and model shape, from a short measurement.

    For each candidate size b, times ``steps`` one-token decoding steps of b rows over a
    cache of ``context`` positions (filled with random keys and values: the cost does
    not depend on them) and takes the time per row. The pick is the *largest* candidate
    within ``tolerance`` of the best time per row: a batch's rows end at different
    steps, so the rows still decoding fall well below the batch size, and a larger
    batch keeps them nearer the efficient size (and runs one prefill and one shared
    prompt start for more rows). The step measurement cannot see that: on a 2-core AMD
    EPYC it put 32 and 64 rows within 5% of each other, while the 64 prompts of
    ``benchmarks/bench_generate.py`` took 25.1 s in two batches of 32 and 18.4 s in one
    of 64 (the same outputs). Stored per model shape, dtype, device, thread count and
    :data:`PICK_RULE` in ``<cache>/perf/batch-size.json`` (and in memory), so it is
    measured once per machine.
    """
    import torch


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
    n_virtual = prefix_tokens(model)
    base = model.get_base_model() if n_virtual else model
    cfg = base.config
    heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    device, dtype = device_of(model), next(base.parameters()).dtype
    per_row: dict[int, float] = {}
    with torch.inference_mode():
        for b in sorted(set(int(c) for c in candidates)):
            cache = buffer_cache(base, context + steps + 1)
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
                with decode_attention(device):  # the attention decoding steps use
                    base(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True,
                         logits_to_keep=1)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
            per_row[b] = min(times[1:]) / b
            del cache
    pick = choose_batch_size(per_row, tolerance)
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

