"""srllm.results (common, rates, safety, demographics, prompting, explorer): evaluation sets, scorer stand-ins, rate tables and the side-by-side tables of Tables 4/5/7.

Everything here runs under the smoke profile without training: the generating
methods are covered by the results-notebook test (tests/test_results_notebooks.py).
"""

from __future__ import annotations

import math
import random
from collections import Counter

import pandas as pd
import pytest

from srllm import paper
from srllm.generation.baselines import BaselineResult
from srllm.errors import SrllmError
from srllm.profiles import get_profile
from srllm.results import common, demographics, explorer, prompting, rates, safety, tables
from srllm.scoring import Scorer


class LengthScorer(Scorer):
    """A test scorer: p_unsafe grows with the text's length (so each text gets its own, known score)."""

    name = "length-test"
    is_proxy = False

    def _config(self):
        return {"rule": "len/300"}

    def _score_batch(self, texts):
        return [(min(1.0, len(t) / 300.0), {}) for t in texts]


@pytest.fixture
def smoke():
    common.clear_memo()
    yield get_profile("smoke")
    common.clear_memo()


@pytest.fixture
def no_keys(monkeypatch):
    monkeypatch.delenv("PERSPECTIVE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_cmd_items_are_the_profile_test_split(smoke):
    from srllm.data import load_sample, split_for_profile

    test = split_for_profile(load_sample("cmd"), smoke)["test"]
    items = common.eval_items("cmd_test", smoke)
    assert [i.id for i in items] == [r.id for r in test]
    assert len(items) == smoke.data.max_test_rows
    assert [i.biased_words for i in items] == [tuple(r.biased_words) for r in test]
    assert any(i.biased_words for i in items)
    items.clear()  # callers get a copy; the memo is unaffected
    assert len(common.eval_items("cmd_test", smoke)) == smoke.data.max_test_rows


def test_toxigen_subset_is_per_group_seeded_and_order_free():
    from srllm.data import load_sample

    records = load_sample("toxigen")
    picked = common.toxigen_subset(records, 2, seed=42)
    counts = Counter(r.target_group for r in picked)
    assert set(counts) == {r.target_group for r in records}
    assert all(n == min(2, sum(r.target_group == g for r in records)) for g, n in counts.items())
    shuffled = list(records)
    random.Random(0).shuffle(shuffled)
    assert [r.id for r in common.toxigen_subset(shuffled, 2, seed=42)] == [r.id for r in picked]
    assert [r.id for r in common.toxigen_subset(records, 2, seed=43)] != [r.id for r in picked]
    assert len(common.toxigen_subset(records, None, seed=42)) == len(records)


def test_toxigen_items_follow_the_profile_limit(smoke):
    items = common.eval_items("toxigen", smoke)
    counts = Counter(i.group for i in items)
    assert set(counts.values()) == {smoke.data.max_toxigen_per_group}
    assert len(counts) == 13


@pytest.mark.parametrize("total,expected", [(8, [2, 2, 2, 2]), (10, [3, 3, 2, 2]), (3, [1, 1, 1, 0])])
def test_bold_prompts_are_balanced_over_domains(total, expected):
    prof = get_profile("smoke", **{"data.max_bold_prompts": total})
    prompts = common.bold_prompts(prof)
    counts = Counter(p.domain for p in prompts)
    assert [counts.get(d, 0) for d in common.BOLD_DOMAINS_USED] == expected
    assert "profession" not in counts


def test_complete_sentences_cuts_after_the_last_full_sentence():
    assert common.complete_sentences("Ann is a singer who", "won a prize. She then  moved to") == \
        "Ann is a singer who won a prize."
    assert common.complete_sentences("Ann is", "tall and") == "Ann is tall and"
    assert common.complete_sentences("Ann is", "   ") == "Ann is"


def test_bold_items_continue_their_prompts_and_are_reproducible(smoke):
    items = common.eval_items("bold", smoke)
    assert len(items) == smoke.data.max_bold_prompts
    assert all(i.prompt and i.text.startswith(i.prompt) for i in items)
    assert len({i.id for i in items}) == len(items)
    common.clear_memo()  # second time from the generation cache
    assert [i.text for i in common.eval_items("bold", smoke)] == [i.text for i in items]


def test_unknown_dataset_and_method_are_errors(smoke):
    with pytest.raises(SrllmError, match="unknown evaluation set"):
        common.eval_items("stereoset", smoke)
    with pytest.raises(SrllmError, match="unknown method"):
        common.adapter_for("gpt4", smoke)
    assert common.adapter_for("two_shot", smoke) is None


def test_original_outputs_are_the_items_and_seq2seq_is_not_run_offline(smoke):
    items = common.eval_items("cmd_test", smoke)
    res = common.method_outputs("original", "cmd_test", smoke)
    assert res.ok and list(res.outputs) == [i.text for i in items]
    t5 = common.method_outputs("t5_large", "cmd_test", smoke)
    assert t5.status == "not_run" and "Hub" in t5.reason


def test_paper_columns_fall_back_to_the_stand_in(no_keys, monkeypatch):
    cols = rates.paper_column_scorers(("perspective", "openai"))
    assert {c.name for c in cols.values()} == {"offline-proxy"}
    assert "in place of Perspective API" in cols["perspective"].note()
    assert "profanity-check" in cols["openai"].note()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    cols = rates.paper_column_scorers(("perspective", "openai"))
    assert cols["openai"].name == "openai-moderation" and cols["openai"].stands_in_for is None
    assert cols["openai"].note() == ""
    with pytest.raises(SrllmError, match="unknown paper scorer column"):
        rates.paper_column_scorers(("gpt4",))


def test_scorer_status_reports_not_run_with_reason(no_keys):
    status = rates.scorer_status(("offline-proxy", "perspective"))
    row = status.set_index("scorer").loc["perspective"]
    assert row["status"] == "not run" and "PERSPECTIVE_API_KEY" in row["reason"]
    assert status.set_index("scorer").loc["offline-proxy", "is_proxy"]


def test_unsafe_rates_aggregate_scores_and_keep_not_run_rows(smoke, no_keys):
    fake = LengthScorer(use_cache=False)
    frame = rates.unsafe_rates(["original", "t5_large"], ["cmd_test", "toxigen"], [fake, "perspective"], smoke,
                            progress=False)
    assert list(frame.columns) == list(rates.RATE_COLUMNS)
    assert len(frame) == 2 * 2 * 2
    for ds in ("cmd_test", "toxigen"):
        texts = [i.text for i in common.eval_items(ds, smoke)]
        p = [min(1.0, len(t) / 300.0) for t in texts]
        row = frame[(frame.method == "original") & (frame.dataset == ds) & (frame.scorer == "length-test")].iloc[0]
        assert row["status"] == "ok" and row["n"] == len(texts)
        assert row["unsafe_rate"] == pytest.approx(100 * sum(x >= 0.5 for x in p) / len(p))
        assert row["mean_p_unsafe"] == pytest.approx(100 * sum(p) / len(p))
    not_run = frame[frame.status == "not_run"]
    assert len(not_run) == 6 and not_run["unsafe_rate"].isna().all()
    assert (not_run[not_run.scorer == "perspective"]["reason"].str.contains("PERSPECTIVE_API_KEY")
            | (not_run[not_run.scorer == "perspective"]["method"] == "t5_large")).all()


def test_group_rates_split_by_toxigen_group(smoke):
    fake = LengthScorer(use_cache=False)
    groups = rates.group_rates(["original", "t5_large"], fake, smoke, progress=False)
    items = common.eval_items("toxigen", smoke)
    assert len(groups) == 2 * 13
    for it in items[:3]:
        mine = [i for i in items if i.group == it.group]
        row = groups[(groups.method == "original") & (groups.group == it.group)].iloc[0]
        assert row["mean_p_unsafe"] == pytest.approx(100 * sum(min(1.0, len(i.text) / 300) for i in mine) / len(mine))
    assert (groups[groups.method == "t5_large"]["status"] == "not_run").all()


def test_retention_rewards_kept_content(smoke, monkeypatch):
    items = common.eval_items("cmd_test", smoke)
    outputs = {"same": [i.text for i in items], "rotated": [items[(k + 1) % len(items)].text for k in range(len(items))]}

    def fake_outputs(method, dataset, profile, progress=True):
        return BaselineResult(method, method, "ok", tuple(outputs[method]))

    monkeypatch.setattr(rates, "method_outputs", fake_outputs)
    same = rates.retention_scores("same", "cmd_test", smoke)
    rotated = rates.retention_scores("rotated", "cmd_test", smoke)
    assert same.status == "ok" and len(same.scores) == len(items)
    assert same.mean_percent > 90
    assert same.mean_percent > rotated.mean_percent + 20
    original = rates.retention_scores("original", "cmd_test", smoke)
    assert original.status == "not_applicable" and original.mean_percent is None
    frame = rates.retention_frame([same, original])
    assert frame.loc[0, "retention"] == pytest.approx(same.mean_percent) and math.isnan(frame.loc[1, "retention"])


def _proxy_choices():
    return {col: rates.ScorerChoice("offline-proxy", True, True, "offline", stands_in_for=col)
            for col in ("perspective", "openai")}


def _rates(rows):
    return pd.DataFrame([dict(zip(rates.RATE_COLUMNS, r)) for r in rows], columns=list(rates.RATE_COLUMNS))


def test_table4_side_by_side_maps_our_methods_to_paper_rows(smoke):
    rows = []
    for k, ds in enumerate(common.DATASETS):
        rows += [("original", ds, "offline-proxy", True, 10, 50.0 + k, 40.0, "ok", ""),
                 ("two_shot", ds, "offline-proxy", True, 10, 20.0 + k, 15.0, "ok", ""),
                 ("sr_llm", ds, "offline-proxy", True, 10, 10.0 + k, 5.0, "ok", ""),
                 ("t5_large", ds, "offline-proxy", True, 0, math.nan, math.nan, "not_run", "needs the Hub")]
    table = safety.table4_side_by_side(_rates(rows), _proxy_choices(), smoke)
    assert list(table.columns) == ["ours", "paper", "difference", "note"]
    assert len(table) == len(paper.TABLE4) * 3 * 2
    key = ("SR_LLM Llama3.2", "Toxigen", "OpenAI moderation")
    assert table.loc[key, "ours"] == 11.0
    assert table.loc[key, "paper"] == paper.table4_row("sr_llm_llama32").score("toxigen", "openai")
    assert table.loc[key, "difference"] == pytest.approx(11.0 - table.loc[key, "paper"])
    assert "in place of OpenAI moderation" in table.loc[key, "note"]
    assert "tiny-random-llama vs Llama-3.2-1B" in table.loc[key, "note"]
    assert table.loc[("Llama3.2 Instruct", "BOLD", "Perspective API"), "ours"] == 22.0
    gpt4 = table.loc[("GPT-4", "BOLD", "Perspective API")]
    assert math.isnan(gpt4["ours"]) and gpt4["note"].startswith("not run")
    t5 = table.loc[("T5 large", "Our test set", "OpenAI moderation")]
    assert math.isnan(t5["ours"]) and "needs the Hub" in t5["note"]
    heads = safety.table4_headlines(table)
    assert heads["t4_sr_llm_cmd_unsafe"] == 10.0 and heads["t4_paper_sr_llm_cmd_unsafe"] == 5.40
    assert heads["t4_t5_large_cmd_unsafe"] is None
    plot = safety.table4_plot_frame(table)
    assert set(plot["source"]) == {"ours", "paper"} and len(plot) == 5 * 3 * 2


def test_table5_side_by_side_means_and_grids(smoke):
    groups = list(paper.TABLE5_GROUP_LABELS)
    rows = []
    for k, g in enumerate(groups):
        rows.append(("original", g, "offline-proxy", True, 2, 60.0 + k, 50.0, "ok", ""))
        rows.append(("sr_llm", g, "offline-proxy", True, 2, 10.0 + k, 0.0, "ok", ""))
        rows.append(("two_shot", g, "offline-proxy", True, 0, math.nan, math.nan, "not_run", "no model"))
    frame = pd.DataFrame([dict(zip(rates.GROUP_COLUMNS, r)) for r in rows], columns=list(rates.GROUP_COLUMNS))
    choice = rates.ScorerChoice("offline-proxy", True, True, "offline", stands_in_for="toxigen_roberta")
    table = demographics.table5_side_by_side(frame, choice, smoke)
    assert len(table) == 13 * len(paper.TABLE5_METHODS)
    assert table.loc[("Women", "SR_LLM (IFT)"), "ours"] == 10.0
    assert table.loc[("Women", "SR_LLM (IFT)"), "paper"] == paper.TABLE5["women"]["sr_llm_ift"]
    assert "in place of ToxiGen-RoBERTa" in table.loc[("Women", "SR_LLM (IFT)"), "note"]
    assert "no model" in table.loc[("Women", "Llama 3.2 -1B"), "note"]
    means = demographics.table5_means(table)
    assert means.loc["SR_LLM (IFT)", "ours"] == pytest.approx(10.0 + 6.0)
    assert means.loc["GPT-4", "paper"] == pytest.approx(sum(r["gpt4_p"] for r in paper.TABLE5.values()) / 13)
    assert means.loc["GPT-4", "groups"] == 0 and math.isnan(means.loc["GPT-4", "ours"])
    heads = demographics.table5_headlines(means)
    assert heads["t5_mean_sr_llm"] == 16.0 and heads["t5_mean_two_shot"] is None
    ours, paper_grid = demographics.table5_grids(table)
    assert list(ours.columns) == ["Original texts", "SR_LLM"]
    assert paper_grid.shape == (13, len(paper.TABLE5_METHODS))


def test_table7_side_by_side_handles_na_and_malformed_cells(smoke):
    rows, retention = [], {}
    for k, m in enumerate(common.TABLE7_METHODS):
        for ds in common.TABLE7_DATASETS:
            rows.append((m, ds, "offline-proxy", True, 4, 50.0 - 5 * k, 30.0, "ok", ""))
            if m == "original":
                retention[(m, ds)] = rates.RetentionResult(m, ds, "not_applicable", reason="no rewrite")
            else:
                retention[(m, ds)] = rates.RetentionResult(m, ds, "ok", (0.5, 0.6 + 0.05 * k))
    choice = rates.ScorerChoice("offline-proxy", True, True, "offline", stands_in_for="openai")
    table = prompting.table7_side_by_side(_rates(rows), retention, choice, smoke)
    assert len(table) == len(paper.TABLE7) * 4
    orig = table.loc[("Original Texts", "cmd_knowledge_retention")]
    assert math.isnan(orig["ours"]) and orig["note"].startswith("n/a")
    prefix = table.loc[("Baseline (Prefix-tuning)", "toxigen_knowledge_retention")]
    assert math.isnan(prefix["paper"]) and "79.10.34%" in prefix["note"]
    assert table.loc[("SR_LLM", "cmd_openai"), "ours"] == 25.0
    assert table.loc[("SR_LLM", "cmd_knowledge_retention"), "ours"] == pytest.approx(100 * (0.5 + 0.85) / 2)
    heads = prompting.table7_headlines(table)
    assert heads["t7_sr_llm_retention"] == pytest.approx(67.5)
    assert heads["t7_paper_sr_llm_retention"] == 90.18
    points = prompting.table7_plot_frame(table)
    assert len(points) == len(paper.TABLE7) * 2 * 2


def _t4_rows():
    rows = []
    for k, ds in enumerate(common.DATASETS):
        rows += [("original", ds, "offline-proxy", True, 10, 50.123456 + k, 40.0, "ok", ""),
                 ("two_shot", ds, "offline-proxy", True, 10, 20.0 + k, 15.0, "ok", ""),
                 ("sr_llm", ds, "offline-proxy", True, 10, 10.0 + k, 5.0, "ok", ""),
                 ("t5_large", ds, "offline-proxy", True, 0, math.nan, math.nan, "not_run", "needs the Hub")]
    return rows


def test_table4_view_is_shaped_like_the_paper_with_provenance_once(smoke):
    import re

    table = safety.table4_side_by_side(_rates(_t4_rows()), _proxy_choices(), smoke)
    styler = safety.table4_view(table, _proxy_choices(), smoke)
    wide = styler.data
    assert list(wide.index) == [r.model for r in paper.TABLE4]  # the paper's rows, in its order
    assert wide.shape[1] == 3 * 2 * 2  # test set x scorer x (ours, paper)
    assert wide.loc["SR_LLM Llama3.2", ("Toxigen", "OpenAI", "ours")] == 11.0
    assert wide.loc["SR_LLM Llama3.2", ("Toxigen", "OpenAI", "paper")] == \
        paper.table4_row("sr_llm_llama32").score("toxigen", "openai")
    assert "difference" not in " ".join(map(str, wide.columns.get_level_values(-1)))
    html = styler.to_html()
    assert "50.12" in html and "50.1235" not in html  # rounded as the paper prints (2 decimals)
    assert not re.search(r">\s*-?\d+\.\d{5,}\s*<", html)
    assert html.count("needs the Hub") == 1  # the reason for an empty row is given once
    assert html.count("in place of OpenAI moderation") == 1
    assert "tiny-random-llama vs Llama-3.2-1B" in html and "GPT-4" in html


def test_table5_and_table7_views_put_ours_beside_the_paper(smoke):
    groups = list(paper.TABLE5_GROUP_LABELS)
    rows = [("sr_llm", g, "offline-proxy", True, 2, 10.0 + k, 0.0, "ok", "") for k, g in enumerate(groups)]
    frame = pd.DataFrame([dict(zip(rates.GROUP_COLUMNS, r)) for r in rows], columns=list(rates.GROUP_COLUMNS))
    choice = rates.ScorerChoice("offline-proxy", True, True, "offline", stands_in_for="toxigen_roberta")
    t5 = demographics.table5_view(demographics.table5_side_by_side(frame, choice, smoke), choice, smoke)
    assert t5.data.shape == (13, 2 * len(paper.TABLE5_METHODS))
    assert t5.data.loc["Women", ("SR_LLM (IFT)", "ours")] == 10.0
    assert "in place of ToxiGen-RoBERTa" in t5.to_html()

    frame = _rates([(m, ds, "offline-proxy", True, 4, 50.0 - 5 * k, 30.0, "ok", "")
                    for k, m in enumerate(common.TABLE7_METHODS) for ds in common.TABLE7_DATASETS])
    retention = {(m, ds): rates.RetentionResult(m, ds, "ok", (0.5, 0.7)) for m in common.TABLE7_METHODS[1:]
                 for ds in common.TABLE7_DATASETS}
    ochoice = rates.ScorerChoice("offline-proxy", True, True, "offline", stands_in_for="openai")
    t7 = prompting.table7_view(prompting.table7_side_by_side(frame, retention, ochoice, smoke), ochoice, smoke)
    assert list(t7.data.index) == [r.label for r in paper.TABLE7]
    assert t7.data.loc["SR_LLM", ("Our test set", "unsafe %", "ours")] == 25.0
    assert t7.data.loc["SR_LLM", ("Toxigen", "knowledge retention %", "paper")] == 87.53
    assert "79.10.34%" in t7.to_html()


def test_findings_paragraphs_state_this_builds_numbers(smoke):
    table = safety.table4_side_by_side(_rates(_t4_rows()), _proxy_choices(), smoke)
    text = safety.table4_findings(table, _proxy_choices()["openai"], smoke)
    assert "50.12% of the original texts" in text and "after SR_LLM" in text
    assert "the paper's ordering holds on 3 of 3 test sets" in text
    assert "a proxy in place of OpenAI moderation" in text
    assert f"{paper.table4_row('sr_llm_llama32').score('cmd_test', 'openai'):.2f}%" in text
    rows = _t4_rows()
    rows[2] = ("sr_llm", "cmd_test", "offline-proxy", True, 10, 90.0, 5.0, "ok", "")  # SR_LLM worse on one set
    text = safety.table4_findings(safety.table4_side_by_side(_rates(rows), _proxy_choices(), smoke),
                              _proxy_choices()["openai"], smoke)
    assert "holds on 2 of 3" in text and "does not hold" in text

    groups = list(paper.TABLE5_GROUP_LABELS)
    grows = [("original", g, "offline-proxy", True, 2, 30.0, 0.0, "ok", "") for g in groups]
    grows += [("sr_llm", g, "offline-proxy", True, 2, 10.0 if k < 5 else 40.0, 0.0, "ok", "")
              for k, g in enumerate(groups)]
    frame = pd.DataFrame([dict(zip(rates.GROUP_COLUMNS, r)) for r in grows], columns=list(rates.GROUP_COLUMNS))
    choice = rates.ScorerChoice("offline-proxy", True, True, "offline", stands_in_for="toxigen_roberta")
    text = demographics.table5_findings(demographics.table5_side_by_side(frame, choice, smoke), choice, smoke)
    assert "lowers the mean toxicity in 5 of 13 groups" in text and "30.00% for the original" in text


def test_method_palette_gives_a_method_one_colour_under_every_label():
    pal = tables.method_palette()
    assert pal["sr_llm"] == pal["SR_LLM"] == pal["SR_LLM Llama3.2"]
    assert pal["two_shot"] == pal["Baseline (2-shots)"] == pal["Llama3.2 Instruct"]
    assert pal["original"] == pal["Original texts"] == pal["Original Texts"]
    assert len({pal[k] for k in ("original", "zero_shot", "two_shot", "five_shot", "prefix", "sr_llm")}) == 6


def test_explorer_frame_has_every_item_and_method_that_ran(smoke, monkeypatch):
    scorer = LengthScorer()
    frame = explorer.explorer_frame(smoke, scorer, combos=[("original", "cmd_test"), ("t5_large", "cmd_test")])
    items = common.eval_items("cmd_test", smoke)
    assert list(frame.columns) == list(explorer.EXPLORER_COLUMNS)
    assert len(frame) == len(items)  # T5 needs the Hub: no rows, not empty rows
    assert set(frame["method"]) == {"Original texts"} and set(frame["test set"]) == {"Our test set"}
    first = frame.iloc[0]
    assert first["rewrite"] == first["original"] == items[0].text
    assert first["p_unsafe %"] == round(100 * min(1.0, len(items[0].text) / 300), 1)


def test_task_success_sits_beside_the_unsafe_rate_in_tables_4_and_7(smoke):
    scorer = LengthScorer()
    success = rates.task_success_rates(["original", "two_shot", "t5_large"], ["cmd_test"], scorer, smoke)
    assert list(success["method"]) == ["two_shot", "t5_large"]  # the originals are no rewrite
    t5 = success.set_index("method").loc["t5_large"]
    assert t5["status"] == "not_run" and math.isnan(t5["success"])
    two = success.set_index("method").loc["two_shot"]
    assert two["n"] == len(rates.task_inputs("cmd_test", smoke)) and 0.0 <= two["success"] <= 100.0

    fake = pd.DataFrame([{"method": "sr_llm", "dataset": "cmd_test", "n": 4, "success": 75.0, "status": "ok",
                          "reason": ""}], columns=list(rates.SUCCESS_COLUMNS))
    table = safety.table4_side_by_side(_rates(_t4_rows()), _proxy_choices(), smoke)
    wide = safety.table4_view(table, _proxy_choices(), smoke, success=fake).data
    assert wide.loc["SR_LLM Llama3.2", ("Our test set", "success %", "ours")] == 75.0
    assert ("Our test set", "success %", "paper") not in wide.columns  # the paper has no such measure
    cols = list(dict.fromkeys(c[:2] for c in wide.columns))  # task success right after its test set's scorers
    assert cols[:3] == [("Our test set", "Perspective"), ("Our test set", "OpenAI"), ("Our test set", "success %")]
    frame = _rates([(m, ds, "offline-proxy", True, 4, 50.0 - 5 * k, 30.0, "ok", "")
                    for k, m in enumerate(common.TABLE7_METHODS) for ds in common.TABLE7_DATASETS])
    ochoice = rates.ScorerChoice("offline-proxy", True, True, "offline", stands_in_for="openai")
    t7 = prompting.table7_view(prompting.table7_side_by_side(frame, {}, ochoice, smoke), ochoice, smoke, success=fake)
    assert t7.data.loc["SR_LLM", ("Our test set", rates.SUCCESS_LABEL, "ours")] == 75.0
    assert "srllm.metrics.task_success" in t7.to_html()


def test_rates_view_names_methods_that_did_not_run_once():
    frame = _rates(_t4_rows())
    styler = rates.rates_view(frame)
    assert set(styler.data["method"]) == {"original", "two_shot", "sr_llm"}
    html = styler.to_html()
    assert html.count("needs the Hub") == 1 and "Not run: t5_large" in html and "50.12" in html


def test_proxy_statement_and_ordering_ablation(smoke):
    proxy = rates.ScorerChoice("offline-proxy", True, True, "offline", stands_in_for="openai")
    text = rates.proxy_statement([proxy])
    assert text.startswith("**The offline proxy.**") and "trained on" in text and "%" in text
    real = rates.ScorerChoice("openai-moderation", True, False, "key set")
    assert rates.proxy_statement([real]) == "No column of this page is scored by the offline proxy."
    styler, sentence = safety.ordering_ablation_view(smoke, "cmd_test", ["original", "t5_large"])
    assert list(styler.data.index) == ["Original texts"]  # T5 did not run offline: no row
    assert styler.data.shape[1] == 4 and "ordering of the methods" in sentence


def test_our_cell_gives_the_number_and_one_note_rule():
    from srllm.profiles import get_profile
    from srllm.results.tables import our_cell

    prof = get_profile("smoke")
    assert our_cell(None, "sr_llm", prof, missing="no item of group x") == (None, "not run: no item of group x")
    value, note = our_cell({"status": "failed", "reason": "model missing", "value": float("nan")}, "sr_llm", prof)
    assert value is None and note.endswith("not run: model missing")
    value, note = our_cell({"status": "ok", "mean_p_unsafe": 12.5}, "sr_llm", prof, "scorer A", "",
                           value="mean_p_unsafe")
    assert value == 12.5 and note.endswith("scorer A") and "not run" not in note
