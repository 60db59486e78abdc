"""Benchmark records and the book run log."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from srllm.perf import book_stage_times, load_benchmarks, read_book_log, record_benchmark


def test_stage_times_take_latest_cold_and_warm(tmp_path):
    log = tmp_path / "book-runs.jsonl"
    rows = [
        {"time": 1, "profile": "cpu", "stage": "01_data", "seconds": 30.0, "cached": False},
        {"time": 1.5, "profile": "cpu", "stage": "02_train", "seconds": 50.0, "cached": False},
        {"time": 2, "profile": "cpu", "stage": "jupyter-book", "seconds": 40.0, "cached": False},
        {"time": 3, "profile": "cpu", "stage": "01_data", "seconds": 0.1, "cached": True},
        {"time": 4, "profile": "smoke", "stage": "01_data", "seconds": 5.0, "cached": False},
        {"time": 5, "profile": "cpu", "stage": "jupyter-book", "seconds": 35.0, "cached": False},
        {"time": 6, "profile": "cpu", "stage": "02_train", "seconds": 9.0, "cached": False},  # one page re-executed
        {"time": 7, "profile": "cpu", "stage": "jupyter-book", "seconds": 12.0, "cached": False},
    ]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    stages = book_stage_times(read_book_log(log), profile="cpu")
    # jupyter-book: 40 s after the cold execution; 35 s in the build where 01_data came from the cache;
    # the build that re-executed one notebook is neither (it wrote one page)
    assert stages == {"01_data": {"cold": 30.0, "warm": 0.1}, "02_train": {"cold": 9.0, "warm": None},
                      "jupyter-book": {"cold": 40.0, "warm": 35.0}}


def test_bad_log_line_names_file_and_line(tmp_path):
    log = tmp_path / "book-runs.jsonl"
    log.write_text('{"stage": "a", "seconds": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"book-runs.jsonl: line 2"):
        read_book_log(log)


def test_record_and_load_benchmark_with_machine(tmp_path):
    path = record_benchmark("demo", {"a": 1}, ratio=2.5, ratio_label="x / y", root=tmp_path)
    assert path.exists()
    (rec,) = load_benchmarks(tmp_path)
    assert rec["ratio"] == 2.5 and rec["metrics"] == {"a": 1}
    assert rec["machine"]["cores"] >= 1 and rec["peak_rss_mib"] > 0


def test_bench_book_prints_ratio_last(tmp_path, repo_root):
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in [
        {"time": 1, "profile": "cpu", "stage": "01_data", "seconds": 20.0, "cached": False},
        {"time": 2, "profile": "cpu", "stage": "jupyter-book", "seconds": 10.0, "cached": False},
        {"time": 3, "profile": "cpu", "stage": "01_data", "seconds": 0.5, "cached": True},
        {"time": 4, "profile": "cpu", "stage": "jupyter-book", "seconds": 8.0, "cached": False},
    ]) + "\n")
    out = subprocess.run([sys.executable, str(repo_root / "benchmarks" / "bench_book.py"), "--log", str(log),
                          "--work-log", str(tmp_path / "none.jsonl"), "--runs-dir", str(tmp_path / "none")],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last == f"ratio cold/warm book time: {30.0 / 8.5:.2f}"  # cold HTML build 10 s, warm 8 s


def test_committed_records_show_until_a_local_one_exists(tmp_path):
    committed = tmp_path / "benchmarks" / "results"
    committed.mkdir(parents=True)
    (committed / "generate.json").write_text(json.dumps(
        {"name": "generate", "time": "2026-11-30 10:00:00", "ratio": 4.5, "ratio_label": "x", "metrics": {}}))
    (rec,) = load_benchmarks(tmp_path)
    assert rec["ratio"] == 4.5 and rec["source"].startswith("committed")
    record_benchmark("generate", {}, ratio=5.0, ratio_label="x", root=tmp_path)
    (rec,) = load_benchmarks(tmp_path)
    assert rec["ratio"] == 5.0 and rec["source"].startswith("local")
    (committed / "broken.json").write_text("{")
    with pytest.raises(ValueError, match=r"broken.json: not valid JSON"):
        load_benchmarks(tmp_path)


def test_local_record_wins_even_when_its_clock_is_behind(tmp_path):
    # Issue 14 item 9: a machine whose clock is behind must still see its own run.
    committed = tmp_path / "benchmarks" / "results"
    committed.mkdir(parents=True)
    (committed / "generate.json").write_text(json.dumps(
        {"name": "generate", "time": "2099-01-01 00:00:00", "ratio": 4.5, "ratio_label": "x", "metrics": {}}))
    (committed / "train.json").write_text(json.dumps(
        {"name": "train", "time": "2000-01-01 00:00:00", "ratio": 1.1, "ratio_label": "x", "metrics": {}}))
    local = tmp_path / "runs" / "benchmarks"
    local.mkdir(parents=True)
    (local / "generate.json").write_text(json.dumps(
        {"name": "generate", "time": "1999-01-01 00:00:00", "ratio": 9.0, "ratio_label": "x", "metrics": {}}))
    recs = {r["name"]: r for r in load_benchmarks(tmp_path)}
    assert recs["generate"]["ratio"] == 9.0 and recs["generate"]["source"].startswith("local")
    assert recs["train"]["ratio"] == 1.1 and recs["train"]["source"].startswith("committed")


def test_book_log_records_peak_memory(tmp_path):
    from srllm.book import StageTiming, _log_timing

    _log_timing(tmp_path, "cpu", StageTiming("01_data", 1.0, False))
    (row,) = read_book_log(tmp_path / "runs" / "book-runs.jsonl")
    assert row["peak_rss_mib"] > 10 and row["children_peak_rss_mib"] >= 0


def test_book_peak_memory_is_the_largest_logged_for_the_profile():
    from srllm.perf import book_peak_rss_mib

    rows = [{"profile": "cpu", "children_peak_rss_mib": 300.0}, {"profile": "cpu", "children_peak_rss_mib": 4900.0},
            {"profile": "smoke", "children_peak_rss_mib": 9000.0}, {"profile": "cpu"}]
    assert book_peak_rss_mib(rows, "cpu") == 4900.0
    assert book_peak_rss_mib(rows) == 9000.0
    assert book_peak_rss_mib(rows, "paper") is None



def test_book_peak_memory_is_the_cold_builds_not_an_older_builds():
    from srllm.perf import book_peak_rss_mib

    def build(t0, peak, cached):
        return [{"time": t0, "profile": "cpu", "stage": "01_data", "cached": cached, "children_peak_rss_mib": peak},
                {"time": t0 + 1, "profile": "cpu", "stage": "02_train", "cached": cached, "children_peak_rss_mib": peak},
                {"time": t0 + 2, "profile": "cpu", "stage": "jupyter-book", "cached": False,
                 "children_peak_rss_mib": peak}]

    old_cold, new_cold, warm = build(0, 10400.0, False), build(10, 9100.0, False), build(20, 200.0, True)
    assert book_peak_rss_mib(old_cold + new_cold + warm, "cpu") == 9100.0  # the latest cold build's peak
    assert book_peak_rss_mib(warm, "cpu") == 200.0  # only warm builds: the latest one
    interrupted = build(-10, 12000.0, False)[:2]  # killed before its jupyter-book row
    assert book_peak_rss_mib(interrupted + old_cold + new_cold + warm, "cpu") == 9100.0

def test_work_is_logged_and_attributed_to_the_stage_it_ended_in(tmp_path, monkeypatch):
    from srllm import perf

    monkeypatch.setenv("SRLLM_CACHE", str(tmp_path / "cache"))
    perf.log_work("generation", 12.5, rows=4, desc="demo")
    (row,) = perf.read_work_log()
    assert row["kind"] == "generation" and row["seconds"] == 12.5 and row["rows"] == 4
    with pytest.raises(ValueError, match="unknown work kind"):
        perf.log_work("thinking", 1.0)
    run = tmp_path / "cache" / "runs" / "qlora-abc"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"finished_at": "2026-01-01T00:01:40+00:00", "wall_seconds": 80.0}))
    (tmp_path / "cache" / "runs" / "broken").mkdir()
    (tmp_path / "cache" / "runs" / "broken" / "manifest.json").write_text(json.dumps({"status": "running"}))
    (train_row,) = perf.training_work()
    t0 = train_row["time"] - 100  # 2026-01-01T00:00:00
    book = [
        {"time": t0 + 120, "profile": "cpu", "stage": "02_train", "seconds": 120.0, "cached": False},
        {"time": t0 + 200, "profile": "cpu", "stage": "04_safety", "seconds": 80.0, "cached": False},
        {"time": t0 + 300, "profile": "cpu", "stage": "04_safety", "seconds": 0.1, "cached": True},
    ]
    work = [train_row, {"time": t0 + 110, "kind": "generation", "seconds": 15.0},
            {"time": t0 + 150, "kind": "generation", "seconds": 30.0},
            {"time": t0 + 190, "kind": "scoring", "seconds": 5.0},
            {"time": t0 + 500, "kind": "scoring", "seconds": 99.0}]  # outside every cold window
    got = perf.stage_work(book, work, profile="cpu")
    assert got == {"02_train": {"generation": 15.0, "training": 80.0, "scoring": 0.0},
                   "04_safety": {"generation": 30.0, "training": 0.0, "scoring": 5.0}}


def test_bench_book_reports_work_shares(tmp_path, repo_root):
    t = 1_000_000.0
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in [
        {"time": t + 100, "profile": "cpu", "stage": "04_safety", "seconds": 100.0, "cached": False},
        {"time": t + 110, "profile": "cpu", "stage": "jupyter-book", "seconds": 10.0, "cached": False},
        {"time": t + 200, "profile": "cpu", "stage": "04_safety", "seconds": 1.0, "cached": True},
    ]) + "\n")
    work = tmp_path / "work.jsonl"
    work.write_text("\n".join(json.dumps(r) for r in [
        {"time": t + 50, "kind": "generation", "seconds": 40.0}, {"time": t + 90, "kind": "scoring", "seconds": 11.0},
    ]) + "\n")
    out = subprocess.run([sys.executable, str(repo_root / "benchmarks" / "bench_book.py"), "--log", str(log),
                          "--work-log", str(work), "--runs-dir", str(tmp_path / "no-runs")],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "share of the cold total: generation 36%, training 0%, scoring 10%" in out.stdout  # of 110 s
    rec = json.loads((tmp_path / "runs" / "benchmarks" / "book.json").read_text())
    assert rec["metrics"]["work_s"]["04_safety"]["generation"] == 40.0
    assert rec["metrics"]["work_share_of_cold"]["scoring"] == pytest.approx(11.0 / 110.0)


def test_train_benchmark_view_shows_both_sides_settings_and_losses(repo_root):
    import json

    from srllm.results.performance import TRAIN_SETTING_KEYS, train_view

    record = json.loads((repo_root / "benchmarks" / "results" / "train.json").read_text())
    view = train_view(record)
    assert list(view["settings"].columns) == ["ours", "theirs"]
    assert list(view["settings"].index) == list(TRAIN_SETTING_KEYS)
    for key in ("gradient_checkpointing", "precision", "batch_size", "max_length", "steps", "batches"):
        assert view["settings"].loc[key, "ours"] == view["settings"].loc[key, "theirs"], key
    losses = view["results"]["final loss"]
    assert abs(losses["ours"] - losses["theirs"]) / losses["theirs"] * 100 == pytest.approx(
        view["values"]["loss_gap_pct"], abs=0.01)
    assert view["values"]["ratio"] == round(record["ratio"], 2)
