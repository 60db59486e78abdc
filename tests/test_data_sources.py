"""The profile's data sources (issue 15): the released CMD layout, fetched copies, no silent fall-back.

No test touches the network: local copies in the Hub's layout (a saved ``datasets``
dataset and a parquet folder with exactly the released CMD's column names, including
the trailing space of ``Debiased ``, and one ``test`` split) stand in for the Hub.
"""

from __future__ import annotations

import csv
import json

import pytest

from srllm.errors import SrllmError

RELEASED_COLUMNS = ("Original Sentence", "Debiased ", "BIAS")


def _released_rows(n: int | None = None) -> list[dict[str, str | None]]:
    """Our bundled sample's texts in the released CMD's layout (only its three columns)."""
    from srllm.data import load_sample

    recs = load_sample("cmd")[:n] if n else load_sample("cmd")
    return [{"Original Sentence": r.text, "Debiased ": r.safe_variation, "BIAS": r.bias} for r in recs]


def _fetched_copy(cache_root, rows, revision="0123456789abcdef0123456789abcdef01234567"):
    """A copy laid out exactly as `srllm data fetch` leaves it, made from local rows (no network)."""
    from datasets import Dataset, DatasetDict

    from srllm.profiles import CMD_HUB_ID

    d = cache_root / "data" / CMD_HUB_ID.replace("/", "__") / "default" / revision
    DatasetDict({"test": Dataset.from_list(rows)}).save_to_disk(str(d / "dataset"))
    (d / "source.json").write_text(json.dumps({"hub_id": CMD_HUB_ID, "config": None, "requested_revision": None,
                                               "revision": revision, "splits": {"test": len(rows)},
                                               "fetched_at": "2026-11-30T00:00:00Z"}))
    return d


@pytest.fixture()
def private_cache(tmp_path, monkeypatch):
    """An empty $SRLLM_CACHE (models linked from the shared one) and a clean resolver memo."""
    from srllm.cache import cache_dir
    from srllm.data import sources

    shared_models = cache_dir() / "models"
    shared_models.mkdir(parents=True, exist_ok=True)
    root = tmp_path / "cache"
    root.mkdir()
    (root / "models").symlink_to(shared_models)
    monkeypatch.setenv("SRLLM_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SRLLM_DATA_CMD", raising=False)
    monkeypatch.delenv("SRLLM_DATA_TOXIGEN", raising=False)
    monkeypatch.setattr(sources, "_MEMO", {})
    return root


def test_validate_keeps_every_row_of_the_released_layout_with_its_safe_variation(tmp_path, capsys):
    from srllm.cli import main

    rows = _released_rows(24)
    path = tmp_path / "released.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(RELEASED_COLUMNS))
        w.writeheader()
        w.writerows(rows)
    assert main(["data", "validate", str(path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["kept"] == 24 and rep["trainable"] == 24 and rep["ignored_columns"] == []
    assert rep["renamed_columns"]["Debiased"] == "safe_variation"


def test_header_matching_ignores_case_and_surrounding_spaces():
    from srllm.data import records_from_rows

    rows = [{" original sentence ": "Old people are slow.", "DEBIASED ": "People differ at every age.",
             "Bias": "yes", "Extra Label": "x"}]
    recs, rep = records_from_rows(rows, source="hub-rows")
    assert (recs[0].text, recs[0].safe_variation, recs[0].bias) == ("Old people are slow.",
                                                                   "People differ at every age.", "Yes")
    assert rep.ignored_columns == ("Extra Label",)


def test_paper_profile_names_the_published_datasets(capsys):
    from srllm.cli import main

    assert main(["profiles", "paper"]) == 0
    out = capsys.readouterr().out
    assert "newsmediabias/instruction-safe-llm" in out and "toxigen/toxigen-data" in out
    from srllm.profiles import get_profile

    for name in ("cpu", "smoke"):
        assert {s.kind for s in get_profile(name).data.sources().values()} == {"sample"}


def test_paper_profile_reads_a_fetched_copy_offline_split_like_table_1(private_cache):
    """The paper profile's Hub source reads the fetched copy; the single `test` split is divided
    13,999 : 1,999 : 4,001, stratified on BIAS, seeded; the revision and sizes are recorded."""
    from srllm.data import split_sizes
    from srllm.data.sources import load_dataset_for, profile_splits
    from srllm.profiles import get_profile

    rows = _released_rows()
    _fetched_copy(private_cache, rows)
    paper = get_profile("paper")
    ld = load_dataset_for(paper, "cmd")
    assert len(ld.records) == len(rows) and all(r.safe_variation for r in ld.records)
    assert ld.info["revision"].startswith("0123456789") and ld.info["network"] is False
    assert ld.info["splits"] == split_sizes(len(rows)) and ld.info["stratify"] == ["bias"]
    yes = sum(r.bias == "Yes" for r in ld.records) / len(ld.records)
    for part in ("train", "dev", "test"):
        share = sum(r.bias == "Yes" for r in ld.splits[part]) / len(ld.splits[part])
        assert abs(share - yes) <= 1 / len(ld.splits[part]) + 1e-9, part
    assert "@ 0123456789" in ld.describe() and "stratified on bias" in ld.describe()
    # seeded: the same seed gives the same split, another seed another one
    again = profile_splits(paper)
    assert [r.id for r in again["test"]] == [r.id for r in ld.splits["test"]]
    other = profile_splits(paper.replace(seed=7))
    assert [r.id for r in other["test"]] != [r.id for r in ld.splits["test"]]


def test_local_hub_layout_parquet_folder_and_saved_dataset_read_alike(private_cache, tmp_path, monkeypatch):
    import pandas as pd
    from datasets import Dataset, DatasetDict

    from srllm.data.sources import load_dataset_for
    from srllm.profiles import get_profile

    rows = _released_rows(60)
    hub = tmp_path / "instruction-safe-llm"
    (hub / "data").mkdir(parents=True)
    pd.DataFrame(rows, columns=list(RELEASED_COLUMNS)).to_parquet(hub / "data" / "test-00000-of-00001.parquet")
    saved = tmp_path / "saved"
    DatasetDict({"test": Dataset.from_list(rows)}).save_to_disk(str(saved))
    ids = []
    for path in (hub, saved):
        monkeypatch.setenv("SRLLM_DATA_CMD", str(path))
        ld = load_dataset_for(get_profile("paper"), "cmd")
        assert ld.info["kind"] == "local" and ld.info["split_read"] == "test"
        assert str(tmp_path) not in json.dumps(ld.info)  # no build-machine path in the record
        ids.append([r.id for r in ld.splits["train"]])
    assert ids[0] == ids[1] and len(ids[0]) == 42


def test_offline_without_a_copy_stops_with_one_message_naming_the_dataset(private_cache):
    from srllm.data.sources import DataSourceError, load_dataset_for
    from srllm.results.common import eval_items
    from srllm.profiles import get_profile

    with pytest.raises(DataSourceError) as err:
        load_dataset_for(get_profile("paper"), "toxigen")
    msg = str(err.value)
    for part in ("'toxigen'", "toxigen/toxigen-data", "offline", "srllm data fetch --profile paper",
                 "SRLLM_DATA_TOXIGEN=PATH", "No bundled sample"):
        assert part in msg
    with pytest.raises(DataSourceError, match="'cmd' of profile 'paper'.*newsmediabias/instruction-safe-llm"):
        eval_items("cmd_test", get_profile("paper"))


def test_gated_dataset_message_says_log_in_or_accept_the_terms(private_cache, monkeypatch):
    import httpx2
    from huggingface_hub.errors import GatedRepoError

    from srllm.data import sources
    from srllm.profiles import get_profile

    def gated(hub_id, revision):
        resp = httpx2.Response(401, request=httpx2.Request("GET", f"https://huggingface.co/api/datasets/{hub_id}"))
        raise GatedRepoError(f"Access to dataset {hub_id} is restricted.", response=resp)

    monkeypatch.setattr(sources, "hub_reachable", lambda timeout=3.0: True)
    monkeypatch.setattr(sources, "_resolve_revision", gated)
    monkeypatch.setattr(sources, "_logged_in", lambda: False)
    with pytest.raises(sources.DataSourceError, match=r"'toxigen'.*not logged in.*Two ways out"):
        sources.load_dataset_for(get_profile("paper"), "toxigen")
    monkeypatch.setattr(sources, "_logged_in", lambda: True)
    with pytest.raises(sources.DataSourceError, match=r"terms not accepted"):
        sources.fetch(get_profile("paper"), ("toxigen",))


def test_fetch_reuses_a_copy_and_validate_accepts_it(private_cache, capsys):
    from srllm.cli import main

    d = _fetched_copy(private_cache, _released_rows(30))
    assert main(["data", "fetch", "--profile", "paper", "--only", "cmd", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done[0]["revision"] == d.name and done[0]["copy"].startswith("data/")
    assert main(["data", "validate", str(d)]) == 0
    out = capsys.readouterr().out
    assert "kept: 30" in out and "without safe variation" not in out and f"revision {d.name}" in out
    assert main(["data", "fetch", "--profile", "cpu"]) == 0
    assert "nothing to fetch" in capsys.readouterr().out
    assert main(["data", "sources", "--profile", "paper"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"fetched copy at revision {d.name}" in out[0] and "no fetched copy" in out[1]  # cmd, then toxigen


def test_toxigen_annotated_rows_become_records():
    from srllm.data.loaders import records_from_rows
    from srllm.data.sources import toxigen_rows

    raw = [{"text": "they all look the same", "target_group": "asian", "factual?": "opinion",
            "stereotyping": "uses positive stereotyping", "intent": 3.0, "toxicity_ai": 3.0, "toxicity_human": 3.5},
           {"text": "they deal with a lot", "target_group": "mental dis", "stereotyping":
            "doesn't use positive stereotyping", "intent": 1.0, "toxicity_ai": 1.0, "toxicity_human": 1.2}]
    recs, rep = records_from_rows(toxigen_rows(raw), source="tg", format="toxigen")
    assert [r.stereotyping for r in recs] == [1, 0] and recs[1].target_group == "mental_dis" and rep.kept == 2


def test_paper_data_path_trains_and_evaluates_with_the_smoke_model(private_cache, tmp_path, monkeypatch):
    """End to end on the fetched copy: the smoke model trains on the released CMD's train split
    (the run record names the dataset, its revision and the split sizes) and Table 4's items
    are that copy's test split."""
    from srllm.data.sources import profile_splits
    from srllm.results.common import eval_items
    from srllm.profiles import get_profile
    from srllm.training import train

    _fetched_copy(private_cache, _released_rows(120))
    prof = get_profile("smoke").replace(**{"data.cmd": get_profile("paper").data.cmd})
    run = train("lora", prof, out_dir=tmp_path / "run", progress=False, max_steps=2, merge=False)
    src = run.manifest["data"]["source"]
    assert "newsmediabias/instruction-safe-llm" in src and "@ 0123456789" in src
    assert "train 84 / dev 12 / test 24" in src and run.manifest["global_step"] == 2
    assert run.manifest["data"]["train_used"] == prof.data.max_train_rows
    items = eval_items("cmd_test", prof)
    assert [i.id for i in items] == [r.id for r in profile_splits(prof)["test"]] and len(items) == 6
    # k-shot demonstrations are drawn from the same source's train split
    import srllm.generation as gen
    from srllm.generation import methods
    from srllm.data.sources import load_dataset_for

    seen = {}
    real = methods.build_prompts

    def spy(texts, tokenizer, **kw):
        seen["pool"] = kw.get("shots_pool")
        return real(texts, tokenizer, **kw)

    monkeypatch.setattr(methods, "build_prompts", spy)
    out = gen.rewrite([items[0].text], method="two_shot", profile=prof, progress=False, cache=False)
    assert len(out) == 1
    assert [r.id for r in seen["pool"]] == [r.id for r in load_dataset_for(prof, "cmd").splits["train"]]


def test_cli_trains_the_smoke_model_on_a_released_layout_csv(cache, tmp_path, capsys):
    from srllm.cli import main

    path = tmp_path / "released.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(RELEASED_COLUMNS))
        w.writeheader()
        w.writerows(_released_rows(40))
    assert main(["train", "--method", "lora", "--profile", "smoke", "--input", str(path), "--out",
                 str(tmp_path / "run"), "--max-steps", "2", "--no-merge", "--quiet", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert summary["steps"] == 2 and manifest["data"]["train_given"] > 0
    assert manifest["data"]["train_skipped_no_rewrite"] == 0


def test_unknown_split_and_missing_local_copy_are_named(private_cache, tmp_path, monkeypatch):
    from srllm.data.sources import DataSourceError, load_dataset_for
    from srllm.profiles import get_profile

    _fetched_copy(private_cache, _released_rows(20))
    with pytest.raises(SrllmError, match=r"has no split 'train' \(splits found: test\)"):
        load_dataset_for(get_profile("paper", **{"data.cmd.split": "train"}), "cmd")
    monkeypatch.setenv("SRLLM_DATA_CMD", str(tmp_path / "nowhere"))
    with pytest.raises(DataSourceError, match="local copy 'nowhere' does not exist"):
        load_dataset_for(get_profile("paper"), "cmd")


def test_paper_book_stops_before_any_notebook_when_a_dataset_is_missing(private_cache, capsys):
    from srllm.cli import main

    assert main(["book", "--profile", "paper", "--no-html"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read dataset 'cmd' of profile 'paper'" in err and "offline" in err
    assert not (private_cache / "runs").exists()


def test_cpu_and_smoke_data_never_use_the_network(private_cache, monkeypatch):
    import socket

    from srllm.data.sources import ensure_sources, load_dataset_for
    from srllm.profiles import get_profile

    def refuse(*a, **k):
        raise AssertionError("a cpu/smoke data read tried to open a connection")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in ("cpu", "smoke"):
        prof = get_profile(name)
        assert ensure_sources(prof) == [{"dataset": "cmd", "revision": None}, {"dataset": "toxigen", "revision": None}]
        assert load_dataset_for(prof, "cmd").info["network"] is False
        assert load_dataset_for(prof, "toxigen").records
