"""Stage times of the last `make book`, cold (executed) and warm (reused from cache), and where cold time goes.

Run: ``.venv/bin/python benchmarks/bench_book.py [--profile cpu]``

Reads ``runs/book-runs.jsonl``, which ``srllm book`` appends to for every stage of
every build. Run ``make book`` twice (the second run is the warm rebuild) before
this. For every stage's latest cold run it also reports the seconds spent in
generation, training and scoring: generation and scoring calls that computed
something log themselves to ``<cache>/perf/work-log.jsonl`` (:func:`srllm.perf.log_work`),
training runs record their wall time in their manifests; each is counted for the
stage whose time window it ended in (:func:`srllm.perf.stage_work`). It prints the
share of the cold total each kind takes, and the peak resident memory of the
notebook kernels (logged by ``srllm book`` from ``getrusage``). The last line is
the ratio cold total / warm total.
"""

from __future__ import annotations

import argparse
import sys

from srllm.perf import (BOOK_LOG, WORK_KINDS, book_peak_rss_mib, book_stage_times, read_book_log, read_work_log,
                        record_benchmark, stage_work, training_work)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--log", default=str(BOOK_LOG))
    ap.add_argument("--work-log", help="generation/scoring work log (default: <cache>/perf/work-log.jsonl)")
    ap.add_argument("--runs-dir", help="training runs with manifests (default: <cache>/runs)")
    args = ap.parse_args(argv)
    rows = read_book_log(args.log)
    stages = book_stage_times(rows, profile=args.profile)

    if not stages:
        print(f"no '{args.profile}' runs in {args.log}: run `make book PROFILE={args.profile}` first", file=sys.stderr)
        return 1
    work = stage_work(rows, read_work_log(args.work_log) + training_work(args.runs_dir), profile=args.profile)
    fmt = lambda v: f"{v:9.1f}" if v is not None else f"{'-':>9}"  # noqa: E731
    print(f"{'stage':34} {'cold s':>9} {'warm s':>9} " + " ".join(f"{k:>10}" for k in WORK_KINDS))
    for name, t in stages.items():
        w = work.get(name)
        print(f"{name:34} {fmt(t['cold'])} {fmt(t['warm'])} "
              + " ".join(f"{w[k]:10.1f}" if w else f"{'-':>10}" for k in WORK_KINDS))
    cold = sum(t["cold"] or 0.0 for t in stages.values())
    warm = sum(t["warm"] or 0.0 for t in stages.values())
    totals = {k: sum(w[k] for w in work.values()) for k in WORK_KINDS}
    shares = {k: (v / cold if cold else None) for k, v in totals.items()}
    missing_warm = [n for n, t in stages.items() if t["warm"] is None]
    print(f"{'total':34} {cold:9.1f} {warm:9.1f} " + " ".join(f"{totals[k]:10.1f}" for k in WORK_KINDS))
    print("share of the cold total: " + ", ".join(f"{k} {shares[k]:.0%}" for k in WORK_KINDS if shares[k] is not None)
          + (f", everything else (kernel start-up, imports, model loading, tables, plots) "
             f"{1 - sum(shares.values()):.0%}" if cold else ""))
    if missing_warm:
        print(f"(no warm time yet for: {', '.join(missing_warm)}; run `make book` again)")
    peak = book_peak_rss_mib(rows, args.profile)
    if peak is not None:
        print(f"peak resident memory of any notebook kernel or build step: {peak:.0f} MiB "
              f"({peak / 1024:.2f} GiB; budget for the cpu book: 8 GiB)")
    ratio = cold / warm if warm else float("nan")
    record_benchmark("book", {"profile": args.profile, "stages": stages, "cold_total_s": cold, "warm_total_s": warm,
                              "work_s": work, "work_total_s": totals, "work_share_of_cold": shares,
                              "kernel_peak_rss_mib": peak},
                     ratio=ratio, ratio_label="cold / warm book time")
    print(f"ratio cold/warm book time: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
