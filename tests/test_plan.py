"""`srllm plan`: every stage's rows, tokens, steps, time and memory, offline (issue 15 item 5)."""

from __future__ import annotations

import json
import math
import socket

import pytest


@pytest.fixture()
def no_network(monkeypatch, tmp_path):
    """Any attempt to open a connection fails the test; an empty private cache (no fetched data)."""
    from srllm.cache import cache_dir
    from srllm.data import sources

    shared_models = cache_dir() / "models"
    root = tmp_path / "cache"
    root.mkdir()
    (root / "models").symlink_to(shared_models)
    monkeypatch.setenv("SRLLM_CACHE", str(root))
    monkeypatch.setattr(sources, "_MEMO", {})

    def refuse(*a, **k):
        raise AssertionError(f"srllm plan tried to open a connection: {a[:1]}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return root


def test_paper_plan_is_offline_and_names_the_network_parts(no_network, repo_root, monkeypatch, capsys):
    from srllm.cli import main
    from srllm.paper import TABLE1
    from srllm.profiles import get_profile

    monkeypatch.chdir(repo_root)
    assert main(["plan", "--profile", "paper", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    stages = {s["name"]: s for s in plan["stages"]}
    prof = get_profile("paper")
    assert stages["data: CMD"]["rows"] == sum(TABLE1.split.values())
    qlora = stages["train: qlora (SR_LLM)"]
    assert qlora["rows"] == TABLE1.split["train"]
    assert qlora["steps"] == math.ceil(TABLE1.split["train"] / prof.train.batch_size)
    assert stages["train: prefix-tuning"]["steps"] == qlora["steps"] * int(prof.prefix.epochs)
    assert qlora["seconds"] is None and "no benchmark record" in " ".join(qlora["basis"])
    net = " ".join(plan["network"])
    assert "newsmediabias/instruction-safe-llm" in net and "toxigen/toxigen-data" in net
    assert "gated" in net


def test_cpu_plan_counts_tokens_and_times_them_with_the_matching_record(no_network, repo_root, monkeypatch):
    from srllm.data.sources import profile_splits
    from srllm.perf import load_benchmarks
    from srllm.plan import build_plan, format_plan
    from srllm.profiles import get_profile

    monkeypatch.chdir(repo_root)
    prof = get_profile("cpu")
    plan = build_plan(prof)
    stages = {s["name"]: s for s in plan["stages"]}
    qlora = stages["train: qlora (SR_LLM)"]
    rows = len(profile_splits(prof)["train"])
    assert qlora["rows"] == rows

    def expected_steps(max_steps, batch, epochs):
        # max_steps when set, else whole epochs over the train split (what Trainer runs)
        return max_steps if max_steps > 0 else math.ceil(rows / (batch * prof.train.grad_accum)) * math.ceil(epochs)

    assert qlora["steps"] == expected_steps(prof.train.max_steps, prof.train.batch_size, prof.train.epochs)
    prefix_max = prof.prefix.max_steps if prof.prefix.max_steps is not None else prof.train.max_steps
    prefix_batch = getattr(prof.prefix, "batch_size", None) or prof.train.batch_size
    assert stages["train: prefix-tuning"]["steps"] == expected_steps(prefix_max, prefix_batch, prof.prefix.epochs)
    assert qlora["tokens"] > qlora["steps"] * prof.train.batch_size * 10  # real prompts are long
    rec = next(r for r in load_benchmarks(repo_root) if r["name"] == "train")
    if rec["metrics"]["model"] == prof.model and not rec["machine"].get("gpu"):
        assert qlora["seconds"] == pytest.approx(qlora["tokens"] / rec["metrics"]["ours_tokens_per_s"])
    assert plan["network"] and all("optional" in n for n in plan["network"])
    text = format_plan(plan)
    assert "train: qlora (SR_LLM)" in text and "network:" in text


def test_paper_plan_reads_a_fetched_copy_for_its_rows(no_network, repo_root, monkeypatch):
    from datasets import Dataset, DatasetDict

    from srllm.data import load_sample, split_sizes
    from srllm.plan import build_plan
    from srllm.profiles import CMD_HUB_ID

    rows = [{"Original Sentence": r.text, "Debiased ": r.safe_variation, "BIAS": r.bias}
            for r in load_sample("cmd")[:200]]
    d = no_network / "data" / CMD_HUB_ID.replace("/", "__") / "default" / ("a" * 40)
    DatasetDict({"test": Dataset.from_list(rows)}).save_to_disk(str(d / "dataset"))
    (d / "source.json").write_text(json.dumps({"hub_id": CMD_HUB_ID, "revision": "a" * 40,
                                               "splits": {"test": 200}, "fetched_at": "2026-11-30T00:00:00Z"}))
    monkeypatch.chdir(repo_root)
    plan = build_plan("paper")
    stages = {s["name"]: s for s in plan["stages"]}
    assert stages["data: CMD"]["rows"] == 200
    assert stages["train: qlora (SR_LLM)"]["rows"] == split_sizes(200)["train"]
    assert stages["train: qlora (SR_LLM)"]["tokens"] > 0
    from srllm.models import KNOWN_MODELS
    from srllm.plan import _local_hub_model

    if not _local_hub_model(KNOWN_MODELS["llama-3.2-1b-instruct"].hub_id):  # Llama's tokenizer is not here
        assert "stand-in" in " ".join(stages["train: qlora (SR_LLM)"]["basis"])
    assert not any("instruction-safe-llm" in n for n in plan["network"])


def test_measured_steps_replace_the_record_estimate(no_network, repo_root, monkeypatch):
    from srllm.plan import build_plan

    monkeypatch.chdir(repo_root)
    plan = build_plan("smoke", measure=True)
    stages = {s["name"]: s for s in plan["stages"]}
    for name in ("train: qlora (SR_LLM)", "train: prefix-tuning"):
        st = stages[name]
        assert st["seconds"] is not None and st["seconds"] > 0 and st["peak_mib"] > 0
        assert "measured here over 3 steps after a first (warm-up) step" in " ".join(st["basis"])
    paper = {s["name"]: s for s in build_plan("paper", measure=True)["stages"]}
    assert "no measured step: the data is not on this machine" in " ".join(paper["train: prefix-tuning"]["basis"])
