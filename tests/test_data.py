"""Loaders, schema validation, bad-input messages, splits and HF views of srllm.data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from srllm.data import (
    LABELS, PAPER_SPLIT_COUNTS, TOXIGEN_GROUPS, JobPair, JobPosting, Record, ToxigenRecord, detect_format,
    list_samples, load_annotations, load_file, load_records, load_sample, record_id, records_from_rows,
    split_records, split_sizes, trainable,
)
from srllm.data.samples import samples_dir
from srllm.errors import SrllmError

FIX = Path(__file__).parent / "fixtures" / "data"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return p


# --- happy paths -----------------------------------------------------------------------------

def test_jsonl_labels_normalised_and_id_assigned():
    records, report = load_file(FIX / "cmd_small.jsonl")
    assert report.format == "cmd" and report.rows_read == 5 and report.kept == 5 and report.excluded == 0
    by_id = {r.id: r for r in records}
    a2 = by_id["a2"]
    assert (a2.bias, a2.toxicity, a2.sentiment, a2.harm) == ("Yes", "Mild", "Negative", "Medium")
    assert a2.biased_words == ("ruining this town", "honestly")
    assert a2.target_category == "nationality" and a2.style == "social_media"
    assert by_id["a1"].biased_words == ("never manage to learn",)
    # the fifth row has no id: a deterministic hash of its text
    fifth = records[4]
    assert fifth.id == record_id(fifth.text) and fifth.id.startswith("cmd-")
    assert load_file(FIX / "cmd_small.jsonl")[0][4].id == fifth.id
    # a4 has no safe variation: kept, reported, not trainable
    assert by_id["a4"].safe_variation is None and report.without_rewrite == [4]
    assert [r.id for r in trainable(records)] == ["a1", "a2", "a3", records[4].id]


def test_csv_loader_ignores_extra_columns_and_reads_list_literals():
    records, report = load_file(FIX / "cmd_small.csv")
    assert report.row_unit == "row" and report.kept == 3
    assert report.ignored_columns == ("extra_col",)
    assert records[0].biased_words == ("too lazy",)
    assert records[1].text == "The report, released today, covers rural schools." and records[1].target is None
    assert (records[2].bias, records[2].toxicity, records[2].sentiment, records[2].harm) == ("Yes", "No", "Negative", "Low")
    assert records[2].biased_words == ("just don't value", "education")


def test_parquet_loader_matches_jsonl(tmp_path):
    import pandas as pd

    records, _ = load_file(FIX / "cmd_small.jsonl")
    df = pd.DataFrame([r.to_dict() for r in records])
    df["id"] = range(len(df))  # integer ids (numpy int64) must come back as strings
    p = tmp_path / "cmd.parquet"
    df.to_parquet(p)
    back, report = load_file(p)
    assert report.kept == 5 and [r.id for r in back] == ["0", "1", "2", "3", "4"]
    assert [r.biased_words for r in back] == [r.biased_words for r in records]
    assert [r.harm for r in back] == [r.harm for r in records]


def test_column_mapping_and_paper_schema_names(tmp_path):
    p = write(tmp_path, "m.csv", "sentence,BIAS,Benign,WORDS_OR_PHRASES\nSome text here.,no,Some text here.,\n")
    records, report = load_file(p, mapping={"sentence": "text"})
    assert records[0].text == "Some text here." and records[0].bias == "No"
    assert records[0].safe_variation == "Some text here."
    assert report.renamed_columns == {"sentence": "text", "BIAS": "bias", "Benign": "safe_variation",
                                      "WORDS_OR_PHRASES": "biased_words"}


def test_authors_csv_layout():
    records, report = load_file(FIX / "authors_small.csv")
    assert report.format == "authors-csv" and report.kept == 4
    assert set(report.ignored_columns) == {"Unnamed: 0", "annotator_notes"}
    by_id = {r.id: r for r in records}
    assert by_id["u1"].bias == "Yes" and by_id["u1"].biased_words == ("naturally worse",)
    assert by_id["u1"].target_category == "gender" and by_id["u1"].target == "sexism"
    assert by_id["u2"].bias == "No" and by_id["u2"].target_category == "political"
    assert by_id["u3"].target_category == "age" and by_id["u3"].safe_variation is None
    assert by_id["u4"].bias == "Yes" and by_id["u4"].target_category == "other"
    assert report.without_rewrite == [3] and report.trainable == 3
    assert "kept without safe variation (scoring only, not trained on): 1 at row 3" in report.summary()


def test_toxigen_and_jobs_loaders():
    tg, rep = load_file(FIX / "toxigen_small.jsonl")
    assert rep.format == "toxigen" and all(isinstance(t, ToxigenRecord) for t in tg)
    assert tg[1].target_group == "women" and tg[2].toxicity_ai is None and tg[0].stereotyping == 1
    pairs, rep = load_file(FIX / "job_pairs_small.jsonl")
    assert rep.format == "jobs (pairs)" and isinstance(pairs[0], JobPair) and pairs[1].category == "culture"
    posts, rep = load_file(FIX / "job_postings_small.jsonl")
    assert rep.format == "jobs (postings)" and isinstance(posts[0], JobPosting) and posts[0].level == "Mid"
    recs, _ = load_records(FIX / "job_pairs_small.jsonl")
    assert recs[0] == Record(id="p1", text=pairs[0].biased, safe_variation=pairs[0].neutral, target="age",
                             source_note=pairs[0].rationale)


def test_detect_format():
    assert detect_format(["biased_text", "label"]) == "authors-csv"
    assert detect_format(["text", "target_group", "toxicity_human"]) == "toxigen"
    assert detect_format(["id", "biased", "neutral"]) == "jobs"
    assert detect_format(["text", "bias"]) == "cmd"
    assert detect_format(["item_id", "annotator", "bias"]) == "annotations"


def test_records_from_rows_validates_like_files():
    items, report = records_from_rows([{"Original_Sentence": "x y z", "BIAS": "YES"}, {"Original_Sentence": ""}],
                                      source="hub")
    assert items[0].bias == "Yes" and report.kept == 1 and report.excluded_by_reason == {"blank_text": [2]}


# --- bad input: exact messages ------------------------------------------------------------------

def test_missing_required_column_names_column_and_file(tmp_path):
    p = write(tmp_path, "nocol.csv", "sentence,bias\nhello,Yes\n")
    with pytest.raises(SrllmError) as e:
        load_file(p)
    assert str(e.value) == (f"{p}: required column 'text' is missing (columns found: sentence, bias); "
                            f"map a column onto it with --map OLD=text")


def test_invalid_label_names_row_field_and_allowed_values(tmp_path):
    p = write(tmp_path, "bad.csv", "text,bias,toxicity\nfine text,Yes,No\nother text,maybe,No\n")
    with pytest.raises(SrllmError) as e:
        load_file(p)
    assert str(e.value) == (f"{p}, row 2 (1-based data row, header not counted): field 'bias' has invalid value "
                            f"'maybe'; allowed values: Yes, No (case-insensitive)")
    p = write(tmp_path, "bad.jsonl", '{"text": "a"}\n\n{"text": "b", "toxicity": "extreme"}\n')
    with pytest.raises(SrllmError) as e:
        load_file(p)
    assert str(e.value) == (f"{p}, line 3: field 'toxicity' has invalid value 'extreme'; "
                            f"allowed values: No, Mild, High (case-insensitive)")


def test_invalid_authors_label(tmp_path):
    p = write(tmp_path, "a.csv", "biased_text,label\nsome text,Very Biased\n")
    with pytest.raises(SrllmError, match=r"row 1 .*field 'label' has invalid value 'Very Biased'; allowed values: "
                                         r"Highly Biased, Slightly Biased"):
        load_file(p)


def test_blank_text_and_duplicate_ids_are_counted(tmp_path):
    p = write(tmp_path, "d.csv", "id,text\n1,first\n2,   \n1,again\n3,third\n")
    records, report = load_file(p)
    assert [r.id for r in records] == ["1", "3"]
    assert report.rows_read == 4 and report.kept == 2 and report.excluded == 2
    assert report.excluded_by_reason == {"blank_text": [2], "duplicate_id": [3]}
    assert "duplicate_id (id already used by an earlier row (first one kept)): 1 at row 3" in report.summary()


def test_one_column_csv_counts_blank_and_whitespace_rows(tmp_path):
    # pandas skips such lines by default; here they must be counted and keep row numbers.
    p = write(tmp_path, "one.csv", "text\nhello there\n   \n\nworld peace\n\n")
    records, report = load_file(p)
    assert [r.text for r in records] == ["hello there", "world peace"]
    assert report.rows_read == 4 and report.excluded_by_reason == {"blank_text": [2, 3]}


def test_identical_texts_without_ids_are_duplicates(tmp_path):
    p = write(tmp_path, "d.jsonl", '{"text": "same"}\n{"text": "same"}\n')
    _, report = load_file(p)
    assert report.kept == 1 and report.excluded_by_reason == {"duplicate_id": [2]}


def test_jsonl_malformed_and_undecodable_lines_are_counted(tmp_path):
    content = b'{"text": "ok one"}\n{"text": "broken"\n\n{"text": "caf\xe9"}\n["a list"]\n{"text": "ok two"}\n'
    p = write(tmp_path, "m.jsonl", content)
    records, report = load_file(p)
    assert [r.text for r in records] == ["ok one", "ok two"]
    assert report.row_unit == "line" and report.rows_read == 5
    assert report.excluded_by_reason == {"malformed_json": [2, 5], "undecodable_bytes": [4]}


def test_undecodable_csv_is_an_error_with_line(tmp_path):
    p = write(tmp_path, "l1.csv", b"text,bias\nfine,Yes\ncaf\xe9 au lait,No\n")
    with pytest.raises(SrllmError) as e:
        load_file(p)
    assert str(e.value) == f"{p}: line 3 is not valid UTF-8 (byte 22 = 0xe9); save the file as UTF-8"


def test_unparseable_inputs_give_one_line(tmp_path):
    p = write(tmp_path, "ragged.csv", 'text,bias\n"unclosed quote,Yes\n')
    with pytest.raises(SrllmError, match=r"ragged.csv: cannot parse as CSV"):
        load_file(p)
    p = write(tmp_path, "x.parquet", b"not parquet at all")
    with pytest.raises(SrllmError, match=r"x.parquet: not a readable Parquet file"):
        load_file(p)
    with pytest.raises(SrllmError, match=r"unsupported file type '.txt'"):
        load_file(write(tmp_path, "a.txt", "text\nx\n"))
    with pytest.raises(SrllmError, match=r"the file is empty"):
        load_file(write(tmp_path, "e.csv", ""))
    with pytest.raises(SrllmError, match=r"no such file"):
        load_file(tmp_path / "missing.jsonl")


def test_bad_cells_other_than_labels(tmp_path):
    p = write(tmp_path, "b.jsonl", '{"text": "x", "biased_words": "[\'unclosed"}\n')
    with pytest.raises(SrllmError, match=r"line 1: field 'biased_words' looks like a list but cannot be parsed"):
        load_file(p)
    p = write(tmp_path, "c.jsonl", '{"text": 5}\n')
    with pytest.raises(SrllmError, match=r"line 1: field 'text' must be a string, got int 5"):
        load_file(p)
    p = write(tmp_path, "t.jsonl", '{"text": "x", "target_group": "martians", "toxicity_human": 2}\n')
    with pytest.raises(SrllmError, match=r"field 'target_group' has invalid value 'martians'; allowed values: women"):
        load_file(p)
    p = write(tmp_path, "h.jsonl", '{"text": "x", "target_group": "women", "toxicity_human": 7}\n')
    with pytest.raises(SrllmError, match=r"field 'toxicity_human' must be a number in \[1, 5\], got 7"):
        load_file(p)


def test_mapping_errors(tmp_path):
    p = write(tmp_path, "m.csv", "sentence,text\na,b\n")
    with pytest.raises(SrllmError, match=r"column mapping nope=text names column 'nope', which the file does not "
                                         r"have \(columns found: sentence, text\)"):
        load_file(p, mapping={"nope": "text"})
    with pytest.raises(SrllmError, match=r"clashes with the file's own column 'text'"):
        load_file(p, mapping={"sentence": "text"})
    with pytest.raises(SrllmError, match=r"unknown data format 'xml'"):
        load_file(p, format="xml")


# --- annotations ---------------------------------------------------------------------------------

def test_annotations_loader(tmp_path):
    df, report = load_annotations(FIX / "annotations_small.csv")
    assert len(df) == 12 and report.kept == 12 and set(df["annotator"]) == {"A", "B", "C"}
    p = write(tmp_path, "a.csv", "item_id,annotator,bias,safe_ok\ni1,A,Yes,perhaps\n")
    with pytest.raises(SrllmError) as e:
        load_annotations(p)
    assert str(e.value) == f"{p}, row 1: field 'safe_ok' has invalid value 'perhaps'; allowed values: Yes, No (case-insensitive)"


# --- splits ----------------------------------------------------------------------------------------

def _synthetic(n: int) -> list[Record]:
    vals = [(b, t, s, h) for b in LABELS["bias"] for t in LABELS["toxicity"] for s in LABELS["sentiment"]
            for h in LABELS["harm"]]
    return [Record(id=f"r{i}", text=f"text {i}", bias=vals[i % 7][0], toxicity=vals[i % 5][1],
                   sentiment=vals[i % 11][2], harm=vals[i % 3][3], safe_variation=f"safe {i}") for i in range(n)]


def test_split_sizes_follow_the_paper():
    assert split_sizes(19_999) == PAPER_SPLIT_COUNTS
    s = split_sizes(500)
    assert sum(s.values()) == 500 and s == {"train": 350, "dev": 50, "test": 100}
    assert split_sizes(3) == {"train": 1, "dev": 1, "test": 1}
    assert min(split_sizes(5).values()) >= 1
    with pytest.raises(SrllmError, match="need at least 3"):
        split_sizes(2)


def test_split_records_deterministic_stratified_order_free():
    records = _synthetic(600)
    a = split_records(records, seed=42)
    b = split_records(list(reversed(records)), seed=42)
    assert {k: [r.id for r in v] for k, v in a.items()} == {k: [r.id for r in v] for k, v in b.items()}
    assert {k: len(v) for k, v in a.items()} == split_sizes(600)
    ids = [r.id for v in a.values() for r in v]
    assert len(ids) == len(set(ids)) == 600
    c = split_records(records, seed=7)
    assert [r.id for r in c["test"]] != [r.id for r in a["test"]]
    # stratified: each label's share in every split stays close to its overall share
    for field in ("bias", "toxicity", "harm"):
        overall = Counter(getattr(r, field) for r in records)
        for name, part in a.items():
            got = Counter(getattr(r, field) for r in part)
            for label, count in overall.items():
                assert abs(got[label] / len(part) - count / len(records)) < 0.06, (field, name, label)


def test_split_for_profile_limits_rows_but_not_membership():
    from srllm.data import split_for_profile
    from srllm.profiles import get_profile

    records = _synthetic(200)
    smoke = split_for_profile(records, get_profile("smoke"))
    full = split_records(records, seed=get_profile("smoke").seed)
    d = get_profile("smoke").data
    assert [len(smoke[s]) for s in ("train", "dev", "test")] == [d.max_train_rows, d.max_eval_rows, d.max_test_rows]
    assert all(smoke[s] == full[s][: len(smoke[s])] for s in smoke)
    assert split_for_profile(records, get_profile("smoke", **{"data.max_train_rows": None}))["train"] == full["train"]


def test_split_small_sample_every_split_non_empty():
    parts = split_records(_synthetic(4), seed=0)
    assert all(len(v) >= 1 for v in parts.values())
    with pytest.raises(SrllmError, match="unique record ids"):
        split_records([Record(id="x", text="a"), Record(id="x", text="b"), Record(id="y", text="c")])


# --- HF views --------------------------------------------------------------------------------------

# --- bundled samples ------------------------------------------------------------------------------

def _sample_exists(name: str) -> bool:
    from srllm.data import SAMPLES

    return (samples_dir() / SAMPLES[name][0]).exists()


def test_list_samples_reports_each():
    rows = {r["name"]: r for r in list_samples()}
    assert set(rows) == {"cmd", "toxigen", "job_pairs", "job_postings", "annotations", "unseen"}
    for name, r in rows.items():
        assert r["status"] in ("ok", "missing") or r["status"].endswith("excluded"), (name, r["status"])


@pytest.mark.skipif(not _sample_exists("cmd"), reason="cmd sample not written yet")
def test_cmd_sample_loads_and_covers_every_label():
    records, report = load_sample("cmd", with_report=True)
    assert report.excluded == 0 and len(records) >= 500
    for field, values in LABELS.items():
        assert set(getattr(r, field) for r in records) >= set(values), field
    assert len(trainable(records)) >= 500
    parts = split_records(records, seed=42)
    assert all(parts[s] for s in parts)


def test_unseen_stereotypes_need_rewrites_have_a_persons_rewrite_and_are_in_no_split():
    from srllm.metrics.task_success import biased_inputs

    unseen = load_sample("unseen")
    assert len(unseen) == 20 and len(biased_inputs(unseen)) == 20
    assert all(r.safe_variation and r.safe_variation != r.text for r in unseen)
    cmd_texts = {r.text.lower() for r in load_sample("cmd")}
    assert not [r.text for r in unseen if r.text.lower() in cmd_texts]


@pytest.mark.skipif(not _sample_exists("toxigen"), reason="toxigen sample not written yet")
def test_toxigen_sample_covers_table5_groups():
    items = load_sample("toxigen")
    counts = Counter(t.target_group for t in items)
    assert set(counts) == set(TOXIGEN_GROUPS) and min(counts.values()) >= 15


@pytest.mark.skipif(not (_sample_exists("job_pairs") and _sample_exists("job_postings")),
                    reason="job samples not written yet")
def test_job_samples_sizes():
    assert len(load_sample("job_pairs")) >= 200
    assert len(load_sample("job_postings")) >= 60


@pytest.mark.skipif(not _sample_exists("annotations"), reason="annotation example not written yet")
def test_annotation_example_loads():
    df = load_sample("annotations")
    assert {"item_id", "annotator", "bias"} <= set(df.columns) and len(df) > 0


def test_error_names_the_file_column_when_renamed(tmp_path):
    p = write(tmp_path, "r.csv", "sentence,level\nsome text,extreme\n")
    with pytest.raises(SrllmError) as e:
        load_file(p, mapping={"sentence": "text", "level": "harm"})
    assert str(e.value) == (f"{p}, row 1 (1-based data row, header not counted): field 'harm' (file column 'level') "
                            f"has invalid value 'extreme'; allowed values: Low, Medium, High (case-insensitive)")


# --- command line ---------------------------------------------------------------------------------

def test_cli_validate_prints_report_and_exits_zero(capsys):
    from srllm.cli import main

    assert main(["data", "validate", "--input", str(FIX / "cmd_small.csv")]) == 0
    out = capsys.readouterr().out
    assert "rows read: 3" in out and "kept: 3" in out and "excluded: 0" in out and "ignored columns: extra_col" in out
    assert main(["data", "validate", "--input", str(FIX / "cmd_small.jsonl"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["without_rewrite"] == 1


def test_cli_validate_bad_input_one_line_no_traceback(tmp_path, capsys):
    from srllm.cli import main

    p = write(tmp_path, "bad.csv", "text,sentiment\nhello,angry\n")
    assert main(["data", "validate", "--input", str(p)]) == 2
    err = capsys.readouterr().err
    assert err == (f"srllm data: error: {p}, row 1 (1-based data row, header not counted): field 'sentiment' has "
                   f"invalid value 'angry'; allowed values: Positive, Neutral, Negative (case-insensitive)\n")
    assert main(["data", "validate", "--input", str(p), "--map", "text=body", "--map", "broken"]) == 2
    assert "--map expects OLD=NEW" in capsys.readouterr().err
    p2 = write(tmp_path, "m.csv", "body\nhello\n")
    assert main(["data", "validate", str(p2), "--map", "body=text"]) == 0
    assert "renamed columns: body -> text" in capsys.readouterr().out


def test_annotation_files_are_detected(capsys):
    from srllm.cli import main

    p = FIX / "annotations_small.csv"
    with pytest.raises(SrllmError) as e:
        load_file(p)
    assert str(e.value) == (f"{p}: holds per-annotator labels (item_id, annotator); load it with "
                            f"srllm.data.load_annotations or `srllm data validate --format annotations`")
    assert main(["data", "validate", str(p)]) == 0
    out = capsys.readouterr().out
    assert "format: annotations" in out and "kept: 12" in out


def test_cli_samples_lists_all(capsys):
    from srllm.cli import main

    assert main(["data", "samples"]) == 0
    out = capsys.readouterr().out
    for name in ("cmd", "toxigen", "job_pairs", "job_postings", "annotations"):
        assert name in out


# --- BOLD and Hub loaders -------------------------------------------------------------------------

def test_bold_prompts_per_domain_balanced_subset():
    from srllm.data.bold import BOLD_DOMAINS, bold_counts, load_bold

    counts = bold_counts()
    assert set(counts) == set(BOLD_DOMAINS)
    religion = load_bold(["religious_ideology"])
    assert len(religion) == sum(counts["religious_ideology"].values())
    sub = load_bold(["race"], max_per_domain=8)
    assert len(sub) == 8 and {p.group for p in sub} == set(counts["race"])  # 4 groups, round-robin
    assert sub == load_bold(["race"], max_per_domain=8)
    assert all(p.prompt and p.prompt == p.prompt.strip() for p in sub)
    with pytest.raises(SrllmError, match="unknown BOLD domain 'sports'"):
        load_bold(["sports"])


def test_hub_loaders_fail_fast_offline(monkeypatch, tmp_path):
    """Offline and without a fetched copy, the Hub loaders stop at once with the one message (no sample)."""
    from srllm.data import sources
    from srllm.data.hub import load_hub_cmd, load_hub_toxigen

    monkeypatch.setenv("SRLLM_CACHE", str(tmp_path))
    monkeypatch.setattr(sources, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(SrllmError, match=r"cannot read dataset 'cmd': newsmediabias/instruction-safe-llm: "
                                         r"offline: the Hugging Face Hub is not reachable"):
        load_hub_cmd()
    with pytest.raises(SrllmError, match=r"cannot read dataset 'toxigen': toxigen/toxigen-data \(config annotated\)"):
        load_hub_toxigen()


# --- the data notebook ------------------------------------------------------------------------------

@pytest.mark.parametrize("profile", ["smoke"])
def test_data_notebook_runs_under_papermill(tmp_path, repo_root, profile):
    """01_data.ipynb executes end to end and glues its headline numbers (fixtures stand in for missing samples)."""
    import nbformat
    import papermill as pm

    params = {"profile": profile}
    if not _sample_exists("cmd"):
        params["data_source"] = str(FIX / "cmd_small.jsonl")
    if not _sample_exists("annotations"):
        params["annotations_source"] = str(FIX / "annotations_small.csv")
    out = tmp_path / "01_data.ipynb"
    pm.execute_notebook(str(repo_root / "notebooks" / "01_data.ipynb"), str(out), parameters=params,
                        cwd=str(repo_root), progress_bar=False, kernel_name="python3")
    nb = nbformat.read(str(out), as_version=4)
    glued = {o["metadata"]["scrapbook"]["name"] for c in nb.cells for o in c.get("outputs", [])
             if o.get("metadata", {}).get("scrapbook")}
    assert {"n_records", "split_train", "edit_ratio_mean", "flesch_positive_easier", "kappa_bias"} <= glued
