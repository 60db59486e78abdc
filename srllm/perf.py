"""Benchmark records: where the benchmarks write their results and how the book reads them.

Each script in ``benchmarks/`` measures two things side by side in one run and
calls :func:`record_benchmark` with its numbers; the record also carries a
description of the machine, so a table in the book always says where it was
measured. :func:`book_stage_times` turns the run log that ``srllm book`` appends
to (``runs/book-runs.jsonl``) into per-stage cold and warm times.

:func:`log_work` is the other half: generation and scoring append one line per
call that computed something (not for rows served from a cache) to
``<cache>/perf/work-log.jsonl``; :func:`stage_work` adds the training runs'
own wall times (their manifests) and attributes all of it to the book stage
whose time window it fell in, so ``benchmarks/bench_book.py`` can say what
share of a cold book is generation, training and scoring.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

from srllm.cache import atomic_write_text, cache_dir
from srllm.runrecord import cpu_model

BENCH_DIR = Path("runs/benchmarks")
COMMITTED_DIR = Path("benchmarks/results")
BOOK_LOG = Path("runs/book-runs.jsonl")
WORK_KINDS = ("generation", "training", "scoring")


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, memory, GPU, library versions."""
    import torch

    info: dict[str, Any] = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "memory_gib": _memory_gib(),
        "platform": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mib() -> float:
    """Largest peak resident memory of any finished child process (e.g. a notebook kernel)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


class RssSampler:
    """Peak resident memory per named phase of one process, sampled from ``/proc/self/status``.

    ``getrusage`` only knows the peak of the whole process; a benchmark that runs two
    sides in one process sets ``sampler.phase = "ours"`` / ``"theirs"`` around each
    side to get a peak for each (``peaks_mib``). Linux only; elsewhere peaks stay 0.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.phase: str | None = None
        self.peaks: dict[str, int] = {}  # KiB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_kib() -> int:
        """This process's current resident memory in KiB (``VmRSS``); 0 where ``/proc`` cannot be read."""
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.phase is not None:
                self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), self.rss_kib())
            time.sleep(self.interval)

    def peaks_mib(self) -> dict[str, float]:
        """Peak resident memory of each phase, in MiB rounded to 0.1."""
        return {k: round(v / 1024, 1) for k, v in self.peaks.items()}

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def record_benchmark(name: str, metrics: dict[str, Any], *, ratio: float, ratio_label: str,
                     root: str | os.PathLike = ".") -> Path:
    """Write ``runs/benchmarks/<name>.json`` with the metrics, the headline ratio and the machine."""
    record = {"name": name, "time": time.strftime("%Y-%m-%d %H:%M:%S"), "ratio": ratio,
              "ratio_label": ratio_label, "peak_rss_mib": round(peak_rss_mib(), 1),
              "metrics": metrics, "machine": machine_info()}
    path = Path(root) / BENCH_DIR / f"{name}.json"
    atomic_write_text(path, json.dumps(record, indent=2, default=str))
    return path


# What a record's ``source`` says: short, since the performance page's table is narrow and its prose names
# the folders (runs/benchmarks/ for local records, benchmarks/results/ for committed ones).
LOCAL_SOURCE = "local"
COMMITTED_SOURCE = "committed"


def load_benchmarks(root: str | os.PathLike = ".") -> list[dict[str, Any]]:
    """One record per benchmark, by name, each with its ``source``.

    A record written on this machine (``runs/benchmarks/``, not in git) is shown
    whenever it exists, labelled ``local``; otherwise the maintainers' committed
    one (``benchmarks/results/``), so a fresh clone's book still shows measured
    numbers. The choice never compares the records' time stamps: a machine whose
    clock is behind would otherwise hide its own, newer run behind the committed
    record (issue 14, item 9).
    """
    chosen: dict[str, dict[str, Any]] = {}
    # Committed first, local second: a local record replaces the committed one of the same name.
    for folder, source in ((Path(root) / COMMITTED_DIR, COMMITTED_SOURCE), (Path(root) / BENCH_DIR, LOCAL_SOURCE)):
        for p in sorted(folder.glob("*.json")) if folder.exists() else []:
            try:
                rec = json.loads(p.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{p}: a benchmark record is a JSON object, found {type(rec).__name__}")
            rec["source"] = source
            chosen[rec.get("name", p.stem)] = rec
    return [chosen[name] for name in sorted(chosen)]


def read_book_log(path: str | os.PathLike = BOOK_LOG) -> list[dict[str, Any]]:
    """Entries of the ``srllm book`` run log (one per stage and run); [] when absent."""
    p = Path(path)
    if not p.exists():
        return []
    rows = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: line {n} is not valid JSON ({exc.msg})") from None
    return rows


def book_stage_times(rows: list[dict[str, Any]], profile: str | None = None) -> dict[str, dict[str, float | None]]:
    """Per stage: the latest cold time (executed) and the latest warm time (reused from cache).

    ``profile`` keeps only that profile's runs. The jupyter-book stage always runs and ends
    a build: its cold time is its latest time in a build that executed the most notebooks
    (a cold build writes every page; a later build that re-executed one notebook does not
    count as cold), its warm time its latest time in a build where every notebook came
    from the cache.
    """
    out: dict[str, dict[str, float | None]] = {}
    executed = 0  # notebooks executed in the current build
    most = 0  # most notebooks executed in any build so far
    for r in sorted(rows, key=lambda r: r.get("time", 0)):
        if profile and r.get("profile") != profile:
            continue
        stage = out.setdefault(r["stage"], {"cold": None, "warm": None})
        if r["stage"] == "jupyter-book":
            if executed == 0:
                stage["warm"] = r["seconds"]
            elif executed >= most:
                stage["cold"], most = r["seconds"], executed
            executed = 0
        else:
            stage["warm" if r.get("cached") else "cold"] = r["seconds"]
            executed += 0 if r.get("cached") else 1
    return out


def book_peak_rss_mib(rows: list[dict[str, Any]], profile: str | None = None) -> float | None:
    """Peak memory of any notebook kernel or build step in the build whose cold times
    :func:`book_stage_times` reports (``srllm book`` log rows), or None.

    Each build's rows log the largest child of that build's own process, so builds are told
    apart by their closing jupyter-book row (or, for an interrupted build, by a stage that
    starts again): the build counted is the latest one that executed
    the most notebooks (the cold build), else the latest build. An older build's peak, made by
    other code or settings, must not stand for the current one.
    """
    builds: list[tuple[int, float]] = []  # (notebooks executed, peak) per build
    executed, peak, seen = 0, None, set()
    for r in sorted(rows, key=lambda r: r.get("time", 0)):
        if profile and r.get("profile") != profile:
            continue
        if r.get("stage") in seen and peak is not None:  # a stage again: an interrupted build ended before it
            builds.append((executed, peak))
            executed, peak, seen = 0, None, set()
        seen.add(r.get("stage"))
        if r.get("children_peak_rss_mib") is not None:
            peak = max(peak or 0.0, r["children_peak_rss_mib"])
        if r.get("stage") == "jupyter-book":
            builds.append((executed, peak))
            executed, peak, seen = 0, None, set()
        elif not r.get("cached"):
            executed += 1
    if peak is not None:  # an unfinished build at the end of the log
        builds.append((executed, peak))
    if not builds:
        return None
    most = max(n for n, _ in builds)
    return [p for n, p in builds if n == most][-1] if most else builds[-1][1]


def work_log_path() -> Path:
    """``<cache>/perf/work-log.jsonl``: one line per computing call of generation or scoring."""

    return cache_dir() / "perf" / "work-log.jsonl"


def log_work(kind: str, seconds: float, **info: Any) -> None:
    """Append one line ``{time, kind, seconds, pid, **info}`` to :func:`work_log_path`.

    ``time`` is the end of the work (``time.time()``), as in the book run log, so the
    two can be lined up. Logging must never break the work it describes: an
    unwritable log is skipped with a warning.
    """
    if kind not in WORK_KINDS:
        raise ValueError(f"unknown work kind {kind!r}; choose one of {WORK_KINDS}")
    row = {"time": time.time(), "kind": kind, "seconds": round(float(seconds), 3), "pid": os.getpid(), **info}
    try:
        path = work_log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:  # one short line per write: appends do not interleave
            fh.write(json.dumps(row, default=str) + "\n")
    except OSError as exc:
        print(f"srllm.perf: could not log work ({exc})", file=sys.stderr)


def read_work_log(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Rows of the work log (see :func:`log_work`); [] when absent. A bad line names the file and line."""
    return read_book_log(work_log_path() if path is None else path)


def training_work(runs_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """One work row per finished training run under ``<cache>/runs``: its manifest's ``finished_at``
    and ``wall_seconds`` (training is logged by the runs themselves, not by :func:`log_work`)."""
    from datetime import datetime

    root = Path(runs_dir) if runs_dir is not None else cache_dir() / "runs"
    rows = []
    for m in sorted(root.glob("*/manifest.json")) if root.is_dir() else []:
        try:
            man = json.loads(m.read_text(encoding="utf-8"))
            end = datetime.fromisoformat(man["finished_at"]).timestamp()
            seconds = float(man["wall_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unfinished, or not a run folder
        rows.append({"time": end, "kind": "training", "seconds": seconds, "run": m.parent.name})
    return rows


def stage_work(book_rows: list[dict[str, Any]], work_rows: list[dict[str, Any]],
               profile: str | None = None) -> dict[str, dict[str, float]]:
    """Seconds of each work kind inside each stage's latest cold run.

    A stage's cold run spans ``[time - seconds, time]`` of its book-log row; a
    work row counts for the stage whose window holds the work's end time.
    """
    windows: dict[str, tuple[float, float]] = {}
    for r in sorted(book_rows, key=lambda r: r.get("time", 0)):
        if (profile and r.get("profile") != profile) or r.get("cached") or r["stage"] == "jupyter-book":
            continue
        windows[r["stage"]] = (float(r["time"]) - float(r["seconds"]), float(r["time"]))
    out = {stage: {k: 0.0 for k in WORK_KINDS} for stage in windows}
    for w in work_rows:
        for stage, (lo, hi) in windows.items():
            if lo <= float(w["time"]) <= hi + 1.0 and w.get("kind") in WORK_KINDS:
                out[stage][w["kind"]] += float(w["seconds"])
                break
    return out
