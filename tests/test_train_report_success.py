"""The training page's task-success helpers (srllm.training.report): verdict, examples and the sweep table."""

from __future__ import annotations

import json

import pytest

from srllm.metrics.task_success import KINDS, TaskSuccessResult
from srllm.training.report import failure_examples, success_verdict, sweep_table, unseen_finding, unseen_summary, unseen_table


def _res(kinds: list[str]) -> TaskSuccessResult:
    n = len(kinds)
    return TaskSuccessResult(kinds=kinds, threshold=0.65, scorer_name="offline-proxy",
                             originals=[f"input {i}" for i in range(n)], rewrites=[f"rewrite {i}" for i in range(n)],
                             similarities=[0.9] * n, p_unsafe=[0.1] * n)


def test_verdict_says_whether_sr_llm_is_highest_and_by_how_much():
    results = {"zero_shot": _res(["success", "echo", "unchanged", "unchanged"]),
               "two_shot": _res(["success", "success", "content_lost", "echo"]),
               "sr_llm": _res(["success", "success", "success", "still_unsafe"])}
    v = success_verdict(results)
    assert v["highest"] and v["best_other"] == "two_shot"
    assert v["margin"] == pytest.approx(0.25) and v["sr_llm"] == pytest.approx(0.75)
    assert "the highest" in v["sentence"] and "+25 percentage points" in v["sentence"]
    results["sr_llm"] = _res(["success", "unchanged", "unchanged", "unchanged"])
    v = success_verdict(results)
    assert not v["highest"] and v["margin"] == pytest.approx(-0.25)
    assert "not the highest" in v["sentence"] and "25 percentage points below" in v["sentence"]
    results["sr_llm"] = _res(["success", "success", "unchanged", "unchanged"])
    v = success_verdict(results)
    assert v["highest"] and v["margin"] == 0 and "level with the highest" in v["sentence"]
    with pytest.raises(ValueError, match="sr_llm"):
        success_verdict({"zero_shot": results["zero_shot"]})


def test_failure_examples_show_every_kind_preferring_sr_llm():
    results = {"zero_shot": _res(["echo", "content_lost"]), "sr_llm": _res(["success", "unchanged"])}
    df = failure_examples(results)
    assert list(df["kind"]) == list(KINDS)
    by_kind = df.set_index("kind")
    assert by_kind.loc["success", "method"] == "SR_LLM (QLoRA)"
    assert by_kind.loc["echo", "method"] == "base model, zero-shot"
    assert by_kind.loc["still_unsafe", "input"] == "(no rewrite of this kind)"


def test_sweep_table_marks_the_chosen_setting(tmp_path):
    rec = {"metrics": {"chosen": "b", "rows": [
        {"setting": "a", "kind": "sr_llm", "lora_r": 16, "learning_rate": 1e-3, "dev_success": 0.2, "best_eval_loss": 1.1},
        {"setting": "b", "kind": "sr_llm", "lora_r": 8, "learning_rate": 1e-3, "dev_success": 0.4, "best_eval_loss": 1.2},
        {"setting": "zero_shot", "kind": "prompting", "dev_success": 0.1}]}}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(rec))
    t = sweep_table(path)
    assert list(t.index) == ["a", "b (chosen)", "zero_shot"] and "chosen" not in t.columns
    assert sweep_table(rec).equals(t)


def test_sweep_choice_rule():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("sweep_cpu", Path(__file__).parents[1] / "benchmarks" / "sweep_cpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = [{"setting": "a", "dev_success": 0.5, "dev_success_n": 10, "best_eval_loss": 1.3, "train_minutes": 5},
            {"setting": "b", "dev_success": 0.45, "dev_success_n": 9, "best_eval_loss": 1.1, "train_minutes": 6},
            {"setting": "c", "dev_success": 0.3, "dev_success_n": 6, "best_eval_loss": 0.9, "train_minutes": 4}]
    assert mod.choose(rows) == "b"  # within one text of the best, the lower dev loss wins
    assert mod.choose(rows[:1] + rows[2:]) == "a"
    # a loss over the biased dev pairs only does not break a tie with a loss over every dev pair
    biased = {"setting": "d", "dev_success": 0.52, "dev_success_n": 11, "best_eval_loss": 2.1, "train_minutes": 9,
              "train_pairs": "needs_rewrite"}
    assert mod.choose(rows + [biased]) == "d"  # the higher success, although its (other) loss is higher
    assert mod.choose(rows + [{**biased, "dev_success_n": 10}]) == "a"  # the same success: the cheaper run
    assert mod.choose([rows[1], {**biased, "dev_success_n": 9}]) == "b"  # the same success again: the cheaper run
    # the committed record's choice follows the rule, and the cpu profile uses the chosen setting
    import json

    from srllm.profiles import get_profile

    record = json.loads((Path(__file__).parents[1] / "benchmarks" / "sweeps" / "sweep_cpu.json").read_text())
    rows_run = [r for r in record["metrics"]["rows"] if r["kind"] == "sr_llm"]
    chosen = record["metrics"]["chosen"]
    assert chosen == mod.choose(rows_run)
    # chosen among rows computed in bfloat16, the chosen one trained at the profile's patience
    assert {r["computed_in"] for r in rows_run} == {"bfloat16"}
    assert next(r for r in rows_run if r["setting"] == chosen)["patience"] == get_profile("cpu").train.patience
    cpu = get_profile("cpu")
    assert cpu.replace(**{**mod.COMMON, **mod.SETTINGS[chosen], **mod.SPEED}) == cpu
    # the speed check trained that setting both ways and recorded the speed settings it checked
    check = record["metrics"]["speed_check"]
    assert check["setting"] == chosen and check["speed"] == mod.SPEED
    assert (check["without"]["lora_dropout"], check["with"]["lora_dropout"]) == (0.05, 0.0)


def test_sweep_resume_keeps_rows_of_the_same_data_and_classifier_and_rescores_or_keeps_aside_the_others():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("sweep_cpu", Path(__file__).parents[1] / "benchmarks" / "sweep_cpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with_outputs = {"setting": "a", "kind": "sr_llm", "dev_success": 0.5, "outputs": ["x", "y"]}
    without = {"setting": "b", "kind": "sr_llm", "dev_success": 0.4}
    unfinished = {"setting": "c", "kind": "sr_llm", "dev_success": None}
    old = {"bias_classifier": "h1", "data": "d1", "dev_texts": 25, "chosen": "a",
           "rows": [with_outputs, without, unfinished], "float32_rows": [{"setting": "a"}]}
    rows, f32, earlier, rescore = mod.resume(old, "h1", "d1")
    assert rows == [with_outputs, without] and f32 == [{"setting": "a"}] and earlier == [] and rescore == []
    # same data, another classifier: rewrites are measured again, rows without them are kept aside
    rows, f32, earlier, rescore = mod.resume(old, "h2", "d1")
    assert rows == [] and f32 == [] and rescore == [with_outputs] and len(earlier) == 1
    assert earlier[0]["bias_classifier"] == "h1" and earlier[0]["chosen"] == "a"
    assert earlier[0]["rows"] == [without, unfinished] and earlier[0]["float32_rows"] == [{"setting": "a"}]
    # same data and classifier, another content threshold: measured again too
    assert mod.resume({**old, "content_threshold": 0.65}, "h1", "d1", 0.55)[3] == [with_outputs]
    assert mod.resume({**old, "content_threshold": 0.55}, "h1", "d1", 0.55)[0] == [with_outputs, without]
    # other data: nothing is rescored or kept as a row, whatever the classifier; all of it moves aside
    for clf in ("h1", "h2"):
        rows, f32, earlier, rescore = mod.resume(old, clf, "d2")
        assert rows == [] and f32 == [] and rescore == []
        assert earlier[-1]["rows"] == old["rows"] and "earlier version of the bundled CMD sample" in earlier[-1]["why"]
    # a record's older single earlier sweep is kept, first, with what it was
    kept = {"bias_classifier": None, "chosen": "z", "rows": [without]}
    earlier = mod.resume({**old, "earlier_scorer": kept}, "h1", "d2")[2]
    assert earlier[0]["chosen"] == "z" and earlier[0]["rows"] == [without] and "contrast pairs" in earlier[0]["why"]
    assert len(earlier) == 2
    assert mod.resume({**old, "earlier_sweeps": earlier}, "h1", "d1")[2] == earlier  # kept as they are
    # rows a CPU without native bfloat16 computed in float32 are kept apart, replacing their setting's old one
    f32_row = {**without, "setting": "a", "computed_in": "float32"}
    rows, f32, earlier, rescore = mod.resume({**old, "rows": [f32_row, without]}, "h1", "d1")
    assert rows == [without] and f32 == [f32_row] and rescore == []
    assert mod.merge_float32([{"setting": "a"}, {"setting": "c"}], [f32_row]) == [{"setting": "c"}, f32_row]


def test_reference_row_is_a_ceiling_not_a_competitor():
    results = {"zero_shot": _res(["success", "unchanged", "unchanged", "unchanged"]),
               "sr_llm": _res(["success", "success", "unchanged", "still_unsafe"]),
               "reference": _res(["success", "success", "success", "still_unsafe"])}
    v = success_verdict(results)
    assert v["best_other"] == "zero_shot" and v["highest"] and v["reference"] == pytest.approx(0.75)
    assert "reference rewrites" in v["sentence"] and "flags 1 of these 4 human rewrites" in v["sentence"]
    assert "reference" not in set(failure_examples(results)["method"])


def test_sweep_summary_says_whether_the_profile_uses_the_chosen_setting():
    from srllm.profiles import get_profile
    from srllm.training.report import sweep_summary

    rec = {"machine": {"load_average": [3.0]}, "metrics": {
        "chosen": "b", "dev_texts": 25, "not_run": ["c"], "common": {"train.epochs": 1.0, "train.max_steps": -1},
        "settings": {"a": {}, "b": {"train.epochs": 2.0}, "c": {}},
        "rows": [{"setting": "a", "kind": "sr_llm", "lora_r": 16, "learning_rate": 1e-3, "batch_size": 8,
                  "train_pairs": "all"},
                 {"setting": "b", "kind": "sr_llm", "lora_r": 16, "learning_rate": 1e-3, "batch_size": 8,
                  "train_pairs": "needs_rewrite"}]}}
    cpu = get_profile("cpu")
    matching = cpu.replace(**{"data.train_pairs": "needs_rewrite", "train.epochs": 2.0, "lora.r": 16,
                              "train.learning_rate": 1e-3, "train.batch_size": 8})
    s = sweep_summary(rec, matching)
    assert s["chosen"] == "b" and s["uses_chosen"] and s["n_settings"] == 2 and s["not_run"] == ["c"]
    assert "**b**" in s["sentence"] and "uses the chosen setting" in s["sentence"] and "load average 3.0" in s["sentence"]
    assert "other jobs shared" not in s["sentence"]  # no core count: the load alone cannot say so
    busy = {**rec, "machine": {"load_average": [3.0], "cpu_count": 2}}
    quiet = {**rec, "machine": {"load_average": [2.1], "cpu_count": 2}}
    assert "other jobs shared the machine" in sweep_summary(busy, matching)["sentence"]
    assert "other jobs shared" not in sweep_summary(quiet, matching)["sentence"]  # the sweep's own two cores
    other = matching.replace(**{"train.epochs": 1.0})
    assert not sweep_summary(rec, other)["uses_chosen"]
    assert "does not use the chosen setting (it differs in epochs)" in sweep_summary(rec, other)["sentence"]
    # the run's own record decides: a learning rate or step limit passed to train() past the profile
    run_config = {"lora": {"r": 16}, "learning_rate": 1e-3, "batch_size": 8, "epochs": 2.0, "max_steps": -1,
                  "quant": {"compute_dtype": matching.quant.compute_dtype}}
    assert sweep_summary(rec, matching, run_config)["uses_chosen"]
    s = sweep_summary(rec, matching, {**run_config, "learning_rate": 5e-4, "max_steps": 10})
    assert not s["uses_chosen"] and s["differs"] == ["learning rate", "step limit"]
    assert "(it differs in learning rate, step limit)" in s["sentence"]
    # precision: the setting is the dtype asked for; the one a CPU computed in is stated, not compared
    asked = matching.quant.compute_dtype
    rec["metrics"]["rows"][1].update(compute_dtype=asked, computed_in="float32")
    same_cpu = sweep_summary(rec, matching, {**run_config, "quant": {"compute_dtype": "float32"}})
    assert same_cpu["uses_chosen"] and "computed in float32 on its machine" not in same_cpu["sentence"]
    native = sweep_summary(rec, matching, {**run_config, "quant": {"compute_dtype": "bfloat16"}})
    assert native["uses_chosen"] and "computed in float32 on its machine and this run's in bfloat16" in native["sentence"]
    assert not sweep_summary(rec, matching.replace(**{"quant.compute_dtype": "float32"}), run_config)["uses_chosen"]


def test_sweep_view_formats_and_the_float32_comparison_sentence():
    from srllm.profiles import get_profile
    from srllm.training.report import sweep_summary, sweep_view

    rec = {"machine": {}, "metrics": {
        "chosen": "b", "dev_texts": 25, "common": {"train.epochs": 1.0}, "settings": {"a": {}, "b": {}},
        "rows": [{"setting": "a", "kind": "sr_llm", "epochs": 0.6962, "best_eval_loss": 1.23456, "dev_success": 0.44,
                  "dev_success_n": 11, "still_unsafe": 0.28, "content_lost": 0.12, "compute_dtype": "bfloat16"},
                 {"setting": "b", "kind": "sr_llm", "epochs": 1.0, "best_eval_loss": 1.2136, "dev_success": 0.52,
                  "dev_success_n": 13, "still_unsafe": 0.4, "content_lost": 0.08, "compute_dtype": "bfloat16"},
                 {"setting": "zero_shot", "kind": "prompting", "dev_success": 0.4, "dev_success_n": 10}],
        "float32_rows": [{"setting": "b", "dev_success_n": 12, "best_eval_loss": 1.2126}]}}
    html = sweep_view(rec).to_html()
    assert "b (chosen)" in html and "0.70" in html and "1.235" in html and "44%" in html and "0.9em" in html
    rec["metrics"]["rows"][0]["setting"] = "r16_lr<2"  # long names may break after an underscore, escaped
    assert "r16_<wbr>lr&lt;2" in sweep_view(rec).to_html()
    rec["metrics"]["rows"][0]["setting"] = "a"
    s = sweep_summary(rec, get_profile("cpu"))["sentence"]
    assert "Computed in bfloat16" in s and "succeeded on 12 of 25 (here 13)" in s and "1.2126 (here 1.2136)" in s
    del rec["metrics"]["float32_rows"]
    assert "float32" not in sweep_summary(rec, get_profile("cpu"))["sentence"]
    assert "compare only within one kind" not in s  # every row trained on every pair
    rec["metrics"]["rows"][0]["train_pairs"] = "needs_rewrite"
    assert "the biased dev pairs only" in sweep_summary(rec, get_profile("cpu"))["sentence"]
    # rows trained at another early-stopping patience than the sweep's are named with it
    assert "patience other" not in sweep_summary(rec, get_profile("cpu"))["sentence"]
    rec["metrics"]["common"]["train.patience"] = 5
    rec["metrics"]["rows"][0].update(patience=3, stopped_early=True)
    said = sweep_summary(rec, get_profile("cpu"))["sentence"]
    assert "patience other than the sweep's 5" in said and "a (3, stopped early)" in said and "b (" not in said


def test_sweep_summary_says_when_the_record_was_scored_or_trained_otherwise_and_names_earlier_sweeps():
    from srllm.metrics.task_success import DEFAULT_THRESHOLD
    from srllm.profiles import get_profile
    from srllm.training.report import sweep_data_key, sweep_summary

    cpu = get_profile("cpu")
    rec = {"machine": {}, "metrics": {
        "chosen": "a", "dev_texts": 25, "common": {}, "settings": {"a": {}}, "bias_classifier": "h-new",
        "content_threshold": DEFAULT_THRESHOLD, "data": sweep_data_key(cpu),
        "rows": [{"setting": "a", "kind": "sr_llm", "dev_success_n": 15, "compute_dtype": "float32"}],
        "float32_rows": [{"setting": "a", "dev_success_n": 12, "best_eval_loss": 1.2}],
        "earlier_sweeps": [{"why": "with an older judge", "chosen": "old_pick",
                            "rows": [{"setting": "old_pick", "kind": "sr_llm"}, {"setting": "x", "kind": "sr_llm"},
                                     {"setting": "reference", "kind": "reference"}]}]}}
    same = sweep_summary(rec, cpu, bias_classifier="h-new")
    assert same["same_scorer"] is True and same["same_data"] is True
    assert "another version" not in same["sentence"] and "other CMD records" not in same["sentence"]
    assert "also keeps an earlier sweep, one of 2 settings with an older judge, which chose old_pick" in same["sentence"]
    assert "Computed in" not in same["sentence"]  # a float32 row is not compared with the float32 rows
    m = rec["metrics"]
    two = {**rec, "metrics": {**m, "earlier_sweeps": m["earlier_sweeps"] + [
        {"why": "on older data", "chosen": "p2", "rows": [{"setting": "p2", "kind": "sr_llm"}]}]}}
    s2 = sweep_summary(two, cpu)["sentence"]
    assert "keeps 2 earlier sweeps" in s2 and "which chose old_pick" in s2 and "one of 1 settings on older data, which chose p2" in s2
    other = sweep_summary(rec, cpu, bias_classifier="h-other")
    assert other["same_scorer"] is False and "another version of the offline proxy's bias classifier" in other["sentence"]
    assert sweep_summary(rec, cpu)["same_scorer"] is None
    # a record measured with another content threshold, or on other records, is named as such
    thr = sweep_summary({**rec, "metrics": {**m, "content_threshold": DEFAULT_THRESHOLD + 0.1}}, cpu, bias_classifier="h-new")
    assert thr["same_scorer"] is False and "measured content with threshold" in thr["sentence"]
    moved = sweep_summary({**rec, "metrics": {**m, "data": "0123456789ab"}}, cpu)
    assert moved["same_data"] is False and "other CMD records than this page's" in moved["sentence"]
    assert sweep_summary(rec, get_profile("smoke"))["same_data"] is None  # the sweep describes the cpu profile


def test_sweep_summary_compares_lora_dropout_with_the_speed_check_and_states_it():
    from srllm.profiles import get_profile
    from srllm.training.report import sweep_summary

    def row(n, loss, minutes, dropout):
        return {"setting": "a", "kind": "sr_llm", "dev_success_n": n, "best_eval_loss": loss,
                "train_minutes": minutes, "lora_dropout": dropout}

    rec = {"machine": {}, "metrics": {
        "chosen": "a", "dev_texts": 45, "common": {"lora.dropout": 0.05}, "settings": {"a": {}},
        "rows": [{"setting": "a", "kind": "sr_llm", "dev_success_n": 29, "lora_r": 16}]}}
    cpu = get_profile("cpu").replace(**{"lora.r": 16})
    config = {"lora": {"r": 16, "dropout": 0.0}, "learning_rate": cpu.train.learning_rate,
              "batch_size": cpu.train.batch_size, "epochs": 1.0, "max_steps": cpu.train.max_steps}
    # without a speed check, every row trained with the common dropout: a run without it differs
    plain = sweep_summary(rec, cpu, config)
    assert not plain["uses_chosen"] and plain["differs"] == ["LoRA dropout"]
    assert "Speed setting" not in plain["sentence"]
    rec["metrics"]["speed_check"] = {"setting": "a", "speed": {"lora.dropout": 0.0}, "cpu": "Test CPU",
                                     "without": row(21, 2.2392, 5.32, 0.05), "with": row(20, 2.2411, 2.98, 0.0)}
    s = sweep_summary(rec, cpu, config)
    assert s["uses_chosen"], s["differs"]
    assert ("Speed setting: LoRA dropout 0.0 (the sweep's rows trained with LoRA dropout 0.05). On Test CPU, the chosen "
            "setting succeeded on 21 of 45 (best dev loss 2.2392, 5.3 min of training) without it and on 20 of 45 "
            "(best dev loss 2.2411, 3.0 min of training) with it") in s["sentence"]
    assert "sweep row, trained on the sweep's machine, succeeded on 29 of 45" in s["sentence"]
    assert "float rounding differ" in s["sentence"] and "computed in" not in s["sentence"]
    # where the sweep row and the speed check computed in different dtypes, the sentence names both
    rec["metrics"]["rows"][0]["computed_in"] = "float32"
    rec["metrics"]["speed_check"]["without"]["computed_in"] = "bfloat16"
    said = sweep_summary(rec, cpu, config)["sentence"]
    assert "its 4-bit layers computed in float32, the speed check's in bfloat16, and dropout masks" in said
    assert sweep_summary(rec, cpu, {**config, "lora": {"r": 16, "dropout": 0.05}})["differs"] == ["LoRA dropout"]


def test_the_committed_sweep_was_made_on_the_cpu_profiles_data_and_scorer():
    import json
    from pathlib import Path

    from srllm.metrics.task_success import DEFAULT_THRESHOLD
    from srllm.profiles import get_profile
    from srllm.scoring.bias import proxy_card
    from srllm.training.report import sweep_summary

    path = Path(__file__).parents[1] / "benchmarks" / "sweeps" / "sweep_cpu.json"
    m = json.loads(path.read_text())["metrics"]
    assert m["content_threshold"] == DEFAULT_THRESHOLD
    summary = sweep_summary(path, get_profile("cpu"), bias_classifier=proxy_card()["data_hash"])
    assert summary["same_data"] is True and summary["same_scorer"] is True and summary["uses_chosen"] is True


def test_unseen_check_reports_the_model_beside_a_persons_rewrites():
    results = {"sr_llm": _res(["success", "still_unsafe", "still_unsafe", "unchanged"]),
               "person": _res(["success", "success", "success", "still_unsafe"])}
    found = unseen_finding(results)
    assert (found["sr_llm_success"], found["sr_llm_still_unsafe"], found["sr_llm_unchanged"]) == (1, 2, 1)
    assert (found["person_success"], found["person_still_unsafe"]) == (3, 1)
    assert "succeeds for 1 of 4 (1 unchanged, 2 still unsafe)" in found["sentence"]
    assert "succeed for 3 of 4 (1 still unsafe)" in found["sentence"] and "cannot confirm" not in found["sentence"]
    assert "Scorer: offline-proxy." in found["sentence"]
    results["sr_llm"].scorer_is_proxy = True
    assert "Scorer: offline-proxy (a proxy, not the paper's scorers)." in unseen_finding(results)["sentence"]
    results["person"] = _res(["success", "still_unsafe", "still_unsafe", "still_unsafe"])
    assert "cannot confirm a good rewrite" in unseen_finding(results)["sentence"]  # the scorer rejects most of them
    table = unseen_table(results)
    assert list(table.columns) == ["input", "SR_LLM rewrite", "SR_LLM verdict", "a person's rewrite", "person verdict"]
    assert list(table["SR_LLM verdict"]) == ["success", "still unsafe", "still unsafe", "unchanged"]
    summary = unseen_summary(results)
    assert list(summary.index) == ["SR_LLM (QLoRA)", "a person"]
    assert summary.loc["SR_LLM (QLoRA)"].to_dict() == {"n": 4, "success": 1, "unchanged": 1, "echo": 0,
                                                        "still unsafe": 2, "content lost": 0}
    assert summary.loc["a person", "still unsafe"] == 3
    # the three checks one by one: the unchanged row was not flagged, a content-lost row is not flagged
    results["sr_llm"] = _res(["success", "still_unsafe", "unchanged", "content_lost", "echo"])
    results["sr_llm"].flags = [False, True, False, False, False]
    found = unseen_finding(results)
    assert (found["sr_llm_changed"], found["sr_llm_echo"], found["sr_llm_judged_unbiased"],
            found["sr_llm_all_three"]) == (4, 1, 4, 2)
    assert ("4 of 5 of SR_LLM's rewrites change the sentence, 1 repeat the instruction or refuse, 4 are judged "
            "unbiased by the scorer, and 2 do all three.") in found["sentence"]
    results["person"] = _res(["content_lost", "content_lost", "success", "success"])
    assert "counts as content lost" in unseen_finding(results)["sentence"]
