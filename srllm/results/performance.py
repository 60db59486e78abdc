"""The performance page (notebook 12): the latest benchmark records and the book's stage times as tables.

The measuring is done by the scripts in ``benchmarks/`` and by the book runner, which write
their records through :mod:`srllm.perf`; this module only reads them into what the page shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from srllm.perf import book_stage_times, machine_info
from srllm.report import page_float

EXPECTED_BENCHMARKS: tuple[str, ...] = ("generate", "train", "score", "book")
"""The benchmarks the page always lists, with "not run yet" when there is no record."""
BENCHMARK_COLUMNS = ["benchmark", "ratio", "what", "peak RSS (MiB)", "measured", "cpu", "source"]


def machine_table() -> pd.DataFrame:
    """This machine (CPU, cores, memory, Python and library versions) as a one-column table."""
    return pd.DataFrame([machine_info()]).T.rename(columns={0: "this machine"})


def benchmark_table(records: Mapping[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per benchmark (the expected ones first, then any other in name order): its ratio (2
    decimals, missing when NaN), what the ratio means, peak memory, when and on which CPU it was measured,
    and where the record comes from. ``records``: ``{name: record}`` of :func:`srllm.perf.load_benchmarks`."""
    rows = []
    for name in list(EXPECTED_BENCHMARKS) + sorted(set(records) - set(EXPECTED_BENCHMARKS)):
        r = records.get(name)
        if r is None:
            rows.append({"benchmark": name, "ratio": None, "what": "not run yet", "peak RSS (MiB)": None,
                         "measured": None, "cpu": None, "source": None})
        else:
            rows.append({"benchmark": name, "ratio": round(r["ratio"], 2) if r["ratio"] == r["ratio"] else None,
                         "what": r["ratio_label"], "peak RSS (MiB)": r["peak_rss_mib"], "measured": r["time"],
                         "cpu": f'{r["machine"]["cpu"]} ({r["machine"]["cores"]} cores)', "source": r["source"]})
    return pd.DataFrame(rows, columns=BENCHMARK_COLUMNS).set_index("benchmark")


def _readable(value: Any) -> str:
    """One metric value as a page shows it: floats by the book's rule (:func:`srllm.report.page_float`),
    '–' for NaN, yes/no for booleans, thousands separators for integers, text as it is."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "–" if value != value else page_float(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def metrics_table(records: Mapping[str, dict[str, Any]]) -> pd.DataFrame:
    """Every benchmark's scalar metrics (nested ones left out), one row each, values rounded for reading.

    Index: (benchmark, metric); one column, ``value`` (text). The records keep the full precision.
    """
    rows = [(name, k, _readable(v)) for name, r in records.items()
            for k, v in r["metrics"].items() if not isinstance(v, (dict, list))]
    frame = pd.DataFrame(rows, columns=["benchmark", "metric", "value"])
    return frame.set_index(["benchmark", "metric"])


def stage_times(book_rows: Iterable[dict[str, Any]], profile: str) -> pd.DataFrame | None:
    """Seconds per stage of ``make book`` under ``profile`` (columns cold/warm), None before any build."""
    stages = book_stage_times(list(book_rows), profile=profile)
    return pd.DataFrame(stages).T.rename_axis("stage") if stages else None


def cold_minutes(times: pd.DataFrame) -> float:
    """The cold build's total in minutes (stages never run cold count 0), one decimal."""
    return round(float(times["cold"].fillna(0).sum()) / 60, 1)
