"""Job-posting case study (Section 5): plans, data mapping and splits, the phase-2 start from phase 1's
adapter (srllm.training's ``init_adapter``), the Table 9 measures and the side-by-side table.

Training uses tiny-random-llama (smoke profile) in a private cache folder.
"""

from __future__ import annotations

import math
import shutil

import pytest

from srllm.results import jobs
from srllm.errors import SrllmError


def smoke(**more):
    from srllm.profiles import get_profile

    return get_profile("smoke", **{"train.batch_size": 2, "data.max_train_rows": 4, "data.max_eval_rows": 2},
                       **more)


@pytest.fixture(scope="module")
def postings():
    from srllm.data import load_sample

    return load_sample("job_postings")


# --------------------------------------------------------------------------- plan and data


def test_plan_table_lists_every_setting():
    plan = jobs.plan_for_profile("smoke")
    table = jobs.plan_table(plan)
    assert list(table.columns) == ["setting"] and table.loc["n_test", "setting"] == plan.n_test
    assert set(table.index) == set(plan.__dict__)


def test_plans_follow_the_profile_and_refuse_bad_settings():
    smoke_plan = jobs.plan_for_profile("smoke")
    assert smoke_plan.prompt_format == "alpaca" and smoke_plan.method == "qlora"
    assert smoke_plan.phase2_max_length >= 512  # a posting with its prompt and rewrite fits
    paper = jobs.plan_for_profile("paper")
    assert paper.phase1_max_steps == -1 and paper.n_test is None and paper.eval_rows is None
    assert paper.phase2_batch_size == 16  # the profile's batch size (Table 3)
    assert jobs.plan_for_profile("cpu", method="lora", n_test=3).n_test == 3
    assert jobs.plan_for_profile("cpu", phase2_max_steps=9).phase2_max_steps == 9
    with pytest.raises(SrllmError, match="dense"):
        jobs.plan_for_profile("cpu", method="dense")
    with pytest.raises(SrllmError, match="n_test"):
        jobs.plan_for_profile("cpu", n_test=0)
    with pytest.raises(SrllmError, match="unknown case-study setting"):
        jobs.plan_for_profile("cpu", phase3_steps=1)


def test_records_map_biased_to_text_and_the_rewrite_to_safe_variation(postings):
    from srllm.data import load_sample

    pair = load_sample("job_pairs")[0]
    assert jobs.pair_records([pair]) == [{"id": pair.id, "text": pair.biased, "safe_variation": pair.neutral}]
    rec = jobs.posting_records(postings[:1])[0]
    assert (rec["text"], rec["safe_variation"]) == (postings[0].biased, postings[0].debiased)


def test_posting_split_is_disjoint_deterministic_and_holds_out_a_test_part(postings):
    a, b = jobs.split_postings(postings, 42), jobs.split_postings(postings, 42)
    ids = {k: [p.id for p in v] for k, v in a.items()}
    assert ids == {k: [p.id for p in v] for k, v in b.items()}
    assert sum(len(v) for v in ids.values()) == len(postings)
    assert not (set(ids["train"]) & set(ids["test"])) and not (set(ids["dev"]) & set(ids["test"]))
    assert len(ids["test"]) >= 10
    levels = {p.level for p in a["test"]}
    assert levels == {p.level for p in postings}  # stratified: every level is tested
    data = jobs.load_case_data(smoke(), jobs.plan_for_profile("smoke", n_test=2))
    assert len(data.test) == 2 and data.sizes()["postings_train"] == 4
    assert data.sizes()["pairs_dev"] == data.sizes()["postings_dev"] == 0  # budget plans skip evaluation passes
    with_dev = jobs.load_case_data(smoke(), jobs.plan_for_profile("smoke", eval_rows=None))
    assert len(with_dev.postings["dev"]) == 2  # the profile's max_eval_rows
    assert {p.id for p in data.test} <= set(ids["test"])


# --------------------------------------------------------------------------- init_adapter hook


@pytest.fixture(scope="module")
def phase1(cache):
    from srllm.data import load_sample
    from srllm.training import train

    pairs = jobs.pair_records(load_sample("job_pairs")[:8])
    return train("lora", smoke(), pairs, [], progress=False, max_steps=2, learning_rate=5e-2,
                 prompt_format="alpaca")


def _lora_b(adapter_dir):
    from peft import load_peft_weights

    w = load_peft_weights(str(adapter_dir), device="cpu")
    return {k: v for k, v in w.items() if "lora_B" in k}


def test_phase2_starts_from_phase1_weights(phase1, postings, cache):
    from srllm.training import train

    recs = jobs.posting_records(postings[:2])
    # A vanishing learning rate leaves the starting weights in place: the result shows where training began.
    cont = train("lora", smoke(), recs, [], progress=False, max_steps=1, learning_rate=1e-12, max_length=512,
                 prompt_format="alpaca", init_adapter=str(phase1.adapter_dir))
    fresh = train("lora", smoke(), recs, [], progress=False, max_steps=1, learning_rate=1e-12, max_length=512,
                  prompt_format="alpaca")
    start, got, zero = _lora_b(phase1.adapter_dir), _lora_b(cont.adapter_dir), _lora_b(fresh.adapter_dir)
    assert start and set(start) == set(got)
    assert any(float(v.abs().max()) > 1e-4 for v in start.values())  # phase 1 moved B away from zero
    for k in start:
        assert float((got[k] - start[k]).abs().max()) < 1e-6
        assert float(zero[k].abs().max()) < 1e-6  # a fresh LoRA starts with B = 0
    assert cont.run_hash != fresh.run_hash
    assert cont.config["init_adapter"] == str(phase1.adapter_dir)


def test_init_adapter_is_hashed_by_content_not_path(phase1, tmp_path):
    from srllm.training import TrainConfig, run_hash

    copy = tmp_path / "copy"
    shutil.copytree(phase1.adapter_dir, copy)
    a = TrainConfig.from_profile(smoke(), "lora", init_adapter=str(phase1.adapter_dir))
    b = TrainConfig.from_profile(smoke(), "lora", init_adapter=str(copy))
    none = TrainConfig.from_profile(smoke(), "lora")
    assert run_hash(a, "d") == run_hash(b, "d") != run_hash(none, "d")
    assert "init_adapter" not in none.hashed_fields()  # runs without it keep their earlier hashes


def test_init_adapter_must_fit_the_new_run(phase1, tmp_path):
    from srllm.training import TrainConfig, load_init_adapter

    with pytest.raises(SrllmError, match="init_adapter.*dense"):
        TrainConfig.from_profile(smoke(), "dense", init_adapter=str(phase1.adapter_dir))
    with pytest.raises(SrllmError, match="init_adapter.*adapter_config.json"):
        TrainConfig.from_profile(smoke(), "lora", init_adapter=str(tmp_path))
    cfg = TrainConfig.from_profile(smoke(**{"lora.r": 4}), "lora", init_adapter=str(phase1.adapter_dir))
    with pytest.raises(SrllmError, match="rank 8.*rank 4"):
        load_init_adapter(None, cfg)
    cfg = TrainConfig.from_profile(smoke(), "prefix", init_adapter=str(phase1.adapter_dir))
    with pytest.raises(SrllmError, match="LORA adapter; method prefix needs PREFIX_TUNING"):
        load_init_adapter(None, cfg)


# --------------------------------------------------------------------------- measures and Table 9


def test_measures_on_known_rewrites(postings):
    test = postings[:4]
    # 0: the human debiased version; 1: the biased original unchanged; 2: empty output; 3: a short one.
    # With a 100-token limit the two full postings (116+ tokens) count as cut short, the others not.
    rewrites = [test[0].debiased, test[1].biased, "", "We are hiring."]
    ev = jobs.evaluate(test, rewrites, model_name="tiny-random-llama", max_new_tokens=100)
    df = ev.per_posting
    assert df.loc[0, "coded_after"] == df.loc[0, "coded_reference"]
    assert df.loc[1, "coded_after"] == df.loc[1, "coded_before"]
    assert df.loc[1, "similarity"] == pytest.approx(1.0, abs=1e-5)
    assert df.loc[2, "similarity"] == 0.0 and df.loc[2, "coded_after"] == 0 and math.isnan(df.loc[2, "ppl_after"])
    # an unchanged rewrite has the original's perplexity under the same scorer
    assert df.loc[1, "ppl_after"] == pytest.approx(df.loc[1, "ppl_before"], rel=1e-4)
    assert ev.averages["biased_terms_before"] == pytest.approx(df["coded_before"].mean())
    before, after = ev.averages["biased_terms_before"], ev.averages["biased_terms_after"]
    assert ev.averages["reduction_percent"] == pytest.approx(100 * (before - after) / before)
    assert ev.averages["similarity_percent"] == pytest.approx(100 * df["similarity"].mean())
    assert any("1 empty rewrite" in n for n in ev.notes)
    assert ev.truncated_rewrites == 2 and list(df["hit_token_limit"]) == [True, True, False, False]
    assert any("100-token generation limit" in n for n in ev.notes)
    with pytest.raises(SrllmError, match="3 rewrites"):
        jobs.evaluate(test, rewrites[:3], model_name="tiny-random-llama", max_new_tokens=10)
    # the page's glue values and its reference table come from the same averages
    from srllm.paper import TABLE9

    h = jobs.headlines(len(test), ev)
    assert h["jobs_postings"] == 4 and h["jobs_truncated_rewrites"] == 2
    assert h["jobs_biased_before"] == round(before, 2) and h["jobs_biased_after"] == round(after, 2)
    assert h["jobs_reduction_pct"] == round(ev.averages["reduction_percent"], 1)
    assert h["jobs_ppl_after"] == round(ev.averages["perplexity_after"], 1)
    assert h["jobs_paper_biased_before"] == TABLE9.biased_terms_before
    ref = jobs.reference_table(ev.averages)
    assert ref.loc["gender-coded terms / post", "rewrite (ours)"] == pytest.approx(after)
    assert math.isnan(ref.loc["content similarity (%)", "original"])
    assert ref.loc["perplexity (base model)", "human debiased (reference)"] == ev.averages["perplexity_reference"]
    assert set(jobs.PER_POSTING_COLUMNS) <= set(df.columns)


def test_headlines_say_n_a_where_a_measure_is_undefined():
    averages = {"biased_terms_before": 0.0, "biased_terms_after": 0.0, "reduction_percent": float("nan"),
                "similarity_percent": 50.0, "perplexity_before": 20.0, "perplexity_after": float("nan")}
    h = jobs.headlines(2, jobs.JobsEvaluation(None, averages, 0, 16, []))
    assert h["jobs_reduction_pct"] == "n/a" and h["jobs_ppl_after"] == "n/a" and h["jobs_ppl_before"] == 20.0


def test_runs_table_lists_both_phases_with_their_cuts():
    from types import SimpleNamespace

    def run(steps, cut, length):
        summary = {c: None for c in jobs.RUN_COLUMNS if c not in ("cut_at_max_length", "max_length")}
        summary.update(method="lora", steps=steps)
        return SimpleNamespace(summary=lambda: summary, manifest={"data": {"train_truncated": cut}},
                               config={"max_length": length})

    table = jobs.runs_table(run(2, 0, 256), run(3, 1, 512))
    assert list(table.columns) == jobs.RUN_COLUMNS
    assert list(table.index) == ["phase 1 (pairs)", "phase 2 (postings)"]
    assert list(table["cut_at_max_length"]) == [0, 1] and list(table["max_length"]) == [256, 512]
    assert list(table["steps"]) == [2, 3]


def test_biased_terms_counts_coded_words_and_other_phrases():
    got = jobs.biased_terms("He is a young, competitive rockstar who is supportive.")
    assert got["gender_coded"] == 2 and set(got["coded_words"]) == {"competitive", "supportive"}
    assert got["other_flagged"] == 3  # he, young, rockstar


def test_table9_side_by_side_uses_the_papers_values():
    from srllm.paper import TABLE9

    avg = {"biased_terms_before": 2.0, "biased_terms_after": 1.0, "reduction_percent": 50.0,
           "similarity_percent": 90.0, "perplexity_before": 30.0, "perplexity_after": 25.0}
    t = jobs.compare_with_paper(avg, model="smollm2-135m-instruct", n_postings=8)
    assert t.loc["Avg. biased terms / post (original)", "paper"] == TABLE9.biased_terms_before
    assert t.loc["Perplexity (rewritten)", "difference"] == pytest.approx(25.0 - TABLE9.perplexity_after)
    assert t.loc["Reduction of biased terms (%)", "paper"] == pytest.approx(60.0)
    assert t["note"].str.contains("8 held-out postings").all()
