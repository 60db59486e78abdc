"""Stage times of the last `make book`, cold (executed) and warm (reused from cache).

Run: ``.venv/bin/python benchmarks/bench_book.py [--profile cpu]``

Reads ``runs/book-runs.jsonl``, which ``srllm book`` appends to for every stage of
every build. Run ``make book`` twice (the second run is the warm rebuild) before
this. It also prints the peak resident memory of the notebook kernels (logged by
``srllm book`` from ``getrusage``). The last line is the ratio cold total / warm total.
"""

from __future__ import annotations

import argparse
import sys

from srllm.perf import BOOK_LOG, book_peak_rss_mib, book_stage_times, read_book_log, record_benchmark


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--log", default=str(BOOK_LOG))
    args = ap.parse_args(argv)
    rows = read_book_log(args.log)
    stages = book_stage_times(rows, profile=args.profile)

    if not stages:
        print(f"no '{args.profile}' runs in {args.log}: run `make book PROFILE={args.profile}` first", file=sys.stderr)
        return 1
    print(f"{'stage':34} {'cold s':>9} {'warm s':>9}")
    for name, t in stages.items():
        fmt = lambda v: f"{v:9.1f}" if v is not None else f"{'-':>9}"  # noqa: E731
        print(f"{name:34} {fmt(t['cold'])} {fmt(t['warm'])}")
    cold = sum(t["cold"] or 0.0 for t in stages.values())
    warm = sum(t["warm"] or 0.0 for t in stages.values())
    missing_warm = [n for n, t in stages.items() if t["warm"] is None]
    print(f"{'total':34} {cold:9.1f} {warm:9.1f}")
    if missing_warm:
        print(f"(no warm time yet for: {', '.join(missing_warm)}; run `make book` again)")
    peak = book_peak_rss_mib(rows, args.profile)
    if peak is not None:
        print(f"peak resident memory of any notebook kernel or build step: {peak:.0f} MiB "
              f"({peak / 1024:.2f} GiB; budget for the cpu book: 8 GiB)")
    ratio = cold / warm if warm else float("nan")
    record_benchmark("book", {"profile": args.profile, "stages": stages, "cold_total_s": cold, "warm_total_s": warm,
                              "kernel_peak_rss_mib": peak},
                     ratio=ratio, ratio_label="cold / warm book time")
    print(f"ratio cold/warm book time: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
