"""benchmarks/bench_generate.py end to end on the tiny model: both sides, identical outputs, the ratio last."""

from __future__ import annotations

import json
import re
import subprocess
import sys


def test_bench_generate_prints_ratio_and_identical_share_last(tmp_path, repo_root, cache):
    out = subprocess.run([sys.executable, str(repo_root / "benchmarks" / "bench_generate.py"), "--model",
                          "tiny-random-llama", "--n", "6", "--max-new-tokens", "4", "--chunks", "1"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    rec = json.loads((tmp_path / "runs" / "benchmarks" / "generate.json").read_text())
    m = rec["metrics"]
    assert m["prompts"] == 6 and m["batch_size_setting"] == "auto" and m["batch_size"] >= 1
    assert m["identical_rows"] == round(m["identical_share"] * 6)
    assert m["ours_tokens_per_s"] > 0 and m["theirs_tokens_per_s"] > 0 and m["theirs_new_tokens"] <= 6 * 4
    from srllm.models import cpu_bf16_supported

    # ours screens the output layer where the CPU has native bfloat16, and says so in the record
    assert m["ours_screened_head"] is cpu_bf16_supported()
    assert (m["ours_screened_choices"] > 0) is cpu_bf16_supported() and m["ours_share_prefix"] is True
    last = out.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"speed-up ours/theirs: {rec['ratio']:.2f}x rows/s \(target >= 10x\); identical outputs "
                        rf"{m['identical_rows']}/6 = [0-9.]+%", last)
