"""Batched generation (``srllm.generation.generate_texts``) against the paper authors' way of generating.

Run: ``.venv/bin/python benchmarks/bench_generate.py [--n 64] [--batch-size auto] [--max-new-tokens N]``

Both sides decode the same prompts with the same model (SmolLM2-135M-Instruct by
default), greedily, with the same stop tokens and the same ``max_new_tokens``:

* **theirs** - the authors' public inference script's pattern: a loop with one
  ``model.generate`` call per text, no batching and therefore no padding;
* **ours** - :func:`srllm.generation.generate_texts`: prompts tokenised once, sorted
  by length; per batch the prompt start shared by every row encoded once, the
  rows' remainders in one padded pass, a preallocated KV cache, each row
  finishing at its own end-of-sequence token, each next token picked by the
  output layer screened in bfloat16 and decided in float32 where the CPU has
  native bfloat16 (:mod:`srllm.generation.greedy_head`; the float32 layer's
  tokens), and, once a batch is down to a few rows, the tokens each row is likely
  to copy from its prompt checked in one pass (:mod:`srllm.generation.drafting`;
  the greedy tokens); the batch size measured for this
  machine (``--batch-size auto``, :func:`srllm.generation.pick_batch_size`, measured
  once before the timing and stored). No cache file, so no output is reused.

Prompts are the zero-shot chat prompts of the first N texts of the CMD test
split (the bundled sample; topped up from dev/train only if the test split is
smaller than N). The machine may be shared and noisy, so the two sides run
interleaved: the prompts are cut into chunks, and in each chunk ours decodes the
whole chunk between theirs' first half and theirs' second half, so that a drift in
the machine's speed during the chunk weighs on both sides alike; each side's time
is the sum over chunks. A chunk is never smaller than ours' batch size, so that ours
decodes the batches it decodes in the book (with 64 prompts and the measured batch
of 64, one chunk). Theirs' per-text calls do not depend on each other, so splitting
them changes nothing but when they run.

Also reported, to say how far a float32 batched decoder could go on this machine:
the *float32 ceiling*, the least time in which the decoder's linear layers alone could
compute every token ours must compute (the prompt tokens, the shared start once, and
the new tokens), at the best float32 matrix-product rate measured in the same run with
the model's own weights (:func:`linear_rate`). Attention, normalisation and the output
layer are not counted, so at that rate no float32 implementation of ours gets past the
ceiling's speed-up over theirs (a faster matrix product than the one measured would);
ours' share of it shows how much of the gap is the machine and how much the code.

Reported: share of identical outputs (for every differing row, the step where
the two first part and the top-1/top-2 logit gap there, to tell a floating-point
near-tie from a real fault), rows/s and new tokens/s of each side, peak resident
memory of each side (sampled from /proc) and of the process
(``resource.getrusage``). The last line is the speed-up, ours over theirs, with
the share of identical outputs.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time


def bench_prompts(n: int, tok, fmt: str, seed: int) -> tuple[list[str], str]:
    from srllm.data import load_sample, split_records
    from srllm.prompts import format_prompt

    splits = split_records(load_sample("cmd"), seed=seed)
    texts = [r.text for r in splits["test"]]
    source = "CMD test split"
    if len(texts) < n:
        extra = [r.text for r in list(splits["dev"]) + list(splits["train"])]
        source += f" + {n - len(texts)} dev/train texts (test split has {len(texts)})"
        texts += extra
    texts = texts[:n]
    if len(texts) < n:
        sys.exit(f"only {len(texts)} CMD texts available; asked for {n}")
    return [format_prompt(t, fmt, tok) for t in texts], source


def theirs(model, tok, prompts: list[str], max_new_tokens: int, stops: list[int]) -> list[list[int]]:
    """One model.generate call per text: no batching, no padding (the authors' inference loop)."""
    import torch

    outs = []
    with torch.inference_mode():
        for p in prompts:
            enc = tok(p, return_tensors="pt", add_special_tokens=False)
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 eos_token_id=stops, pad_token_id=tok.pad_token_id)
            outs.append(out[0, enc["input_ids"].shape[1]:].tolist())
    return outs


def linear_rate(model, rows: tuple[int, ...] = (64, 128, 256, 512), repeats: int = 2) -> dict:
    """Best float32 rate (GFLOP/s) of the decoder's own linear layers, and their FLOPs per token.

    Every ``torch.nn.Linear`` of the decoder (not the output layer) is applied to a
    ``(rows, in_features)`` float32 input, layer after layer as in a forward pass, so
    the weights stream from memory as they do in decoding; the best pass over the
    row counts tried is kept. FLOPs per token: two per weight.
    """
    import torch

    linears = [m for m in model.get_decoder().modules() if isinstance(m, torch.nn.Linear)]
    flops_per_token = 2 * sum(m.weight.numel() for m in linears)
    best = {"gflops_per_s": 0.0, "rows": 0}
    with torch.inference_mode():
        for n in rows:
            xs = {m.in_features: torch.randn(n, m.in_features) for m in linears}
            for m in linears:  # warm-up: first-call costs out of the timing
                m(xs[m.in_features])
            for _ in range(repeats):
                t = time.perf_counter()
                for m in linears:
                    m(xs[m.in_features])
                rate = n * flops_per_token / (time.perf_counter() - t) / 1e9
                if rate > best["gflops_per_s"]:
                    best = {"gflops_per_s": rate, "rows": n}
    return {**best, "flops_per_token": flops_per_token}


def float32_ceiling(tokens: int, rate: dict, theirs_seconds: float, ours_seconds: float) -> dict:
    """The least time the decoder's linear layers need for ``tokens`` at ``rate``, and what it bounds.

    ``ceiling_ratio``: theirs' time over that least time, the most a float32 batched decoder whose
    matrix products run at ``rate`` can gain over theirs; ``ours_share_of_ceiling``: ours' speed-up
    as a share of it.
    """
    seconds = tokens * rate["flops_per_token"] / (rate["gflops_per_s"] * 1e9)
    ceiling = theirs_seconds / seconds
    return {"ceiling_tokens": tokens, "ceiling_gflop": tokens * rate["flops_per_token"] / 1e9,
            "ceiling_gemm_gflops_per_s": rate["gflops_per_s"], "ceiling_gemm_rows": rate["rows"],
            "ceiling_seconds": seconds, "ceiling_ratio": ceiling,
            "ours_share_of_ceiling": (theirs_seconds / ours_seconds) / ceiling}


def first_divergence(model, tok, prompt: str, ours_text: str, max_new_tokens: int, stops: list[int]):
    """(step, top-1 minus top-2 logit at that step on the unbatched path) where ours first differs."""
    import torch

    with torch.inference_mode():
        enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stops,
                             pad_token_id=tok.pad_token_id, output_scores=True, return_dict_in_generate=True)
    ids = out.sequences[0, enc["input_ids"].shape[1]:].tolist()
    mine = tok(ours_text, add_special_tokens=False)["input_ids"]
    step = next((i for i, (a, b) in enumerate(zip(ids, mine)) if a != b), min(len(ids), len(mine)))
    step = min(step, len(out.scores) - 1)
    top = out.scores[step][0].float().topk(2).values
    return step, float(top[0] - top[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=64, help="number of prompts (at least 64 for the acceptance run)")
    ap.add_argument("--batch-size", default="auto", help="rows per batch for ours, or 'auto' (measured)")
    ap.add_argument("--max-new-tokens", type=int, default=None,
                    help="new tokens per row (default: the cpu profile's generate.max_new_tokens, what the book uses)")
    ap.add_argument("--chunks", type=int, default=2, help="interleaving chunks (per chunk: theirs' first half, ours, theirs' second half)")
    ap.add_argument("--format", default="chat")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, help="torch threads for both sides (default: torch's choice)")
    ap.add_argument("--no-share-prefix", action="store_true", help="ours without encoding the shared prompt start once")
    ap.add_argument("--no-screen-head", action="store_true",
                    help="ours with the plain float32 output layer (no bfloat16 screening)")
    ap.add_argument("--no-draft", action="store_true", help="ours without prompt-lookup drafts (one token a pass)")
    args = ap.parse_args()
    if args.max_new_tokens is None:
        from srllm.profiles import get_profile

        args.max_new_tokens = get_profile("cpu").generate.max_new_tokens

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from srllm.generation import generate_texts, resolve_batch_size, stop_token_ids
    from srllm.generation.decoding import decode_row
    from srllm.models import load_model
    from srllm.perf import RssSampler, record_benchmark

    t0 = time.perf_counter()
    model, tok = load_model(args.model, device="cpu")
    model.eval()
    load_s = time.perf_counter() - t0
    prompts, source = bench_prompts(args.n, tok, args.format, args.seed)
    stops = stop_token_ids(tok, model)
    n_tokens = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in prompts]

    t = time.perf_counter()
    batch_size = resolve_batch_size(args.batch_size if args.batch_size == "auto" else int(args.batch_size), model)
    pick_s = time.perf_counter() - t
    # One short warm-up of each path so that neither pays first-call costs inside the timing.
    theirs(model, tok, prompts[:1], 2, stops)
    generate_texts(model, tok, prompts[:2], max_new_tokens=2, batch_size=2, progress=False)

    # A chunk never splits one of ours' batches: ours is measured at the batch size it uses in the book.
    chunk = max(-(-len(prompts) // max(1, args.chunks)), batch_size)
    ours_out: list[str] = []
    theirs_ids: list[list[int]] = []
    t_ours = t_theirs = 0.0
    ours_tokens = screened = uncertified = prefill_tokens = drafted = kept_drafts = passes = 0
    prefill_s = decode_s = 0.0
    with RssSampler() as rss:
        for start in range(0, len(prompts), chunk):
            part = prompts[start:start + chunk]
            half = len(part) // 2
            rss.phase = "theirs"
            t = time.perf_counter()
            theirs_ids += theirs(model, tok, part[:half], args.max_new_tokens, stops)
            t_theirs += time.perf_counter() - t
            rss.phase = "ours"
            t = time.perf_counter()
            st: dict = {}
            ours_out += generate_texts(model, tok, part, max_new_tokens=args.max_new_tokens,
                                       batch_size=batch_size, progress=False, stats=st,
                                       share_prefix=not args.no_share_prefix,
                                       screen_head=not args.no_screen_head, draft=not args.no_draft)
            drafted += st.get("drafted_tokens", 0)
            kept_drafts += st.get("accepted_draft_tokens", 0)
            passes += st.get("decode_steps", 0)
            ours_tokens += st["new_tokens"]
            prefill_tokens += st.get("prefill_tokens", 0)
            prefill_s += st.get("prefill_seconds", 0.0)
            decode_s += st.get("decode_seconds", 0.0)
            screened += st.get("screened_rows", 0)
            uncertified += st.get("screen_uncertified_k32", 0)
            t_ours += time.perf_counter() - t
            rss.phase = "theirs"
            t = time.perf_counter()
            theirs_ids += theirs(model, tok, part[half:], args.max_new_tokens, stops)
            t_theirs += time.perf_counter() - t
            rss.phase = None
            print(f"  chunk {start // chunk + 1}: {len(part)} prompts, theirs {t_theirs:.1f} s, ours {t_ours:.1f} s "
                  "(running totals)", file=sys.stderr)

    theirs_out = [decode_row(tok, ids, set(stops))[0] for ids in theirs_ids]
    same = [a == b for a, b in zip(ours_out, theirs_out)]
    share = sum(same) / len(same)
    hit_eos = sum(any(t in set(stops) for t in ids) for ids in theirs_ids)
    new_tokens = sum(next((i for i, t in enumerate(ids) if t in set(stops)), len(ids)) for ids in theirs_ids)
    r_ours, r_theirs = len(prompts) / t_ours, len(prompts) / t_theirs
    # Each side's new tokens, counted up to and including its stop token, as each side generated them.
    theirs_tokens = sum(len(ids) for ids in theirs_ids)
    tok_ours, tok_theirs = ours_tokens / t_ours, theirs_tokens / t_theirs
    # Measured after both sides, alone: the best float32 rate of the model's own linear layers.
    ceiling = float32_ceiling(prefill_tokens + ours_tokens, linear_rate(model), t_theirs, t_ours)

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores visible, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); load average {os.getloadavg()[0]:.1f} at the end (shared machine)")
    print(f"model: {args.model} (loaded in {load_s:.1f} s); prompts: {len(prompts)} from the {source}, "
          f"{args.format} format, {min(n_tokens)}-{max(n_tokens)} tokens (mean {sum(n_tokens) / len(n_tokens):.0f})")
    print(f"decoding: greedy, max_new_tokens={args.max_new_tokens}, stop ids {stops}; {hit_eos}/{len(prompts)} rows "
          f"stopped at EOS, {new_tokens} new tokens in all (unbatched count)")
    shared = "off" if args.no_share_prefix else "on"
    print(f"ours: batch size {batch_size} ({'measured for this machine in ' + f'{pick_s:.1f} s, or read from the cache' if args.batch_size == 'auto' else 'given'}), "
          f"length-sorted, shared prompt start encoded once: {shared}; both sides interleaved in "
          f"{-(-len(prompts) // chunk)} chunk(s) of up to {chunk} prompts")
    print("ours' output layer: " + (f"screened in bfloat16, decided in float32 for {screened} token choices "
                                     f"({uncertified} needed more than 32 candidates)" if screened else
                                     "plain float32 (no screening: turned off, or no native bfloat16 here)"))
    print("ours' drafts: " + (f"{kept_drafts} of {drafted} drafted tokens accepted, {passes} decoding passes"
                              if not args.no_draft else "off (one token a pass)"))
    print(f"identical outputs: {sum(same)}/{len(same)} = {share:.1%} (target >= 95%)")
    for i, ok in enumerate(same):
        if not ok:
            step, gap = first_divergence(model, tok, prompts[i], ours_out[i], args.max_new_tokens, stops)
            print(f"  row {i}: first differs at new token {step}; top-1/top-2 logit gap there {gap:.2e} "
                  f"({'near-tie' if gap < 1e-3 else 'NOT a near-tie: investigate'})")
    print(f"theirs (one generate per text): {t_theirs:.1f} s = {r_theirs:.2f} rows/s, {tok_theirs:.1f} new tokens/s, "
          f"peak RSS {rss.peaks.get('theirs', 0) / 1024:.0f} MiB")
    print(f"ours (batched generate_texts):  {t_ours:.1f} s = {r_ours:.2f} rows/s, {tok_ours:.1f} new tokens/s, "
          f"peak RSS {rss.peaks.get('ours', 0) / 1024:.0f} MiB; of its time, {prefill_s:.1f} s encoding the prompts "
          f"and {decode_s:.1f} s decoding")
    print(f"float32 ceiling: the decoder's linear layers alone need {ceiling['ceiling_gflop']:.0f} GFLOP for the "
          f"{ceiling['ceiling_tokens']} tokens ours computes ({prefill_tokens} prompt, {ours_tokens} new), at least "
          f"{ceiling['ceiling_seconds']:.1f} s at this machine's best float32 rate for them "
          f"({ceiling['ceiling_gemm_gflops_per_s']:.0f} GFLOP/s measured at {ceiling['ceiling_gemm_rows']} rows); that "
          f"bounds a float32 batched decoder here at about {ceiling['ceiling_ratio']:.1f}x theirs (attention, "
          f"normalisation and the output layer not counted), and ours reaches {ceiling['ours_share_of_ceiling']:.0%} "
          "of that bound")
    print(f"process peak RSS (getrusage): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    record_benchmark("generate", {
        "model": args.model, "prompts": len(prompts), "max_new_tokens": args.max_new_tokens,
        "batch_size": batch_size, "batch_size_setting": args.batch_size, "identical_share": share,
        "identical_rows": sum(same), "theirs_rows_per_s": r_theirs, "ours_rows_per_s": r_ours,
        "theirs_tokens_per_s": tok_theirs, "ours_tokens_per_s": tok_ours, "theirs_new_tokens": theirs_tokens,
        "ours_new_tokens": ours_tokens, "theirs_seconds": t_theirs, "ours_seconds": t_ours,
        "peak_rss_mib": rss.peaks_mib(), "load_average_end": os.getloadavg()[0],
        "ours_screened_head": bool(screened), "ours_screened_choices": screened,
        "ours_choices_beyond_32_candidates": uncertified, "ours_share_prefix": not args.no_share_prefix,
        "theirs_settings": "model.generate per text, float32, greedy, same stop ids and max_new_tokens",
        "ours_draft": not args.no_draft, "ours_drafted_tokens": drafted, "ours_accepted_draft_tokens": kept_drafts,
        "ours_decode_passes": passes,
        "ours_prefill_tokens": prefill_tokens, "ours_prefill_seconds": prefill_s, "ours_decode_seconds": decode_s,
        **ceiling},
        ratio=r_ours / r_theirs, ratio_label="batched generate_texts / one generate per text (rows/s)")
    print(f"speed-up ours/theirs: {r_ours / r_theirs:.2f}x rows/s (target >= 10x); identical outputs "
          f"{sum(same)}/{len(same)} = {share:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
