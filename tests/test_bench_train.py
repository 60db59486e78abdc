"""The training benchmark's interleaving (one side computes at a time) and its committed record (issue 14)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_baton_lets_one_side_compute_at_a_time_in_turn(benchmark_script):
    baton = benchmark_script("bench_train").Baton(["a", "b", "c"], timeout=30)
    running, events, overlap = [0], [], []
    lock = threading.Lock()
    steps = {"a": 3, "b": 3, "c": 2}  # c leaves the rotation early

    def side(name: str) -> None:
        time.sleep(0.01 * "abc".index(name))  # set-ups end at different times
        baton.start(name)
        for k in range(steps[name]):
            with lock:
                running[0] += 1
                overlap.append(running[0])
            events.append(name)
            time.sleep(0.02)
            with lock:
                running[0] -= 1
            if k < steps[name] - 1:
                baton.hand_over(name)
        baton.finish(name)

    threads = [threading.Thread(target=side, args=(n,)) for n in "abc"]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    wall = time.perf_counter() - t0
    assert max(overlap) == 1  # never two sides at once
    assert events == ["a", "b", "c", "a", "b", "c", "a", "b"]
    assert all(0.02 * steps[n] <= baton.held[n] for n in "abc")  # each side held the baton for its own steps
    assert sum(baton.held.values()) <= wall
    assert [len(baton.turns[n]) for n in "abc"] == [3, 3, 2]


def test_baton_releases_the_others_when_a_side_fails(benchmark_script):
    baton = benchmark_script("bench_train").Baton(["a", "b"], timeout=30)
    caught = []

    def good() -> None:
        try:
            baton.start("a")
            baton.hand_over("a")
        except RuntimeError as exc:
            caught.append(str(exc))

    t = threading.Thread(target=good)
    t.start()
    time.sleep(0.05)
    baton.fail("b", ValueError("boom"))
    t.join(5)
    assert not t.is_alive() and caught and "b: ValueError: boom" in caught[0]


def test_committed_training_record_compares_like_with_like():
    rec = json.loads((REPO_ROOT / "benchmarks" / "results" / "train.json").read_text())
    m = rec["metrics"]
    ours, theirs = m["settings"]["ours"], m["settings"]["theirs"]
    for key in ("gradient_checkpointing", "precision", "batch_size", "max_length", "steps", "learning_rate",
                "seed", "lora", "batches", "loss_on"):
        assert ours[key] == theirs[key], key
    assert ours["gradient_checkpointing"] is False and ours["precision"] == "float32"
    fo, ft = m["final_loss"]["ours"], m["final_loss"]["theirs"]
    assert abs(fo - ft) / ft <= 0.05
    assert rec["ratio"] == pytest.approx(m["tokens_per_s"]["ours"] / m["tokens_per_s"]["theirs"])
    assert m["tokens_per_s"]["ours"] == pytest.approx(m["tokens"] / m["seconds"]["ours"])
    assert ("under load" in rec["ratio_label"]) == m["measured_under_load"]


def test_baton_runs_setups_one_at_a_time(benchmark_script):
    baton = benchmark_script("bench_train").Baton(["a", "b"], timeout=30)
    inside, peak = [0], []

    def side(name: str) -> None:
        baton.begin_setup(name)
        inside[0] += 1
        peak.append(inside[0])
        time.sleep(0.03)
        inside[0] -= 1
        baton.start(name)  # ends the set-up
        baton.finish(name)

    threads = [threading.Thread(target=side, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert max(peak) == 1 and set(baton.done) == {"a", "b"}
