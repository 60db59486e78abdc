"""srllm.data.writers: the one CSV/JSONL writer, round-tripping with srllm.data.readers.read_texts."""

from __future__ import annotations

import json

import pytest

from srllm.data.readers import read_texts
from srllm.data.writers import check_writable, write_rows
from srllm.errors import SrllmError

ROWS = [{"id": "007", "text": "first, with a comma", "note": ""}, {"id": "008", "text": "second", "note": "x"}]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_rows_round_trip_with_every_cell_kept(tmp_path, suffix):
    path = tmp_path / f"rows{suffix}"
    write_rows(path, ROWS)
    rows, texts = read_texts(path, "text", allow_empty=True)
    assert rows == ROWS and texts == [r["text"] for r in ROWS]
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically: no temporary file left


def test_jsonl_keeps_json_values_and_writes_others_as_text(tmp_path):
    path = tmp_path / "out.jsonl"
    write_rows(path, [{"text": "a", "flag": True, "p": 0.25, "extra": [1, 2], "when": tmp_path}])
    row = json.loads(path.read_text())
    assert row["flag"] is True and row["p"] == 0.25 and row["extra"] == [1, 2] and row["when"] == str(tmp_path)


@pytest.mark.parametrize("name", ["out.parquet", "out.txt", "out"])
def test_unwritable_types_are_refused_before_any_work(tmp_path, name):
    with pytest.raises(SrllmError, match="unsupported file type .* for output; use .csv or .jsonl"):
        check_writable(tmp_path / name)
    with pytest.raises(SrllmError):
        write_rows(tmp_path / name, ROWS)
    assert not (tmp_path / name).exists()


def test_read_texts_names_file_row_and_field(tmp_path):
    path = tmp_path / "in.csv"
    write_rows(path, [{"text": "fine"}, {"text": "  "}])
    with pytest.raises(SrllmError, match=r"in.csv: row 2, field 'text': empty"):
        read_texts(path, "text")
    assert read_texts(path, "text", allow_empty=True)[1] == ["fine", "  "]
    with pytest.raises(SrllmError, match="no column 'body'; columns are: text"):
        read_texts(path, "body")
    with pytest.raises(SrllmError, match="--limit must be a positive integer"):
        read_texts(path, "text", limit=0)
