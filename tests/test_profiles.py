"""Run profiles validate, and bad values are refused with the field named."""

from __future__ import annotations

import pytest

from srllm.profiles import PROFILE_NAMES, ProfileError, get_profile


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_every_profile_validates(name):
    p = get_profile(name)
    assert p.name == name
    p.validate()


def test_paper_profile_is_table_3():
    p = get_profile("paper")
    assert p.model == "llama-3.2-1b-instruct"
    assert (p.lora.r, p.lora.alpha, p.lora.dropout, p.lora.bias) == (64, 16, 0.2, "none")
    assert (p.quant.quant_type, p.quant.double_quant, p.quant.compute_dtype) == ("nf4", True, "float16")
    t = p.train
    assert (t.optim, t.learning_rate, t.scheduler, t.warmup_ratio) == ("paged_adamw_32bit", 2e-4, "constant", 0.03)
    assert (t.weight_decay, t.max_grad_norm, t.batch_size, t.eval_batch_size) == (0.001, 0.3, 16, 8)
    assert (t.epochs, t.max_length, t.eval_steps, t.save_steps, t.patience) == (1.0, 1024, 25, 25, 3)
    assert (t.fp16, t.bf16, t.grad_accum, t.adam_beta1, t.adam_beta2) == (True, False, 1, 0.9, 0.999)
    pre = p.prefix
    assert (pre.num_virtual_tokens, pre.learning_rate, pre.epochs, pre.optim, pre.dropout) == (30, 5e-5, 5.0, "adamw_torch", 0.1)


@pytest.mark.parametrize("overrides, field", [
    ({"train.learning_rate": -1e-4}, "train.learning_rate"),
    ({"model": "no-such-model"}, "model"),
    ({"train.method": "ia3"}, "train.method"),
    ({"lora.r": 0}, "lora.r"),
    ({"prefix.num_virtual_tokens": 0}, "prefix.num_virtual_tokens"),
    ({"generate.batch_size": 0}, "generate.batch_size"),
    ({"prompt_format": "vicuna"}, "prompt_format"),
])
def test_bad_values_are_refused_naming_the_field(overrides, field):
    with pytest.raises(ProfileError) as info:
        get_profile("smoke", **overrides)
    assert f"'{field}'" in str(info.value)


def test_unknown_override_key_and_unknown_profile():
    with pytest.raises(ProfileError, match="train.no_such"):
        get_profile("cpu", **{"train.no_such": 1})
    with pytest.raises(ProfileError, match="unknown profile"):
        get_profile("huge")


def test_overrides_apply_and_keep_the_rest():
    p = get_profile("cpu", **{"train.max_steps": 7, "seed": 3})
    assert p.train.max_steps == 7 and p.seed == 3
    assert p.model == get_profile("cpu").model


def test_prefix_tuning_can_have_its_own_step_limit():
    from srllm.training import TrainConfig

    cpu = get_profile("cpu")
    assert TrainConfig.from_profile(cpu, "prefix").max_steps == cpu.prefix.max_steps != cpu.train.max_steps
    assert TrainConfig.from_profile(cpu, "qlora").max_steps == cpu.train.max_steps
    same = get_profile("cpu", **{"prefix.max_steps": None})
    assert TrainConfig.from_profile(same, "prefix").max_steps == same.train.max_steps
    with pytest.raises(ProfileError, match=r"prefix.max_steps"):
        get_profile("cpu", **{"prefix.max_steps": 0})


def test_reproducing_chapter_states_the_cpu_step_counts(repo_root):
    cpu = get_profile("cpu")
    text = (repo_root / "book" / "reproducing.md").read_text()
    assert cpu.train.max_steps == -1 and cpu.train.epochs == 2.0  # SR_LLM: whole epochs, as in Table 3
    assert cpu.data.train_pairs == "needs_rewrite"  # the sweep's choice: only the pairs with a biased/toxic input
    assert (f"two epochs of QLoRA over the training pairs whose input is biased or toxic "
            f"(batch {cpu.train.batch_size}, early stopping on the dev loss; "
            f"prefix-tuning {cpu.prefix.max_steps} steps)") in text
    assert "benchmarks/sweep_cpu.py" in text
    assert f"the patience is {cpu.train.patience} evaluations {cpu.train.eval_steps} steps apart" in text
    # the chapter and the audit name the setting the committed sweep chose, which the profile uses
    import json

    chosen = json.loads((repo_root / "benchmarks" / "sweeps" / "sweep_cpu.json").read_text())["metrics"]["chosen"]
    assert f"(setting `{chosen}`)" in text and f"LoRA rank {cpu.lora.r}," in text
    audit = (repo_root / "book" / "audit.md").read_text()
    assert "not yet confirmed" not in text + audit and cpu.quant.compute_dtype in text + audit


def test_prefix_tuning_and_variants_keep_their_own_batch_on_cpu():
    from srllm.training import TrainConfig, variant_plan

    cpu = get_profile("cpu")
    assert TrainConfig.from_profile(cpu, "prefix").batch_size == cpu.prefix.batch_size != cpu.train.batch_size
    assert TrainConfig.from_profile(cpu, "qlora").batch_size == cpu.train.batch_size
    plan = variant_plan("Safe_PEFT-1_ep", cpu)
    assert plan["batch_size"] == cpu.train.variant_batch_size
    assert plan["train_rows"] == cpu.train.variant_epoch_steps * cpu.train.variant_batch_size
    same = get_profile("cpu", **{"prefix.batch_size": None})
    assert TrainConfig.from_profile(same, "prefix").batch_size == cpu.train.batch_size
    with pytest.raises(ProfileError, match=r"prefix.batch_size"):
        get_profile("cpu", **{"prefix.batch_size": 0})
