"""`srllm generate` and `srllm debias` on the command line."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import torch

from srllm import generation as gen
from srllm.generation import adapters, methods
from srllm.generation import cache as gcache
from srllm.cli import main
from srllm.profiles import resolve
from conftest import distinct_llama

TEXTS = ["Women are bad at math.", "Old people cannot learn new technology.", "Why are men so loud?"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    for module in (gcache, adapters):
        monkeypatch.setattr(module, "cache_dir", lambda: tmp_path / "cache")


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A random Llama of tiny-random-llama's shape whose greedy outputs differ per prompt (conftest.distinct_llama)."""
    return distinct_llama(tmp_path_factory.mktemp("cli-llama"))[2]


def _args(model_folder, *extra):
    return ["--profile", "smoke", "--model", str(model_folder), "--max-new-tokens", "5", *extra]


def test_generate_jsonl_to_csv_keeps_rows_and_adds_rewrites(model_folder, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "sentence": t}) + "\n" for i, t in enumerate(TEXTS)))
    out = tmp_path / "out.csv"
    rc = main(["generate", "--input", str(src), "--out", str(out), "--method", "zero_shot", "--text-column",
               "sentence", *_args(model_folder)])
    assert rc == 0
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(df["id"]) == ["r0", "r1", "r2"] and set(df["method"]) == {"zero_shot"}
    expected = gen.rewrite(TEXTS, model_name=str(model_folder), method="zero_shot",
                           profile=resolve("smoke").replace(**{"generate.max_new_tokens": 5}),
                           progress=False)
    assert list(df["rewrite"]) == expected and all(expected)


def test_generate_with_adapter_and_limit(model_folder, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_folder)
    torch.manual_seed(3)
    get_peft_model(base, LoraConfig(task_type="CAUSAL_LM", r=4, init_lora_weights=False)).save_pretrained(
        tmp_path / "lora")
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(src, index=False)
    out = tmp_path / "out.jsonl"
    assert main(["generate", "--input", str(src), "--out", str(out), "--adapter", str(tmp_path / "lora"),
                 "--limit", "2", *_args(model_folder)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == TEXTS[:2] and {r["method"] for r in rows} == {"sr_llm"}


def test_generate_errors_are_one_clear_line(model_folder, tmp_path, capsys):
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": ["a", "b", "c"], "text": ["fine", "  ", "also fine"]}).to_csv(src, index=False)
    good = tmp_path / "good.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(good, index=False)
    cases = [
        (["--input", str(src), "--out", str(tmp_path / "o.txt")], "unsupported file type '.txt' for output"),
        (["--input", str(src), "--out", str(tmp_path / "o.csv"), "--text-column", "body"], "no column 'body'"),
        (["--input", str(src), "--out", str(tmp_path / "o.csv"), "--method", "zero_shot"], "row 2, field 'text'"),
        (["--input", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o.csv")], "no such file"),
    ]
    for extra, message in cases:
        assert main(["generate", *extra, *_args(model_folder)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (extra, err)
    # The encoder-decoder baseline needs the Hub (the suite runs with HF_HUB_OFFLINE=1).
    assert main(["generate", "--input", str(good), "--out", str(tmp_path / "o.csv"), "--method", "t5_large",
                 "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "'t5_large' was not run" in err and "google-t5/t5-large" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": broken\n')
    assert main(["generate", "--input", str(bad), "--out", str(tmp_path / "o.csv"), *_args(model_folder)]) == 2
    assert "line 2 (malformed_json" in capsys.readouterr().err


def test_generate_sr_llm_without_any_trained_adapter_says_so(model_folder, tmp_path, capsys):
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(src, index=False)
    assert main(["generate", "--input", str(src), "--out", str(tmp_path / "o.csv"), *_args(model_folder)]) == 2
    err = capsys.readouterr().err
    assert "needs a trained adapter" in err and "srllm train --profile smoke --method qlora" in err


def test_debias_command_reports_what_it_used(model_folder, tmp_path, capsys, monkeypatch):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from srllm.profiles import get_profile

    prof = get_profile("smoke", model=str(model_folder), **{"generate.max_new_tokens": 5})
    for module in ("adapters", "debiasing", "methods"):  # every generation module resolves its profile argument
        monkeypatch.setattr(f"srllm.generation.{module}.resolve", lambda p: prof)
    monkeypatch.setattr(methods, "default_shots_pool",
                        lambda seed=42: [{"text": f"u{i}", "safe_variation": f"s{i}"} for i in range(4)])
    assert main(["debias", "Women are bad at math."]) == 0
    cap = capsys.readouterr()
    assert "2-shot prompt (no trained adapter found" in cap.err and "srllm train --profile smoke" in cap.err
    assert cap.out.strip() == gen.debias("Women are bad at math.")
    from srllm.training import profile_run_name

    run = tmp_path / "cache" / "runs" / profile_run_name(prof)
    base = AutoModelForCausalLM.from_pretrained(model_folder)
    torch.manual_seed(4)
    get_peft_model(base, LoraConfig(task_type="CAUSAL_LM", r=4, init_lora_weights=False)).save_pretrained(
        run / "adapter")
    (run / "manifest.json").write_text(json.dumps({"model": str(model_folder), "status": "finished"}))
    assert main(["debias", "Women are bad at math."]) == 0
    cap = capsys.readouterr()
    assert "instruction fine-tuned adapter" in cap.err and str(run / "adapter") in cap.err
    assert f"the profile's SR_LLM run {run.name}" in cap.err
    assert main(["debias", "x", "--adapter", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_generate_quiet_silences_every_bar(model_folder, tmp_path):
    """Terminal runs keep their progress bars; --quiet silences them (a fresh process each, as a user runs it)."""
    import os
    import subprocess
    import sys

    src = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(src, index=False)
    env = {k: v for k, v in os.environ.items() if k not in ("SRLLM_QUIET", "TQDM_DISABLE")}
    stderr = {}
    for quiet in (False, True):
        out = tmp_path / f"out-{quiet}.csv"
        cmd = [sys.executable, "-m", "srllm", "generate", "--input", str(src), "--out", str(out), "--method",
               "zero_shot", *_args(model_folder), *(["--quiet"] if quiet else [])]
        run = subprocess.run(cmd, capture_output=True, text=True, env={**env, "SRLLM_CACHE": str(tmp_path / f"c{quiet}")})
        assert run.returncode == 0, run.stderr[-2000:]
        assert len(pd.read_csv(out)) == len(TEXTS)
        stderr[quiet] = run.stderr
    assert "%|" in stderr[False], "a terminal run should show its progress bar"
    assert "%|" not in stderr[True], stderr[True][-1000:]


def test_generate_text_is_the_path_debias_takes(model_folder, tmp_path, capsys, monkeypatch):
    """`srllm debias TEXT` and `srllm generate --text TEXT` run the same code and print the same rewrite."""
    from srllm.profiles import get_profile

    prof = get_profile("smoke", model=str(model_folder), **{"generate.max_new_tokens": 5})
    for module in ("adapters", "debiasing", "methods"):  # every generation module resolves its profile argument
        monkeypatch.setattr(f"srllm.generation.{module}.resolve", lambda p: prof)
    monkeypatch.setattr(methods, "default_shots_pool",
                        lambda seed=42: [{"text": f"u{i}", "safe_variation": f"s{i}"} for i in range(4)])
    assert main(["debias", TEXTS[0]]) == 0
    via_debias = capsys.readouterr()
    assert main(["generate", "--text", TEXTS[0]]) == 0
    via_generate = capsys.readouterr()
    assert via_generate.out == via_debias.out and via_debias.out.strip()
    used = [line for line in via_debias.err.splitlines() if line.startswith("debias: used")]
    assert used and used[0].replace("debias:", "generate:") in via_generate.err
    assert main(["generate", "--text", TEXTS[0], "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rewrite"] == via_debias.out.strip() and report["method"] == "two_shot" and report["adapter"] is None
    # an explicit generation method runs that method on the one text, as it would on a file
    assert main(["generate", "--text", TEXTS[1], "--method", "zero_shot", *_args(model_folder)]) == 0
    expected = gen.rewrite([TEXTS[1]], model_name=str(model_folder), method="zero_shot", profile=prof, progress=False)
    assert capsys.readouterr().out.strip() == expected[0].strip()
    assert main(["generate", "--text", "x", "--out", str(tmp_path / "o.csv")]) == 2
    assert "--out applies to --input FILE, not to --text" in capsys.readouterr().err


def test_generate_no_cache_neither_reads_nor_writes_the_generation_cache(model_folder, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(src, index=False)
    store = tmp_path / "cache" / "generations"
    args = ["generate", "--input", str(src), "--method", "zero_shot", *_args(model_folder)]
    assert main([*args, "--out", str(tmp_path / "a.csv"), "--no-cache"]) == 0
    assert not store.exists() or not any(store.iterdir())
    assert main([*args, "--out", str(tmp_path / "b.csv")]) == 0
    assert any(store.iterdir())
    assert pd.read_csv(tmp_path / "a.csv").equals(pd.read_csv(tmp_path / "b.csv"))
