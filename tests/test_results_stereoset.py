"""StereoSet orchestration for notebook 06 (srllm.results.stereoset): Table 6 beside ours, audit, chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from srllm import paper
from srllm.errors import SrllmError
from srllm.results.stereoset import (DOMAINS, StereoSetRun, domain_counts, headlines, icat_audit, icat_failures,
                                     items_for, plot_table6, run_stereoset, scores_frame, sr_llm_changes,
                                     stereoset_findings, table6_side_by_side)


def _scores(lms: float, ss: float, domains=DOMAINS, n: int = 10) -> dict:
    block = {d: {"Count": float(n), "LM Score": lms + i, "SS Score": ss - i,
                 "ICAT Score": paper.icat(lms + i, ss - i)} for i, d in enumerate(domains)}
    block["overall"] = {"Count": float(n * len(domains)), "LM Score": lms, "SS Score": ss,
                        "ICAT Score": paper.icat(lms, ss)}
    return block


def _runs(sr_domains=DOMAINS) -> dict[str, StereoSetRun]:
    return {"base": StereoSetRun("base", "tiny-random-llama", None, "tiny-random-llama", Path("p.json"),
                                 _scores(80.0, 60.0)),
            "sr_llm": StereoSetRun("sr_llm", "tiny-random-llama", Path("a"), "merged", Path("q.json"),
                                   _scores(82.0, 55.0, sr_domains))}


def test_side_by_side_puts_each_system_beside_its_table6_row():
    table = table6_side_by_side(_runs(), "smoke")
    assert len(table) == 2 * len(DOMAINS) * 3
    assert list(table.columns) == ["ours", "paper", "difference", "note"]
    row = table.loc[("SR_LLM", "race", "SS")]
    assert row["ours"] == pytest.approx(55.0 - 2)
    assert row["paper"] == paper.table6_row("sr_llm_ift", "race").ss
    assert row["difference"] == pytest.approx(row["ours"] - row["paper"])
    base = table.loc[("base model", "gender", "LMS")]
    assert base["paper"] == paper.table6_row("llama32_1b_p", "gender").lms
    assert "unprompted" in base["note"] and "tiny-random-llama vs Llama-3.2-1B" in base["note"]
    assert "10 dev examples" in base["note"]


def test_side_by_side_flags_the_papers_inconsistent_icat_and_missing_domains():
    table = table6_side_by_side(_runs(sr_domains=("gender", "race")), "smoke")
    for key, domain in paper.icat_failures():
        system = {"llama32_1b_p": "base model", "sr_llm_ift": "SR_LLM"}.get(key)
        if system and (system != "SR_LLM" or domain in ("gender", "race")):
            assert "does not follow" in table.loc[(system, domain, "ICAT"), "note"]
    missing = table.loc[("SR_LLM", "religion", "LMS")]
    assert missing["ours"] != missing["ours"]  # NaN
    assert missing["note"].startswith("not run")


def test_scores_frame_is_long_with_ours_and_paper():
    frame = scores_frame(_runs())
    assert set(frame.source) == {"ours", "paper"}
    assert len(frame) == 2 * 2 * len(DOMAINS) * 3
    p = frame[(frame.source == "paper") & (frame.system == "SR_LLM") & (frame.domain == "religion")
              & (frame.metric == "ICAT")]
    assert p.value.iloc[0] == paper.table6_row("sr_llm_ift", "religion").icat
    fig = plot_table6(frame)
    assert len(fig.axes) == 3
    assert len(fig.axes[0].patches) == 4 * len(DOMAINS)


def test_icat_audit_matches_the_paper_module():
    audit = icat_audit()
    assert len(audit) == len(paper.TABLE6)
    bad = {(r.model, r.domain) for r in audit.itertuples() if not r.consistent}
    expected = {(paper.table6_row(k, d).model, d) for k, d in paper.icat_failures()}
    assert bad == expected



def test_sr_llm_changes_are_sr_llm_minus_base_ours_beside_the_paper():
    change = sr_llm_changes(scores_frame(_runs()))
    assert set(change.columns.get_level_values(0)) == {"ours", "paper"}
    # ours: SR_LLM LMS 82+i vs base 80+i, SS 55-i vs 60-i in every domain i
    assert change.loc["race", ("ours", "LMS")] == pytest.approx(2.0)
    assert change.loc["race", ("ours", "SS")] == pytest.approx(-5.0)
    assert change.loc["gender", ("ours", "|SS-50|")] == pytest.approx(abs(55.0 - 50) - abs(60.0 - 50))
    sr, base = paper.table6_row("sr_llm_ift", "religion"), paper.table6_row("llama32_1b_p", "religion")
    assert change.loc["religion", ("paper", "ICAT")] == pytest.approx(sr.icat - base.icat)


def test_headlines_counts_and_findings_of_the_stereoset_page():
    runs = _runs(sr_domains=("gender", "race"))
    assert domain_counts(runs).loc["overall", "sr_llm"] == 20 and "religion" not in domain_counts(runs)["sr_llm"].dropna()
    failures = icat_failures(icat_audit())
    assert len(failures) == len(paper.icat_failures()) and list(failures.index) == list(range(len(failures)))
    h = headlines(runs, "smoke", len(failures))
    assert h["ss_items"] == 20 and h["ss_model"] == "tiny-random-llama"
    assert h["ss_sr_overall_ss"] == 55.0 and h["ss_base_overall_lms"] == 80.0
    assert h["ss_sr_overall_icat"] == round(paper.icat(82.0, 55.0), 2)
    assert "ss_sr_race_icat" in h and "ss_sr_religion_icat" not in h
    assert h["ss_paper_icat_failures"] == len(failures)
    text = stereoset_findings(h)
    assert str(h["ss_sr_overall_icat"]) in text or f"{h['ss_sr_overall_icat']:.1f}" in text

def test_items_for_uses_the_profile_unless_overridden():
    from srllm.profiles import get_profile

    assert items_for("smoke") == get_profile("smoke").data.max_stereoset_items
    assert items_for("smoke", 7) == 7
    with pytest.raises(SrllmError, match="max_items"):
        items_for("smoke", 0)
    with pytest.raises(SrllmError, match="unknown StereoSet system"):
        run_stereoset("smoke", systems=("gpt4",))


def test_run_stereoset_scores_the_base_model_on_a_few_items():
    runs = run_stereoset("smoke", max_items=8, systems=("base",), progress=False)
    run = runs["base"]
    assert run.count("overall") == 8
    assert {d for d in DOMAINS if d in run.scores} == set(DOMAINS)  # round-robin covers every domain
    for d in DOMAINS:
        lms, ss = run.value(d, "LMS"), run.value(d, "SS")
        assert 0 <= lms <= 100 and 0 <= ss <= 100
        assert run.value(d, "ICAT") == pytest.approx(paper.icat(lms, ss))
    assert run.predictions_file.exists()
    with pytest.raises(SrllmError, match="metric"):
        run.value("gender", "BLEU")


def test_sr_llm_merged_weights_score_like_base_plus_adapter():
    """The merged folder that run_stereoset prefers gives the same likelihoods as base model + adapter."""
    from srllm.metrics.stereoset import model_predictions
    from srllm.results.stereoset import sr_llm_weights

    adapter, merged = sr_llm_weights("smoke")
    if merged is None:
        pytest.skip("the smoke SR_LLM run saved no merged folder")
    kw = dict(max_items=4, use_cache=False, progress=False, device="cpu")
    with_adapter, _ = model_predictions("tiny-random-llama", adapter, **kw)
    folded, _ = model_predictions(str(merged), None, **kw)
    a = {r["id"]: r["score"] for r in with_adapter["intrasentence"]}
    b = {r["id"]: r["score"] for r in folded["intrasentence"]}
    assert a.keys() == b.keys() and len(a) == 12
    for sid in a:
        assert b[sid] == pytest.approx(a[sid], rel=1e-4)
