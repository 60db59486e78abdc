"""Training: 4-bit gradients, loss falls, resume after a kill, reuse by hash, merge, bad configs.

Every run uses tiny-random-llama (the smoke profile) and a private cache folder.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from srllm.errors import SrllmError
from srllm.training.report import run_record_table
from srllm.training import TrainConfig, latest_checkpoint, load_run, train, variant_plan

LORA_OVERRIDES = {"max_steps": 6, "learning_rate": 1e-2}
# The smoke profile made cheaper still: two rows a step, four evaluation rows; five steps an epoch,
# so the resume test's kill at step 4 falls mid-epoch and the run then crosses into a second epoch.
TEST_PROFILE = {"train.batch_size": 2, "train.eval_batch_size": 4, "data.max_train_rows": 10,
                "data.max_eval_rows": 4}


def smoke(**more):
    from srllm.profiles import get_profile

    return get_profile("smoke", **TEST_PROFILE, **more)


@pytest.fixture(scope="module")
def lora_run(cache):
    return train("lora", smoke(), progress=False, **LORA_OVERRIDES)


@pytest.fixture(scope="module")
def qlora_run(cache):
    return train("qlora", smoke(), progress=False, max_steps=3, learning_rate=1e-2)


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize("method, overrides, field", [
    ("ia3", {}, "method"),
    ("lora", {"lora": {"r": 0, "alpha": 16, "dropout": 0.0, "bias": "none", "target_modules": ["q_proj"]}}, "lora.r"),
    ("prefix", {"prefix": {"num_virtual_tokens": 0}}, "prefix.num_virtual_tokens"),
    ("prefix", {"prefix": {"num_virtual_tokens": 4, "init": "uniform"}}, "prefix.init"),
    ("lora", {"save_steps": 3, "eval_steps": 2}, "save_steps"),
    ("lora", {"learning_rate": 0.0}, "learning_rate"),
])
def test_bad_config_is_refused_with_the_field_named(method, overrides, field):
    with pytest.raises(SrllmError) as info:
        TrainConfig.from_profile("smoke", method, **overrides)
    assert f"'{field}'" in str(info.value)


def test_unknown_method_is_refused_before_any_work(cache):
    with pytest.raises(SrllmError, match="unknown method"):
        train("ia3", "smoke", progress=False)


def test_bf16_compute_falls_back_to_float32_on_a_cpu_without_bf16(monkeypatch):
    from srllm.profiles import get_profile
    from srllm.training import config as train_config

    prof = get_profile("cpu", model="tiny-random-llama")
    assert prof.quant.compute_dtype == "bfloat16"
    monkeypatch.setattr(train_config, "_cpu_bf16_supported", lambda: True)
    assert TrainConfig.from_profile(prof, "qlora").quant["compute_dtype"] == "bfloat16"
    monkeypatch.setattr(train_config, "_cpu_bf16_supported", lambda: False)
    cfg = TrainConfig.from_profile(prof, "qlora")
    assert cfg.quant["compute_dtype"] == "float32" and any("no native bf16" in n for n in cfg.notes)


def test_cpu_fallbacks_are_noted():
    from srllm.profiles import get_profile

    cfg = TrainConfig.from_profile(get_profile("paper", device="cpu", model="tiny-random-llama"), "qlora")
    assert cfg.optim == "adamw_torch" and cfg.fp16 is False and cfg.quant["compute_dtype"] == "float32"
    assert any("paged_adamw_32bit" in n for n in cfg.notes)
    pre = TrainConfig.from_profile(get_profile("paper", device="cpu", model="tiny-random-llama"), "prefix")
    assert (pre.learning_rate, pre.epochs, pre.prefix["num_virtual_tokens"]) == (5e-5, 5.0, 30)
    assert pre.prefix["dropout"] == 0.1 and any("apply_prefix_dropout" in n for n in pre.notes)


def test_records_without_rewrite_are_counted_and_bad_text_is_named(cache):
    from srllm.training import to_pairs

    pairs, stats = to_pairs([{"id": "a", "text": "x", "safe_variation": "y"}, {"id": "b", "text": "z"}])
    assert len(pairs) == 1 and stats.skipped_no_rewrite == 1 and stats.given == 2
    with pytest.raises(SrllmError, match=r"train record 2 \(id 'b'\): field 'text'"):
        to_pairs([{"id": "a", "text": "x", "safe_variation": "y"}, {"id": "b", "text": None, "safe_variation": "y"}])


# --------------------------------------------------------------------------- 4-bit gradients


def _qlora_model():
    from srllm.training.model import attach_method, load_base

    cfg = TrainConfig.from_profile("smoke", "qlora")
    model, tok = load_base(cfg)
    return cfg, attach_method(model, cfg), tok


def test_every_lora_matrix_gets_a_nonzero_gradient_on_a_4bit_model(cache):
    from srllm.training.model import gradient_problems, linear4bit_layers

    cfg, model, tok = _qlora_model()
    assert linear4bit_layers(model), "the base should be loaded in 4 bits"
    batch = tok(["Some people are lazy.", "Rewrite this text kindly please."], return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    # An evaluation pass first: on AVX512-BF16 CPUs this is what breaks gradients unguarded.
    model.eval()
    with torch.no_grad():
        model(**batch)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):  # B starts at zero, so A's gradient is non-zero from the second step on
        opt.zero_grad()
        model(**batch, labels=labels).loss.backward()
        opt.step()
    lora = {n: p for n, p in model.named_parameters() if ".lora_A." in n or ".lora_B." in n}
    assert len(lora) == 2 * 7 * 2  # 2 layers x 7 projections x (A, B)
    zero = [n for n, p in lora.items() if p.grad is None or p.grad.abs().sum() == 0]
    assert zero == []
    assert gradient_problems(model, "qlora") == (len(lora), [])


def test_a_4bit_model_that_ran_inference_is_refused(cache):
    from srllm.models import load_model
    from srllm.profiles import QuantSettings
    from srllm.training.model import attach_method, linear4bit_layers

    model, tok = load_model("tiny-random-llama", quant=QuantSettings(compute_dtype="float32"), device="cpu")
    if not linear4bit_layers(model)[0][1].support_avx512bf16_for_cpu:
        pytest.skip("this CPU has no AVX512-BF16: bitsandbytes never repacks, the trap cannot occur")
    model.eval()
    with torch.no_grad():
        model.generate(**tok(["hello there"], return_tensors="pt"), max_new_tokens=2, do_sample=False)
    with pytest.raises(SrllmError, match="already run inference"):
        attach_method(model, TrainConfig.from_profile("smoke", "qlora"))


def test_guard_flags_dead_lora_gradients(cache):
    """The check the Trainer runs after the first backward pass, on a model built the wrong way."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from srllm.models import load_model
    from srllm.profiles import QuantSettings
    from srllm.training.model import gradient_problems, linear4bit_layers

    model, tok = load_model("tiny-random-llama", quant=QuantSettings(compute_dtype="float32"), device="cpu")
    if not linear4bit_layers(model)[0][1].support_avx512bf16_for_cpu:
        pytest.skip("this CPU has no AVX512-BF16: bitsandbytes never repacks, the trap cannot occur")
    batch = tok(["Some people are lazy."], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        model.generate(**batch, max_new_tokens=2, do_sample=False)  # the trap: inference before training
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "gate_proj"],
                                             task_type="CAUSAL_LM"))
    model.train()
    model(**batch, labels=batch["input_ids"]).loss.backward()
    _, problems = gradient_problems(model, "qlora")
    # Depending on the batch shape the repacked layers give None (no autograd kernel) or zero gradients.
    assert any(".lora_B." in p for p in problems)


def test_qlora_run_checks_gradients_and_records_itself(qlora_run):
    m = qlora_run.manifest
    assert m["status"] == "finished" and m["method"] == "qlora"
    assert m["gradient_check"]["ok"] is True and m["gradient_check"]["params_checked"] == 28
    assert m["gradient_check"]["checked_steps"] == [1, 2]
    for key in ("torch", "transformers", "peft", "bitsandbytes"):
        assert m["packages"][key]
    assert m["device"]["device"] == "cpu" and m["seed"] == 42
    assert m["global_step"] == 3 and m["wall_seconds"] > 0
    e = m["energy"]
    assert e["energy_kwh"] > 0 and e["kg_co2e"] == pytest.approx(0.4 * e["energy_kwh"])
    assert e["power_sources"] and "Appendix D" in e["method"]
    assert m["data"]["train_used"] == 10 and m["data"]["hash"]
    assert qlora_run.adapter_dir.is_dir() and qlora_run.merged_dir.is_dir()
    assert not (qlora_run.run_dir / "checkpoints").exists()


def test_run_record_has_throughput_and_padding_share(qlora_run):
    t = qlora_run.manifest["throughput"]
    assert t["batches"] == qlora_run.manifest["global_step"]  # one batch per step (no accumulation)
    assert t["tokens"] > t["response_tokens"] > 0
    assert 0.0 <= t["padding_share"] < 1.0
    assert t["padding_share"] == pytest.approx(t["padded_tokens"] / (t["tokens"] + t["padded_tokens"]), abs=1e-4)
    assert 0 < t["step_seconds"] <= t["session_seconds"]
    assert t["step_tokens_per_s"] >= t["tokens_per_s"] > 0
    # the smoke profile has no LoRA dropout, so each batch's shared prompt start ran once
    assert t["shared_start_tokens"] > 0 and 0 < t["computed_share"] < 1
    assert t["computed_share"] == pytest.approx(1 - t["shared_start_tokens"] / (t["tokens"] + t["padded_tokens"]),
                                                abs=1e-4)
    table = run_record_table(qlora_run)
    assert table.loc["padding share of computed positions", "value"] == t["padding_share"]
    assert table.loc["run folder (in the cache's runs/)", "value"] == qlora_run.run_dir.name


def test_length_grouping_pads_less_than_random_batches():
    """The length-grouped sampler's batches carry fewer padding positions than shuffled ones."""
    import random

    from srllm.training import EpochSeededLengthSampler

    rng = random.Random(0)
    lengths = [rng.randint(100, 260) for _ in range(375)]

    def padding(order, bs=8):
        batches = [order[i:i + bs] for i in range(0, len(order), bs)]
        pad = sum(max(lengths[j] for j in b) * len(b) - sum(lengths[j] for j in b) for b in batches)
        return pad / sum(max(lengths[j] for j in b) * len(b) for b in batches)

    grouped = list(EpochSeededLengthSampler(lengths, 8, seed=42))
    shuffled = list(range(375))
    rng.shuffle(shuffled)
    assert sorted(grouped) == list(range(375))
    assert padding(grouped) < 0.25 * padding(shuffled)


def loss_and_grads(model, fn):
    """(loss, gradients of every trainable tensor) of the loss ``fn()`` returns, from zeroed gradients."""
    model.zero_grad()
    loss = fn()
    loss.backward()
    return float(loss.detach()), [p.grad.clone() for p in model.parameters() if p.requires_grad]


def _ragged_lora_batch(cache):
    """A tiny LoRA model, its Trainer and a 3-row batch whose responses start at different columns."""
    from peft import LoraConfig, get_peft_model
    from transformers import TrainingArguments

    from srllm.models import load_model
    from srllm.training.pairs import Collator
    from srllm.training.trainer import _trainer_class

    torch.manual_seed(0)
    model, tok = load_model("tiny-random-llama", device="cpu")
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                             lora_dropout=0.0, init_lora_weights=False))
    tok.padding_side = "right"
    feats = []
    for prompt_len, response_len in ((12, 3), (4, 9), (7, 5)):
        ids = torch.randint(5, 200, (prompt_len + response_len,)).tolist()
        feats.append({"input_ids": ids, "attention_mask": [1] * len(ids),
                      "labels": [-100] * prompt_len + ids[prompt_len:]})
    batch = Collator(tok)(feats)
    trainer = _trainer_class()(model=model, args=TrainingArguments(output_dir=str(cache / "w"), report_to=[]))
    model.train()
    return model, trainer, batch


def test_loss_at_labelled_positions_equals_the_full_loss(cache):
    """For a Llama-architecture model, compute_loss applies the output layer at each row's labelled
    positions only (17 of the 42 positions that could predict one here, and one position per row inside
    the forward): same loss and same LoRA gradients as the library's
    loss over every position, padding included, in training and (no gradients) in evaluation."""
    from transformers import Trainer

    model, trainer, batch = _ragged_lora_batch(cache)
    n = torch.tensor(int((batch["labels"][:, 1:] != -100).sum()))
    head = model.get_base_model().get_output_embeddings()
    rows_seen = []
    handle = head.register_forward_hook(lambda mod, args, out: rows_seen.append(args[0].shape))
    try:
        full, g_full = loss_and_grads(model, lambda: Trainer.compute_loss(trainer, model, dict(batch),
                                                                          num_items_in_batch=n))
        rows_seen.clear()
        picked, g_picked = loss_and_grads(model, lambda: trainer.compute_loss(model, dict(batch),
                                                                              num_items_in_batch=n))
    finally:
        handle.remove()
    rows = batch["labels"].shape[0]  # the forward's one position per row, then the labelled positions only
    assert rows_seen == [torch.Size([rows, 1, head.in_features]), torch.Size([int(n), head.in_features])]
    assert int(n) < batch["labels"][:, 1:].numel()
    assert picked == pytest.approx(full, rel=1e-5)
    assert any(float(g.abs().max()) > 0 for g in g_full)
    for a, b in zip(g_full, g_picked):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)
    model.eval()
    with torch.no_grad():
        loss, outputs = trainer.compute_loss(model, dict(batch), return_outputs=True)
        library = Trainer.compute_loss(trainer, model, dict(batch))
    assert float(outputs["loss"]) == pytest.approx(float(library), rel=1e-5) and outputs["loss"] is loss


def test_loss_on_the_logits_window_equals_the_full_loss(cache, monkeypatch):
    """Where the labelled-positions loss does not apply (other architectures), compute_loss
    applies the output layer from the first predicted position on: same loss and LoRA gradients."""
    from transformers import Trainer

    import srllm.training.trainer as trainer_module

    model, trainer, batch = _ragged_lora_batch(cache)
    monkeypatch.setattr(trainer_module, "labelled_loss_applies", lambda m: False)
    n = torch.tensor(int((batch["labels"][:, 1:] != -100).sum()))
    seen = []
    real_forward = type(model.get_base_model()).forward

    @functools.wraps(real_forward)  # keeps the signature, which compute_loss inspects
    def spy(self, *a, **k):
        seen.append(k.get("logits_to_keep"))
        return real_forward(self, *a, **k)

    full, g_full = loss_and_grads(model, lambda: Trainer.compute_loss(trainer, model, dict(batch),
                                                                      num_items_in_batch=n))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(model.get_base_model()), "forward", spy)
        window, g_window = loss_and_grads(model, lambda: trainer.compute_loss(model, dict(batch), num_items_in_batch=n))
    width = batch["labels"].shape[1]
    assert seen and 0 < seen[-1] < width  # fewer positions than the batch is wide
    assert window == pytest.approx(full, rel=1e-5)
    assert any(float(g.abs().max()) > 0 for g in g_full)
    for a, b in zip(g_full, g_window):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_labelled_positions_loss_keeps_a_learned_prefix_and_applies_to_llama_only(cache):
    """Prefix-tuning: peft adds the learned prefix in its own forward, which the labelled-positions loss
    runs, so loss and prefix gradients equal the library's. A model whose logits are not the output
    layer of its last hidden state alone (Gemma-2 soft-caps them) keeps the library's loss."""
    from peft import PrefixTuningConfig, get_peft_model
    from transformers import Trainer

    from srllm.models import load_model
    from srllm.training.label_loss import applies_to

    model, trainer, batch = _ragged_lora_batch(cache)
    base, _ = load_model("tiny-random-llama", device="cpu")
    torch.manual_seed(1)
    prefix = get_peft_model(base, PrefixTuningConfig(num_virtual_tokens=3, task_type="CAUSAL_LM"))
    for p in prefix.parameters():
        if p.requires_grad:
            torch.nn.init.normal_(p, std=1.0)  # a prefix that changes the outputs
    assert applies_to(model) and applies_to(prefix)
    trainer.model = prefix
    prefix.train()
    n = torch.tensor(int((batch["labels"][:, 1:] != -100).sum()))
    full, g_full = loss_and_grads(prefix, lambda: Trainer.compute_loss(trainer, prefix, dict(batch),
                                                                       num_items_in_batch=n))
    picked, g_picked = loss_and_grads(prefix, lambda: trainer.compute_loss(prefix, dict(batch),
                                                                           num_items_in_batch=n))
    assert picked == pytest.approx(full, rel=1e-5)
    assert g_full and all(float(g.abs().max()) > 0 for g in g_full)
    for a, b in zip(g_full, g_picked):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)
    other, _ = load_model("tiny-random-llama", device="cpu")
    other.config.model_type = "gemma2"
    assert not applies_to(other)


def test_shared_prompt_start_once_gives_the_full_batch_loss_and_gradients(cache):
    """With share_prompt_start, a batch's common prompt start runs once (one row, its keys and values
    expanded to the batch): same loss and LoRA gradients as the library's loss over every row, rows of
    different lengths and padding included; the Trainer counts the prompt positions it did not compute."""
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    from srllm.models import load_model
    from srllm.training.pairs import Collator
    from srllm.training.shared_prompt import shared_start_len
    from srllm.training.trainer import _trainer_class

    torch.manual_seed(0)
    model, tok = load_model("tiny-random-llama", device="cpu")
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                             lora_dropout=0.0, init_lora_weights=False))
    tok.padding_side = "right"
    start = torch.randint(5, 200, (11,)).tolist()  # the instruction every prompt begins with
    feats = []
    for own, response_len in ((6, 3), (2, 9), (4, 5)):
        prompt = start + torch.randint(5, 200, (own,)).tolist()
        response = torch.randint(5, 200, (response_len,)).tolist()
        ids = prompt + response
        feats.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [-100] * len(prompt) + response})
    batch = Collator(tok)(feats)
    assert shared_start_len(batch["input_ids"], batch["labels"], batch["attention_mask"]) == 11
    n = torch.tensor(int((batch["labels"][:, 1:] != -100).sum()))
    trainer = _trainer_class()(model=model, args=TrainingArguments(output_dir=str(cache / "w"), report_to=[]),
                               share_prompt_start=True)

    model.train()
    full, g_full = loss_and_grads(model, lambda: Trainer.compute_loss(trainer, model, dict(batch),
                                                                      num_items_in_batch=n))
    shared, g_shared = loss_and_grads(model, lambda: trainer.compute_loss(model, dict(batch), num_items_in_batch=n))
    assert trainer.throughput["shared_start_tokens"] == 11 * 2
    assert shared == pytest.approx(full, rel=1e-5)
    assert len(g_full) == 12 and all(float(g.abs().max()) > 0 for g in g_full)
    for a, b in zip(g_full, g_shared):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_shared_prompt_start_applies_only_where_it_changes_nothing_but_float_order():
    """No shared start with LoRA dropout (one mask per row), gradient checkpointing or prefix-tuning;
    never past the position before the first label, and none for one row or a short common start."""
    from srllm.training.shared_prompt import applies, shared_start_len

    prof = smoke()
    assert applies(TrainConfig.from_profile(prof.replace(**{"lora.dropout": 0.0}), "qlora"))
    assert not applies(TrainConfig.from_profile(prof.replace(**{"lora.dropout": 0.05}), "qlora"))
    assert not applies(TrainConfig.from_profile(prof.replace(**{"lora.dropout": 0.0}), "prefix"))
    ids = torch.tensor([[1] * 20 + [2, 3], [1] * 20 + [4, 5]])
    labels = torch.full_like(ids, -100)
    assert shared_start_len(ids, labels) == 20
    labels[1, 15] = 7  # a label at 15 is predicted at 14, which must be computed with the row's own pass
    assert shared_start_len(ids, labels) == 14
    assert shared_start_len(ids[:1], labels[:1]) == 0
    assert shared_start_len(torch.tensor([[1] * 5 + [2], [1] * 5 + [3]]), torch.full((2, 6), -100)) == 0

# --------------------------------------------------------------------------- loss, reuse, resume


def test_loss_falls_over_a_short_smoke_run(lora_run):
    curves = lora_run.loss_curves()
    ev = [v for _, v in curves["eval"]]
    assert curves["eval"][0][0] == 0, "the curve starts with an evaluation before training"
    assert ev[-1] < ev[0] - 0.05
    assert lora_run.final_eval_loss < lora_run.manifest["first_eval_loss"]


def test_same_config_is_reused_not_retrained(lora_run):
    manifest = lora_run.run_dir / "manifest.json"
    before = manifest.stat().st_mtime_ns
    again = train("lora", smoke(), progress=False, **LORA_OVERRIDES)
    assert again.reused and again.run_dir == lora_run.run_dir
    assert manifest.stat().st_mtime_ns == before
    other = TrainConfig.from_profile(smoke(), "lora", max_steps=5)
    from srllm.training import run_hash

    assert run_hash(other, lora_run.manifest["data"]["hash"]) != lora_run.run_hash
    assert load_run(lora_run.run_dir).manifest["run_hash"] == lora_run.run_hash


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from transformers import TrainerCallback
    from srllm.profiles import get_profile
    from srllm.training import train

    class KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step >= 4:
                os.kill(os.getpid(), signal.SIGKILL)  # as abrupt as a kill from outside

    train("lora", get_profile("smoke", **PROFILE), out_dir=sys.argv[1], progress=False,
          callbacks=[KillAfterSave()], **OVERRIDES)
""")


def test_resume_after_kill_matches_an_uninterrupted_run(lora_run, cache, tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "killed"
    env = dict(os.environ, SRLLM_CACHE=str(cache))
    script = f"PROFILE = {TEST_PROFILE!r}\nOVERRIDES = {LORA_OVERRIDES!r}\n" + KILL_SCRIPT
    proc = subprocess.run([sys.executable, "-c", script, str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not (out / "manifest.json").exists()
    assert latest_checkpoint(out / "checkpoints").name == "checkpoint-4"
    # A checkpoint cut short mid-write must be ignored, not resumed from.
    (out / "checkpoints" / "checkpoint-6").mkdir()
    assert latest_checkpoint(out / "checkpoints").name == "checkpoint-4"

    resumed = train("lora", smoke(), out_dir=out, progress=False, **LORA_OVERRIDES)
    assert not resumed.reused and resumed.manifest["resumed_from_step"] == 4
    assert resumed.manifest["sessions"] == 2
    assert resumed.run_hash == lora_run.run_hash
    assert resumed.final_train_loss == pytest.approx(lora_run.final_train_loss, abs=1e-4)
    assert resumed.final_eval_loss == pytest.approx(lora_run.final_eval_loss, abs=1e-4)
    a = load_file(resumed.adapter_dir / "adapter_model.safetensors")
    b = load_file(lora_run.adapter_dir / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)
    curves_a, curves_b = resumed.loss_curves(), lora_run.loss_curves()
    assert [s for s, _ in curves_a["eval"]] == [s for s, _ in curves_b["eval"]]


def test_a_folder_holding_another_run_is_refused(lora_run, cache):
    with pytest.raises(SrllmError, match="holds a different training run"):
        train("lora", smoke(), out_dir=lora_run.run_dir, progress=False, max_steps=2)


# --------------------------------------------------------------------------- merge


def _greedy(model, tok, prompts):
    outs = []
    for p in prompts:
        ids = tok(p, return_tensors="pt")
        with torch.no_grad():
            seq = model.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
            logits = model(**ids).logits[0, -1]
        outs.append((seq[0, ids["input_ids"].shape[1]:].tolist(), logits))
    return outs


@pytest.mark.parametrize("run_name", ["lora_run", "qlora_run"])
def test_merged_model_equals_base_plus_adapter(run_name, request):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from srllm.models import load_model

    run = request.getfixturevalue(run_name)
    prompts = ["Women cannot drive.", "The weather is nice today."]
    merged = AutoModelForCausalLM.from_pretrained(run.merged_dir, dtype=torch.float32).eval()
    base, tok = load_model(run.model, device="cpu", dtype="float32")
    plain = _greedy(base.eval(), tok, prompts)
    adapted = PeftModel.from_pretrained(base, str(run.adapter_dir)).eval()
    got_merged, got_adapter = _greedy(merged, tok, prompts), _greedy(adapted, tok, prompts)
    for (seq_m, log_m), (seq_a, log_a), (_, log_0) in zip(got_merged, got_adapter, plain):
        assert seq_m == seq_a
        torch.testing.assert_close(log_m, log_a, atol=1e-4, rtol=1e-4)
        assert (log_a - log_0).abs().max() > 1e-3, "the adapter should change the model"


# --------------------------------------------------------------------------- variants and CLI


def test_variant_plans_scale_epochs_to_steps():
    from srllm.profiles import get_profile

    prof = get_profile("smoke", **{"train.variant_epoch_steps": 2})
    one, five = variant_plan("Safe_PEFT-1_ep", prof), variant_plan("Safe_PEFT-5_ep", prof)
    assert (one["method"], one["max_steps"], five["max_steps"]) == ("qlora", 2, 10)
    assert one["train_rows"] == five["train_rows"] == 2 * prof.train.batch_size
    assert variant_plan("Safe_Dense-IFT", prof)["method"] == "dense"
    assert variant_plan("Safe_Dense-IT", prof)["method"] == "prefix"  # the paper's name for prefix-tuning
    paper = variant_plan("Safe_PEFT-5_ep", "paper")
    assert (paper["epochs"], paper["max_steps"], paper["train_rows"]) == (5.0, -1, None)
    with pytest.raises(SrllmError, match="unknown variant"):
        variant_plan("Safe_Other", prof)


def test_dense_variant_repeats_its_rows_for_five_epochs(cache):
    from srllm.profiles import get_profile
    from srllm.training import train_variant

    prof = smoke(**{"train.variant_epoch_steps": 1})
    run = train_variant("Safe_Dense-IFT", prof, progress=False)
    m = run.manifest
    assert m["method"] == "dense" and m["data"]["train_used"] == prof.train.batch_size
    assert m["global_step"] == 5 and m["epoch"] == pytest.approx(5.0)
    assert m["trainable_params"] == m["total_params"] and run.adapter_dir is None
    assert (run.merged_dir / "config.json").exists()


def test_cli_trains_prefix_on_a_data_file_and_reports(cache, tmp_path, capsys):
    from srllm.cli import main
    from srllm.data import load_sample

    rows = [r.to_dict() for r in load_sample("cmd")[:40]]
    rows[0]["safe_variation"] = None
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "prefix-run"
    code = main(["train", "--method", "prefix", "--profile", "smoke", "--input", str(data), "--out", str(out),
                 "--max-steps", "2", "--quiet", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "prefix" and summary["steps"] == 2
    cfg = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "PREFIX_TUNING" and cfg["num_virtual_tokens"] == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert str(data) in manifest["data"]["source"] and manifest["merged_dir"] is None
    assert main(["train", "--method", "prefix", "--profile", "smoke", "--input", str(tmp_path / "none.csv")]) == 2


def test_prefix_dropout_is_applied_in_training_only():
    """Table 3's prefix dropout 0.1: the prefix key/values differ between two training-mode
    passes (about a tenth of them zeroed) and are identical in evaluation mode."""
    from srllm.models import load_model
    from srllm.profiles import get_profile
    from srllm.training.model import attach_method

    cfg = TrainConfig.from_profile(get_profile("smoke", **{"prefix.dropout": 0.1}), "prefix")
    model, _ = load_model("tiny-random-llama", device="cpu")
    torch.manual_seed(0)
    pm = attach_method(model, cfg)
    enc = pm.prompt_encoder[pm.active_adapter]
    tokens = pm.prompt_tokens[pm.active_adapter].unsqueeze(0)
    pm.train()
    a, b = enc(tokens), enc(tokens)
    clean = enc.embedding(tokens)
    assert not torch.equal(a, b)
    zeroed = ((a == 0) & (clean != 0)).float().mean().item()
    assert 0.05 < zeroed < 0.15
    pm.eval()
    assert torch.equal(enc(tokens), enc(tokens)) and torch.equal(enc(tokens), clean)
    no_drop = attach_method(load_model("tiny-random-llama", device="cpu")[0],
                            TrainConfig.from_profile(get_profile("smoke", **{"prefix.dropout": 0.0}), "prefix"))
    no_drop.train()
    enc0 = no_drop.prompt_encoder[no_drop.active_adapter]
    assert torch.equal(enc0(tokens), enc0(tokens))
