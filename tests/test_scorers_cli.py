"""`srllm score FILE`: scored copies of CSV and JSONL files, clear errors."""

from __future__ import annotations

import csv
import json

import pytest

from fake_api_server import OPENAI_PATH, FakeAPIServer
from srllm.cli import main

KEY = "sk-cli-SECRET-55aa11"


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("SRLLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PERSPECTIVE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture()
def openai_env(monkeypatch):
    with FakeAPIServer(KEY) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", srv.url + "/v1")
        yield srv


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_csv_scored_copy_keeps_every_row_and_cell(tmp_path, openai_env, capsys):
    src = tmp_path / "gen.csv"
    write_csv(src, [{"id": "007", "output": "you stupid thing", "note": ""},
                    {"id": "008", "output": "a kind reply", "note": "x, y"},
                    {"id": "009", "output": "", "note": "empty"}])
    assert main(["score", "--input", str(src), "--scorer", "openai-moderation", "--text-column", "output"]) == 0
    out = tmp_path / "gen.scored.csv"
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ["007", "008", "009"] and rows[1]["note"] == "x, y"
    assert [r["flag"] for r in rows] == ["True", "False", "False"]
    assert float(rows[0]["p_unsafe"]) == pytest.approx(0.9)
    assert {r["scorer"] for r in rows} == {"openai-moderation"} and {r["is_proxy"] for r in rows} == {"False"}
    printed = capsys.readouterr().out
    assert "unsafe rate: 33.33% (1/3)" in printed and "PROXY" not in printed
    meta = (tmp_path / "gen.scored.csv.meta.json").read_text()
    assert KEY not in meta and json.loads(meta)["unsafe_rate"] == pytest.approx(1 / 3)
    assert KEY not in printed


def test_jsonl_rerun_uses_cache(tmp_path, openai_env, capsys):
    src = tmp_path / "gen.jsonl"
    src.write_text('{"id": 1, "text": "I hate you"}\n\n{"id": 2, "text": "hello", "extra": [1, 2]}\n')
    out = tmp_path / "scored.jsonl"
    for _ in range(2):
        assert main(["score", "--input", str(src), "--scorer", "openai-moderation", "--out", str(out), "--threshold", "0.95"]) == 0
    assert openai_env.count(OPENAI_PATH) == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[1]["extra"] == [1, 2] and rows[0]["flag"] is False and rows[0]["p_unsafe"] == pytest.approx(0.9)
    assert "computed 0, from cache 2" in capsys.readouterr().out


def test_offline_proxy_is_labelled(tmp_path, monkeypatch, capsys):
    import srllm.scoring.offline as offline
    from srllm.scoring import ScorerUnavailableError

    def unavailable(seed=42, use_cache=True):
        raise ScorerUnavailableError("no sample in this test")

    monkeypatch.setattr(offline, "train_bias_classifier_from_sample", unavailable)
    src = tmp_path / "t.jsonl"
    src.write_text(json.dumps({"text": "Shut the fuck up, you idiot."}) + "\n" + json.dumps({"text": "Good day."}) + "\n")
    with pytest.warns(UserWarning, match="bias classifier left out"):
        assert main(["score", "--input", str(src)]) == 0
    printed = capsys.readouterr().out
    assert "PROXY" in printed and "unsafe rate: 50.00% (1/2)" in printed
    rows = [json.loads(line) for line in (tmp_path / "t.scored.jsonl").read_text().splitlines()]
    assert all(r["is_proxy"] is True and r["scorer"] == "offline-proxy" for r in rows)
    meta = json.loads((tmp_path / "t.scored.jsonl.meta.json").read_text())
    assert meta["bias_classifier"]["status"] == "not used" and meta["is_proxy"] is True


@pytest.mark.parametrize("name,content,args,message", [
    ("a.csv", "id,body\n1,hi\n", [], "a.csv: no column 'text'; columns are: id, body"),
    ("b.jsonl", '{"text": "ok"}\n{"body": "x"}\n', [], "b.jsonl: line 2 has no field 'text' (fields: body"),
    ("c.jsonl", '{"text": "ok"}\n{"text": null}\n', [], "c.jsonl: line 2, field 'text': not text (NoneType None)"),
    ("d.jsonl", '{"text": "ok"}\nnot json\n', [], "d.jsonl: unreadable rows: line 2 (malformed_json"),
    ("e.txt", "hello\n", [], "e.txt: unsupported file type '.txt'"),
    ("f.csv", "text\nhi\n", ["--out", "out.parquet"], "out.parquet: unsupported file type"),
])
def test_bad_input_names_file_row_and_field(tmp_path, capsys, name, content, args, message):
    src = tmp_path / name
    src.write_text(content)
    assert main(["score", "--input", str(src), "--scorer", "openai-moderation", *args]) == 2
    assert message in capsys.readouterr().err


def test_missing_file_and_missing_key(tmp_path, capsys):
    assert main(["score", "--input", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err
    src = tmp_path / "x.csv"
    src.write_text("text\nhello\n")
    assert main(["score", "--input", str(src), "--scorer", "perspective"]) == 2
    assert "PERSPECTIVE_API_KEY" in capsys.readouterr().err


def test_list_scorers(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the Hub counts as unreachable: no network in this test
    assert main(["score", "--list-scorers"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert " yes " in lines["offline-proxy"]
    assert "no API key: set OPENAI_API_KEY" in lines["openai-moderation"]
    assert "cannot be reached" in lines["hf:tomh/toxigen_roberta"]
