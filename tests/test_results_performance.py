"""srllm.results.performance: the performance page's benchmark table, metrics text and stage times."""

from __future__ import annotations

import math

from srllm.results import performance


def _record(name, ratio):
    return {"name": name, "ratio": ratio, "ratio_label": f"{name} speed-up", "peak_rss_mib": 512.0,
            "time": "2026-11-30T10:00:00", "machine": {"cpu": "Test CPU", "cores": 2}, "source": "measured here",
            "metrics": {"seconds": 1.5, "nested": {"a": 1}, "rows": [1, 2], "label": "x"}}


def test_benchmark_table_lists_expected_benchmarks_first_and_marks_missing_ones():
    records = {"train": _record("train", 1.234), "zeta": _record("zeta", float("nan"))}
    table = performance.benchmark_table(records)
    assert list(table.index) == ["generate", "train", "score", "book", "zeta"]
    assert table.loc["generate", "what"] == "not run yet" and math.isnan(table.loc["generate", "ratio"])
    assert table.loc["train", "ratio"] == 1.23 and table.loc["train", "cpu"] == "Test CPU (2 cores)"
    assert math.isnan(table.loc["zeta", "ratio"])
    assert list(table.columns) == performance.BENCHMARK_COLUMNS[1:]


def test_metrics_table_leaves_nested_values_out_and_rounds_for_reading():
    rec = _record("train", 1.0)
    rec["metrics"].update({"cold_total_s": 928.3620000000002, "share": 0.51840472786, "ok": True, "n": 2868,
                           "gap": float("nan")})
    table = performance.metrics_table({"train": rec})
    assert list(table.index.get_level_values("metric")) == ["seconds", "label", "cold_total_s", "share", "ok", "n",
                                                             "gap"]
    assert table["value"].tolist() == ["1.5", "x", "928.4", "0.5184", "yes", "2,868", "–"]  # report.page_float


def test_stage_times_and_cold_minutes():
    rows = [{"stage": "01_data", "profile": "smoke", "seconds": 60.0, "cached": False, "time": 1},
            {"stage": "01_data", "profile": "smoke", "seconds": 1.0, "cached": True, "time": 2},
            {"stage": "02_train", "profile": "smoke", "seconds": 3.0, "cached": True, "time": 3},
            {"stage": "01_data", "profile": "cpu", "seconds": 600.0, "cached": False, "time": 4}]
    times = performance.stage_times(rows, "smoke")
    assert list(times.index) == ["01_data", "02_train"] and times.loc["01_data", "warm"] == 1.0
    assert performance.cold_minutes(times) == 1.0  # 02_train never ran cold: counts 0
    assert performance.stage_times(rows, "paper") is None


def test_machine_table_is_one_column_about_this_machine():
    table = performance.machine_table()
    assert list(table.columns) == ["this machine"] and len(table) >= 3


def _generate_record(**extra):
    m = {"prompts": 64, "identical_rows": 63, "batch_size": 64, "theirs_seconds": 150.0, "ours_seconds": 15.0,
         "theirs_rows_per_s": 64 / 150, "ours_rows_per_s": 64 / 15, "theirs_tokens_per_s": 14.6,
         "ours_tokens_per_s": 146.0, "peak_rss_mib": {"theirs": 1000.0, "ours": 1700.0}, **extra}
    return {"name": "generate", "ratio": 10.0, "metrics": m, "machine": {"cpu": "Test CPU", "cores": 2}}


def test_generate_view_puts_both_sides_side_by_side_and_states_the_float32_bound():
    view = performance.generate_view(_generate_record(ceiling_seconds=6.0, ceiling_ratio=25.0,
                                                      ours_share_of_ceiling=0.4))
    t = view["table"]
    assert list(t.columns) == ["seconds", "rows/s", "new tokens/s", "peak RSS (MiB)"] and len(t) == 2
    assert t.iloc[0]["seconds"] == 150.0 and t.iloc[1]["rows/s"] == round(64 / 15, 2)
    assert t.iloc[1]["peak RSS (MiB)"] == 1700.0
    v = view["values"]
    assert v["ratio"] == "10.0" and v["identical"] == "63 of 64" and v["cpu"] == "Test CPU (2 cores)"
    assert (v["bound_seconds"], v["bound_ratio"], v["bound_share"]) == ("6.0", "25", "40%")


def test_generate_view_of_a_record_without_the_bound_says_so():
    v = performance.generate_view(_generate_record())["values"]
    assert v["bound_seconds"] == v["bound_ratio"] == v["bound_share"] == "(not in this record)"
