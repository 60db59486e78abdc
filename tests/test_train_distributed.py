"""Scale-out: the training entry point runs unchanged as two processes under ``accelerate launch``.

On a CPU machine ``accelerate launch --multi_gpu --num_processes 2`` starts two
processes through torch's launcher; ``srllm.training`` joins them with the gloo
backend (``use_cpu``), the main process owns the run folder and the other waits
for it at barriers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_two_process_training_finishes_on_both_ranks_and_saves_a_loadable_adapter(tmp_path, repo_root):
    import torch
    from peft import PeftModel

    from srllm.models import load_model

    accelerate = Path(sys.executable).with_name("accelerate")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_PORT": "29531"}
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29531",
           "-m", "srllm", "train", "--profile", "smoke", "--method", "lora", "--out", str(out), "--quiet"]
    proc = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"[process 1/2] finished training; run folder {out}" in proc.stdout
    assert f"[process 2/2] finished training; run folder {out}" in proc.stdout

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert manifest["processes"] == 2 and manifest["distributed_backend"] == "gloo"
    assert manifest["global_step"] == manifest["max_steps"] > 0
    assert manifest["gradient_check"], "the gradient guard ran on the main process"

    base, tok = load_model("tiny-random-llama", device="cpu", dtype="float32")
    adapted = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
    lora_b = [p for n, p in adapted.named_parameters() if "lora_B" in n]
    assert lora_b and any(torch.count_nonzero(p) > 0 for p in lora_b), "the adapter holds trained weights"
    ids = tok("Rewrite this.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.isfinite(adapted(input_ids=ids).logits).all()


def test_shipped_accelerate_configs_parse_and_say_what_they_do():
    import pytest
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    from srllm.launch import CONFIGS, config_path

    expected = {"ddp_gpus": (DistributedType.MULTI_GPU, None), "deepspeed_zero2": (DistributedType.DEEPSPEED, 2),
                "deepspeed_zero3_offload": (DistributedType.DEEPSPEED, 3)}
    assert set(CONFIGS) == set(expected)
    for name in CONFIGS:
        cfg = load_config_from_file(str(config_path(name)))
        kind, stage = expected[name]
        assert cfg.distributed_type == kind and cfg.num_processes >= 2 and not cfg.use_cpu
        if stage is not None:
            assert cfg.deepspeed_config["zero_stage"] == stage
            assert cfg.deepspeed_config["gradient_clipping"] == 0.3  # Table 3's max grad norm
    with pytest.raises(ValueError, match="unknown launch config 'zero9'"):
        config_path("zero9")
