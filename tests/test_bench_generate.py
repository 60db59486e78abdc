"""benchmarks/bench_generate.py end to end on the tiny model: both sides, identical outputs, the ratio last."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest


def test_bench_generate_prints_ratio_and_identical_share_last(tmp_path, repo_root, cache):
    out = subprocess.run([sys.executable, str(repo_root / "benchmarks" / "bench_generate.py"), "--model",
                          "tiny-random-llama", "--n", "6", "--max-new-tokens", "4", "--chunks", "1"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    rec = json.loads((tmp_path / "runs" / "benchmarks" / "generate.json").read_text())
    m = rec["metrics"]
    assert m["prompts"] == 6 and m["batch_size_setting"] == "auto" and m["batch_size"] >= 1
    # theirs runs in two halves around ours; its outputs stay in prompt order, so every row matches ours
    assert m["identical_rows"] == 6 and m["identical_share"] == 1.0
    assert m["ours_tokens_per_s"] > 0 and m["theirs_tokens_per_s"] > 0 and m["theirs_new_tokens"] <= 6 * 4
    from srllm.models import cpu_bf16_supported

    # ours screens the output layer where the CPU has native bfloat16, and says so in the record
    assert m["ours_screened_head"] is cpu_bf16_supported()
    assert (m["ours_screened_choices"] > 0) is cpu_bf16_supported() and m["ours_share_prefix"] is True
    # the float32 ceiling counts every token ours computes, and ours' share of it is its ratio over the bound
    assert m["ceiling_tokens"] == m["ours_prefill_tokens"] + m["ours_new_tokens"] and m["ours_prefill_tokens"] > 0
    assert m["ceiling_ratio"] > 0 and m["ours_share_of_ceiling"] == pytest.approx(rec["ratio"] / m["ceiling_ratio"])
    assert 0 < m["ours_prefill_seconds"] and 0 < m["ours_decode_seconds"]
    # ours drafts by default and records what it drafted and kept
    assert m["ours_draft"] is True and 0 <= m["ours_accepted_draft_tokens"] <= m["ours_drafted_tokens"]
    assert 0 < m["ours_decode_passes"] and "ours' drafts:" in out.stdout
    assert m["ours_prefill_seconds"] + m["ours_decode_seconds"] <= m["ours_seconds"]
    assert "float32 ceiling:" in out.stdout
    last = out.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"speed-up ours/theirs: {rec['ratio']:.2f}x rows/s \(target >= 10x\); identical outputs "
                        rf"{m['identical_rows']}/6 = [0-9.]+%", last)


def test_float32_ceiling_is_the_linear_layers_least_time_and_bounds_the_ratio(benchmark_script):
    bench = benchmark_script("bench_generate")
    rate = {"gflops_per_s": 100.0, "rows": 256, "flops_per_token": 2e8}  # 0.2 GFLOP a token at 100 GFLOP/s
    c = bench.float32_ceiling(1000, rate, theirs_seconds=40.0, ours_seconds=8.0)
    assert c["ceiling_seconds"] == pytest.approx(2.0) and c["ceiling_gflop"] == pytest.approx(200.0)
    assert c["ceiling_ratio"] == pytest.approx(20.0)  # theirs 40 s over the least 2 s
    assert c["ours_share_of_ceiling"] == pytest.approx(0.25)  # ours 5x of a possible 20x


def test_linear_rate_counts_two_flops_per_decoder_weight_and_skips_the_output_layer(benchmark_script):
    import torch

    class Decoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(8, 16, bias=False)
            self.b = torch.nn.Linear(16, 8, bias=False)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.decoder = Decoder()
            self.lm_head = torch.nn.Linear(8, 1000, bias=False)

        def get_decoder(self):
            return self.decoder

    r = benchmark_script("bench_generate").linear_rate(Model(), rows=(4, 8), repeats=1)
    assert r["flops_per_token"] == 2 * (8 * 16 + 16 * 8)
    assert r["rows"] in (4, 8) and r["gflops_per_s"] > 0
