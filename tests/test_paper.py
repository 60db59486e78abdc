"""Internal consistency of the paper's reported numbers (srllm.paper).

Where the paper is inconsistent the test does not pass silently: it asserts
that the set of failing cells is exactly the set documented in
``srllm.paper.INCONSISTENCIES``, so a typo in our transcription or a new
finding shows up as a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from srllm import paper as P

T7 = {r.key: r for r in P.TABLE7}

ROOT = Path(__file__).resolve().parents[1]


def documented_cells(key: str) -> set[str]:
    return set(P.inconsistency(key).cells)


# --- Table 1 ---------------------------------------------------------------


def test_table1_sums_differ_from_20000_exactly_where_documented():
    sums = P.TABLE1.attribute_sums()
    off = {attr for attr, total in sums.items() if total != P.TABLE1.datapoints}
    assert off == documented_cells("table1_sums")
    # the description in the inconsistency names the actual totals
    assert sums["harm"] == 19_998
    assert {sums[a] for a in ("bias", "toxicity", "sentiment", "annotation", "split")} == {19_999}


def test_table12_repeats_table1_label_counts():
    for attr, counts in P.TABLE12.items():
        assert counts == P.TABLE1.class_distribution[attr]
    assert set(P.TABLE12) == {"bias", "toxicity", "sentiment", "harm"}


def test_test_split_size_disagrees_with_section_3_2():
    assert P.TABLE1.split["test"] == 4_001
    assert abs(P.TABLE1.split["test"] - P.CMD_TEST_SIZE_SECTION_3_2) > 1_000
    assert "4,001" in P.inconsistency("test_size").summary


# --- Table 3 ---------------------------------------------------------------


def test_paper_profile_follows_table3():
    from srllm.profiles import get_profile

    prof = get_profile("paper")
    t = P.TABLE3
    assert prof.train.batch_size == t.batch_size_train
    assert prof.train.eval_batch_size == t.batch_size_eval
    assert prof.train.epochs == t.epochs_qlora
    assert prof.train.learning_rate == t.learning_rate_qlora
    assert prof.train.optim == t.optimizer_qlora
    assert prof.train.scheduler == t.scheduler
    assert prof.train.warmup_ratio == t.warmup_ratio
    assert prof.train.weight_decay == t.weight_decay
    assert prof.train.max_grad_norm == t.max_grad_norm
    assert prof.train.grad_accum == t.gradient_accumulation_steps
    assert prof.train.max_length == t.max_sequence_length
    assert prof.train.eval_steps == t.eval_every_steps
    assert prof.train.save_steps == t.save_every_steps
    assert prof.train.patience == t.early_stopping_patience
    assert (prof.train.fp16, prof.train.bf16) == (t.fp16, t.bf16)
    assert (prof.train.adam_beta1, prof.train.adam_beta2) == (t.adam_beta1, t.adam_beta2)
    assert (prof.lora.r, prof.lora.alpha, prof.lora.dropout) == (t.lora_r, t.lora_alpha, t.lora_dropout)
    assert prof.lora.bias == t.lora_bias
    assert prof.quant.quant_type == t.quant_type
    assert prof.quant.double_quant == t.nested_quant
    assert prof.quant.compute_dtype == t.compute_dtype
    assert prof.prefix.num_virtual_tokens == t.prefix_length
    assert prof.prefix.learning_rate == t.learning_rate_prefix
    assert prof.prefix.epochs == t.epochs_prefix
    assert prof.prefix.dropout == t.prefix_dropout


# --- Table 4 ---------------------------------------------------------------


def test_table4_shape_and_original_is_worst_in_every_column():
    assert len(P.TABLE4) == 14
    assert len({r.key for r in P.TABLE4}) == 14
    for t in P.TEST_SETS:
        for s in P.SCORERS:
            col = {r.key: r.score(t, s) for r in P.TABLE4}
            assert all(isinstance(v, float) for v in col.values())
            assert max(col, key=col.get) == "original"


def test_table4_lowest_claim_fails_exactly_where_documented():
    failing = set()
    for t in P.TEST_SETS:
        for s in P.SCORERS:
            post = [r for r in P.TABLE4 if r.method != "original"]
            best = min(r.score(t, s) for r in post)
            winners = {r.method for r in post if r.score(t, s) == best}
            if "instruction-fine-tuned" not in winners:
                failing.add(f"{t}/{s}")
    assert failing == documented_cells("table4_lowest_claim")


def test_table4_accessors():
    assert P.table4_row("falcon_7b_p").score("toxigen", "perspective") == 2.36
    assert P.table4_row("sr_llm_llama32").score("bold", "openai") == 6.40
    with pytest.raises(KeyError, match="no column"):
        P.table4_row("original").score("stereoset", "openai")
    with pytest.raises(KeyError, match="no row"):
        P.table4_row("gpt5")


# --- Table 5 ---------------------------------------------------------------

CONTRACT_TOXIGEN_GROUPS = (
    "women", "mental_dis", "lgbtq", "black", "chinese", "asian", "native_american", "middle_east", "muslim",
    "physical_dis", "mexican", "jewish", "latino",
)


def test_table5_groups_follow_the_data_contract():
    assert tuple(P.TABLE5) == CONTRACT_TOXIGEN_GROUPS
    assert set(P.TABLE5_GROUP_LABELS) == set(CONTRACT_TOXIGEN_GROUPS)
    for row in P.TABLE5.values():
        assert tuple(row) == P.TABLE5_METHODS


def test_table5_groups_match_srllm_data_when_present():
    data = pytest.importorskip("srllm.data")
    assert set(P.TABLE5) == set(data.TOXIGEN_GROUPS)


def test_table5_text_claims_hold():
    for method, groups in P.TABLE5_TEXT_CLAIMS.items():
        for g in groups:
            row = P.TABLE5[g]
            assert row[method] == min(row.values()), (method, g)
    # every intervention lowers toxicity in every group
    for g, row in P.TABLE5.items():
        assert all(v < row["original"] for m, v in row.items() if m != "original"), g


# --- Table 6 ---------------------------------------------------------------


def test_icat_formula():
    assert P.icat(100.0, 50.0) == 100.0
    assert P.icat(80.0, 70.0) == pytest.approx(48.0)
    assert P.icat(80.0, 30.0) == pytest.approx(48.0)


def test_printed_interval():
    assert P.printed_interval("56.70") == pytest.approx((56.695, 56.705))
    assert P.printed_interval("75.") == (75.0, 76.0)
    assert P.printed_interval("79.34%") == pytest.approx((79.335, 79.345))
    with pytest.raises(ValueError):
        P.printed_interval("79.10.34%")


def test_table6_icat_holds_except_documented_rows():
    assert len(P.TABLE6) == 7 * 4
    failing = {f"{k}/{d}" for k, d in P.icat_failures()}
    assert failing == documented_cells("table6_icat")
    # every fine-tuned baseline row is consistent
    assert all(P.icat_consistent(r) for r in P.TABLE6 if r.method == "fine-tuned")


def test_table6_truncated_ss_is_consistent_only_as_a_range():
    row = P.table6_row("gpt2_large_ft", "religion")
    assert row.ss == 75.0 and row.ss_printed == "75."
    assert "75.97" in row.note
    assert abs(P.icat(row.lms, row.ss) - row.icat) > 1.0  # 75.0 taken literally fails
    assert P.icat_consistent(row)  # the range [75, 76) contains the implied 75.97
    implied_ss = 100.0 - row.icat * 50.0 / row.lms
    assert 75.9 < implied_ss < 76.0


def test_table6_ss_claims_fail_where_documented():
    sr = {d: P.table6_row("sr_llm_ift", d).ss for d in P.STEREOSET_DOMAINS}
    failing = set()
    for d in P.TABLE6_TEXT_CLAIMS["lowest_ss_domains"]:
        others = [r.ss for r in P.TABLE6 if r.domain == d and r.key != "sr_llm_ift"]
        if not sr[d] < min(others):
            failing.add(f"sr_llm_ift/{d}")
    for d in P.TABLE6_TEXT_CLAIMS["ss_close_to_50_domains"]:
        if abs(sr[d] - 50.0) > 10.0:
            failing.add(f"sr_llm_ift/{d}")
    assert failing == documented_cells("table6_ss_claims")
    for d in P.STEREOSET_DOMAINS:
        assert P.table6_row("sr_llm_ift", d).lms == P.TABLE6_TEXT_CLAIMS[f"lms_{d}"]


# --- Table 7 ---------------------------------------------------------------


def test_table7_missing_cells_carry_a_note():
    for row in P.TABLE7:
        for col, v in row.as_dict().items():
            assert (v is None) == (col in row.notes), (row.key, col)
    prefix = T7["prefix"]
    assert prefix.toxigen_knowledge_retention is None
    assert "79.10.34%" in prefix.notes["toxigen_knowledge_retention"]
    assert "prefix/toxigen_knowledge_retention" in documented_cells("table7_malformed")


def test_table7_cells_equal_other_table4_cells_as_documented():
    t4 = P.table4_row
    pairs = {
        "original/cmd_openai": (T7["original"].cmd_openai, t4("original").score("cmd_test", "perspective")),
        "two_shot/cmd_openai": (T7["two_shot"].cmd_openai,
                                t4("llama2_chat_7b_p").score("cmd_test", "perspective")),
        "two_shot/toxigen_openai": (T7["two_shot"].toxigen_openai,
                                    t4("llama2_chat_7b_p").score("toxigen", "perspective")),
        "sr_llm/cmd_openai": (T7["sr_llm"].cmd_openai, t4("sr_llm_llama2").score("cmd_test", "openai")),
        "sr_llm/toxigen_openai": (T7["sr_llm"].toxigen_openai,
                                  t4("sr_llm_llama2").score("toxigen", "openai")),
    }
    assert {k for k, (a, b) in pairs.items() if a == b} == documented_cells("table7_vs_table4")
    # and the cells they should have matched differ
    assert T7["original"].cmd_openai != t4("original").score("cmd_test", "openai")
    assert T7["sr_llm"].cmd_openai != t4("sr_llm_llama32").score("cmd_test", "openai")
    # the ToxiGen original value does match Table 4's OpenAI column
    assert T7["original"].toxigen_openai == t4("original").score("toxigen", "openai")


def test_table7_retention_trend_breaks_where_documented():
    z, two = T7["zero_shot"], T7["two_shot"]
    assert z.cmd_knowledge_retention < two.cmd_knowledge_retention  # holds on our test set
    assert z.toxigen_knowledge_retention > two.toxigen_knowledge_retention  # breaks on ToxiGen
    assert "zero_shot/toxigen_knowledge_retention" in documented_cells("table7_trend")


def test_section_2_2_1_claims_match_table7():
    sr = T7["sr_llm"]
    assert 100.0 - sr.cmd_openai > P.CLAIM_NEUTRALISATION_SUCCESS_MIN
    assert min(sr.cmd_knowledge_retention, sr.toxigen_knowledge_retention) > P.CLAIM_KNOWLEDGE_PRESERVATION_MIN


# --- Table 8, Fig. 3, Table 9 ---------------------------------------------


def test_table8_default_variant_is_best():
    best = max(P.TABLE8, key=lambda r: r.safety + r.language)
    assert best.key == "peft_1ep"
    assert all(0 <= r.safety <= r.scale and 0 <= r.language <= r.scale for r in P.TABLE8)
    assert P.HUMAN_EVAL_EVALUATORS != P.HUMAN_EVAL_SCORE_AVERAGED_OVER
    assert P.FIG5_VALUES_STATED is False


def test_fig3_sample_size_matches_no_reported_count():
    assert (P.FIG3.n, P.FIG3.mean, P.FIG3.t) == (16_602, 20.19, 28.17)
    counts = {P.TABLE1.split["train"], P.TABLE1.datapoints, int(P.TABLE11["word_length"]["count"])}
    assert P.FIG3.n not in counts
    assert "16,602" in P.inconsistency("ttest_sample").phrase


def test_table9_reduction_is_exactly_sixty_percent():
    assert P.TABLE9.biased_terms_reduction_percent() == pytest.approx(60.0)
    assert P.TABLE9.content_similarity_before is None
    assert P.TABLE9.perplexity_after < P.TABLE9.perplexity_before


# --- Appendix A, B, D ------------------------------------------------------


def test_kappa_table_and_text_disagree_where_documented():
    differ = {k for k in P.KAPPA_TABLE10 if P.KAPPA_TABLE10[k] != P.KAPPA_APPENDIX_TEXT[k]}
    lo, hi = P.KAPPA_SECTION_2_1_RANGE
    risk = {k: v for k, v in P.KAPPA_TABLE10.items() if k != "benign_variation"}
    outside = {k for k, v in risk.items() if not lo <= v <= hi}
    assert differ | outside == documented_cells("kappa_values")
    assert {P.kappa_band(v) for v in P.KAPPA_TABLE10.values()} == {"Substantial"}
    assert P.kappa_band(0.2) == "Poor" and P.kappa_band(0.85) == "Almost perfect"


def test_annotator_team_arithmetic():
    s21, appa = P.ANNOTATION_TEAM["section_2_1"], P.ANNOTATION_TEAM["appendix_a"]
    assert s21["experts"] * (1 + s21["students_per_expert"]) == s21["total_stated"]
    assert appa["experts"] * (1 + appa["students_per_expert"]) != appa["total_stated"]


def test_table11_contradicts_record_length_claim():
    words = P.TABLE11["word_length"]
    assert words["min"] < P.CMD_WORDS_PER_RECORD[0]
    assert words["50%"] < P.CMD_WORDS_PER_RECORD[0]
    assert words["max"] > P.CMD_WORDS_PER_RECORD[1]
    assert P.TABLE13["count"] * 2 == P.TABLE11["char_length"]["count"]


def test_carbon_equals_energy_times_intensity():
    for cost in P.TRAINING_COSTS:
        assert round(P.carbon_kg(cost.kwh), 2) == cost.kg_co2e, cost.method
    # both runs imply the same average power (same hardware), about 0.64 kW
    powers = [c.implied_power_kw() for c in P.TRAINING_COSTS]
    assert max(powers) - min(powers) < 0.01
    with pytest.raises(ValueError):
        P.carbon_kg(-1.0)


def test_gpu_mismatch_documented():
    q = P.training_cost("qlora")
    assert q.gpu != q.gpu_appendix_d
    assert P.inconsistency("gpu_model").phrase == q.gpu_appendix_d


# --- the inconsistency list and the audit chapter ---------------------------


def test_inconsistencies_well_formed():
    keys = [i.key for i in P.INCONSISTENCIES]
    assert len(keys) == len(set(keys))
    for item in P.INCONSISTENCIES:
        assert item.where and item.phrase and item.summary
        assert item.kind in ("contradiction", "arithmetic", "typography", "unclear", "citation")
    with pytest.raises(KeyError):
        P.inconsistency("nope")


def test_every_inconsistency_appears_in_the_audit_chapter():
    # whitespace is normalised so that re-wrapping the prose cannot break the check
    audit = " ".join((ROOT / "book" / "audit.md").read_text(encoding="utf-8").split())
    missing = [i.key for i in P.INCONSISTENCIES if i.phrase not in audit]
    assert not missing, f"book/audit.md lacks the key phrase of: {missing}"
