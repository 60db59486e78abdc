"""The GPU-plan benchmark runs end to end on a CPU with a tiny random Llama (its test mode)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def test_gpu_plan_runs_on_cpu_and_predicts_from_its_measurements(tmp_path, repo_root, tiny_model):
    out = subprocess.run([sys.executable, str(repo_root / "benchmarks" / "bench_gpu_plan.py"), "--shape", "tiny",
                          "--steps", "1", "--warmup", "0", "--gen-rows", "3", "--max-new-tokens", "3",
                          "--peak-tflops", "100"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    rec = json.loads((tmp_path / "runs" / "benchmarks" / "gpu_plan.json").read_text())
    m = rec["metrics"]
    assert m["profile"] == "paper" and m["train_batch_size"] == 16 and m["gen_max_new_tokens"] == 3
    if rec["machine"]["gpu"] is None:
        assert not m["quantized_4bit"] and "test mode" in lines[0]
    # The predictions follow from the measured rates and the paper's split sizes (Table 1).
    assert m["full_run_tokens"] == pytest.approx(13_999 * 1.0 * m["mean_example_tokens"])
    assert m["predicted_train_minutes"] == pytest.approx(m["full_run_tokens"] / m["train_tokens_per_s"] / 60)
    assert m["compute_limit_minutes"] == pytest.approx(6 * m["parameters"] * m["full_run_tokens"] / 100e12 / 60)
    assert m["predicted_test_rewrite_minutes"] == pytest.approx(4_001 / m["gen_rows_per_s"] / 60)
    assert m["paper_minutes_a100"] == 50.0 and m["gen_tokens_per_s"] > 0
    assert lines[-1] == f"predicted training time / compute limit: {rec['ratio']:.2f}"
    assert rec["ratio"] == pytest.approx(m["predicted_train_minutes"] / m["compute_limit_minutes"])


def test_gpu_plan_without_a_gpu_skips_the_full_shape(tmp_path, repo_root):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the full plan would run")
    out = subprocess.run([sys.executable, str(repo_root / "benchmarks" / "bench_gpu_plan.py")], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("no GPU here") and not (tmp_path / "runs").exists()
