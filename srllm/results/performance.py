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


TRAIN_SETTING_KEYS = ("gradient_checkpointing", "precision", "batch_size", "max_length", "steps",
                      "learning_rate", "optim", "seed", "loss_on", "sampler", "batches")


def train_view(record: dict[str, Any]) -> dict[str, Any]:
    """The training benchmark's record as the performance page shows it (issue 14, item 1).

    Returns ``settings`` (one column per side, the settings that must be identical), ``results``
    (tokens/s, first-step and final loss per side) and ``values`` for the page's sentence: the
    speed ratio only means something when both sides ran the same settings and learned the same
    thing, so the page shows both beside it.
    """
    m = record["metrics"]
    sides = ("ours", "theirs")
    settings = pd.DataFrame({s: {k: str(m["settings"][s].get(k)) for k in TRAIN_SETTING_KEYS} for s in sides})
    results = pd.DataFrame({"tokens/s": m["tokens_per_s"], "first-step loss": m["first_step_loss"],
                            "final loss": m["final_loss"]}).loc[list(sides)]
    values = {
        "ratio": round(float(record["ratio"]), 2),
        "step_median": round(float(m["step_ratio_median"]), 2),
        "loss_gap_pct": round(100 * float(m["final_loss_gap"]), 2),
        "identical": bool(m.get("settings_identical")),
        "load": "measured under load" if m.get("measured_under_load") else "measured on a quiet machine",
    }
    return {"settings": settings, "results": results.round(4), "values": values}


def generate_view(record: dict[str, Any]) -> dict[str, Any]:
    """The generation benchmark's record as the performance page shows it: both sides side by side,
    and the values of the page's sentence (speed-up, identical outputs, the float32 bound).

    ``table``: one row per side (seconds, rows/s, new tokens/s, peak RSS). ``values`` (text): ``ratio``,
    ``identical`` ("64 of 64"), ``batch_size``, ``cpu``, and the float32 bound of
    ``benchmarks/bench_generate.py``: ``bound_seconds``, ``bound_ratio`` and ``bound_share`` (ours' speed-up
    as a share of the bound), each "(not in this record)" in a record older than the bound.
    """
    m = record["metrics"]
    rss = m.get("peak_rss_mib") if isinstance(m.get("peak_rss_mib"), dict) else {}
    sides = {"theirs": "one model.generate per text (the authors' loop)", "ours": "srllm batched generate_texts"}
    table = pd.DataFrame({
        label: {"seconds": m[f"{side}_seconds"], "rows/s": m[f"{side}_rows_per_s"],
                "new tokens/s": m[f"{side}_tokens_per_s"], "peak RSS (MiB)": rss.get(side)}
        for side, label in sides.items()}).T.rename_axis("side")
    has_bound = bool(m.get("ceiling_ratio"))
    values = {"ratio": f"{record['ratio']:.1f}", "identical": f"{m['identical_rows']} of {m['prompts']}",
              "batch_size": str(m["batch_size"]), "cpu": f"{record['machine']['cpu']} ({record['machine']['cores']} cores)",
              # a record written before the bound existed: the page says so instead of a number
              "bound_seconds": f"{m['ceiling_seconds']:.1f}" if has_bound else "(not in this record)",
              "bound_ratio": f"{m['ceiling_ratio']:.0f}" if has_bound else "(not in this record)",
              "bound_share": f"{round(100 * m['ours_share_of_ceiling'])}%" if has_bound else "(not in this record)"}
    return {"table": table.astype(float).round(2), "values": values}
