"""Throughput of the offline safety scorer (``offline-proxy``) on 1,000 short texts.

Run: ``.venv/bin/python benchmarks/bench_score.py [--n 1000] [--single 100]``

What is measured, in a fresh temporary cache so nothing is served from an
earlier run:

1. setup: training the bias classifier (cached afterwards, so once per
   machine) and loading the other components (once per process), timed apart
   from scoring;
2. batched: ``scorer.score(texts)`` on N texts (the way the pipeline calls it);
3. one at a time: ``scorer.score([t])`` on a subset with the cache off, the
   naive loop the batching replaces;
4. rerun: the same N texts again, all answered from the cache.

Texts are the bundled samples' short texts (ToxiGen-style statements, job-ad
sentences, CMD safe variations when present), repeated with a numbered suffix
when fewer than N exist, so every text is distinct. The last line is the speed
ratio batched / one at a time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings


def bench_texts(n: int) -> list[str]:
    from srllm.data import load_sample

    pool: list[str] = []
    for name, fields in (("toxigen", ("text",)), ("job_pairs", ("biased", "neutral")), ("cmd", ("safe_variation",))):
        try:
            items = load_sample(name)
        except Exception:  # a sample not written yet simply contributes nothing
            continue
        for it in items:
            for f in fields:
                value = getattr(it, f, None)
                if isinstance(value, str) and value.strip() and len(value.split()) <= 60:
                    pool.append(value)
    pool = list(dict.fromkeys(pool))
    if not pool:
        sys.exit("no bundled sample texts found")
    return [pool[i % len(pool)] + ("" if i < len(pool) else f" #{i // len(pool)}") for i in range(n)]


def bias_classifier(seed: int):
    """The CMD-trained classifier; without the CMD sample, one of the same kind trained on the
    ToxiGen-style sample's stereotyping labels, so the benchmark still pays for the embeddings."""
    from srllm.scoring import ScorerUnavailableError
    from srllm.scoring.bias import train_bias_classifier, train_bias_classifier_from_sample

    try:
        return train_bias_classifier_from_sample(seed=seed), "CMD train split"
    except ScorerUnavailableError:
        from srllm.data import load_sample

        recs = load_sample("toxigen")
        return (train_bias_classifier([r.text for r in recs], ["Yes" if r.stereotyping else "No" for r in recs],
                                      seed=seed), "ToxiGen-style sample (CMD sample missing)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--single", type=int, default=100, help="texts scored one call at a time")
    args = ap.parse_args()
    os.environ["SRLLM_CACHE"] = tempfile.mkdtemp(prefix="bench-score-")
    warnings.simplefilter("ignore")
    from srllm.perf import peak_rss_mib, record_benchmark
    from srllm.scoring import get_scorer, unsafe_rate

    texts = bench_texts(args.n)
    t0 = time.perf_counter()
    clf, trained_on = bias_classifier(seed=42)  # includes loading MiniLM
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scorer = get_scorer("offline-proxy", bias_classifier=clf, progress=False)
    scorer.score(["warm-up: load every component once"])
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    results = scorer.score(texts)
    batched_s = time.perf_counter() - t0
    assert scorer.stats["computed"] == len(set(texts)) + 1

    single = get_scorer("offline-proxy", bias_classifier=clf, progress=False, use_cache=False)
    subset = texts[: args.single]
    t0 = time.perf_counter()
    one_by_one = [single.score([t])[0] for t in subset]
    single_s = time.perf_counter() - t0
    assert all(abs(a.p_unsafe - b.p_unsafe) < 1e-4 for a, b in zip(one_by_one, results))  # same scores either way

    t0 = time.perf_counter()
    scorer.score(texts)
    rerun_s = time.perf_counter() - t0

    batched_rate, single_rate = len(texts) / batched_s, len(subset) / single_s
    print(f"scorer: offline-proxy (PROXY), bias classifier trained on {trained_on}, "
          f"held-out {clf.heldout}")
    print(f"texts: {len(texts)} (mean {sum(len(t.split()) for t in texts) / len(texts):.1f} words); "
          f"unsafe rate {100 * unsafe_rate(results):.1f}%; torch threads {__import__('torch').get_num_threads()}")
    print(f"bias classifier: trained in {train_s:.1f} s incl. loading MiniLM (once per machine: cached by data hash)")
    print(f"other components loaded in {setup_s:.1f} s (once per process)")
    print(f"batched: {batched_s:.2f} s = {batched_rate:.0f} texts/s for {len(texts)} texts "
          f"({train_s + setup_s + batched_s:.1f} s from a cold start with training)")
    print(f"one at a time ({len(subset)} texts, no cache): {single_s:.2f} s = {single_rate:.1f} texts/s")
    print(f"rerun from cache: {rerun_s:.3f} s = {len(texts) / rerun_s:.0f} texts/s")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")
    record_benchmark("score", {
        "scorer": "offline-proxy (proxy)", "texts": len(texts), "batched_texts_per_s": batched_rate,
        "single_texts_per_s": single_rate, "rerun_texts_per_s": len(texts) / rerun_s,
        "classifier_train_s": train_s, "setup_s": setup_s, "batched_s": batched_s},
        ratio=batched_rate / single_rate, ratio_label="batched / one text per call (texts/s)")
    print(f"ratio batched/one-at-a-time texts/s: {batched_rate / single_rate:.1f}x")


if __name__ == "__main__":
    main()
