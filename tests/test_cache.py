"""The cache module's atomic writers: a file or a folder is either the old one or the complete new one."""

from __future__ import annotations

import pytest

from srllm.cache import atomic_write_text, write_folder


def _save(files: dict[str, str]):
    def save(folder):
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
    return save


def test_write_folder_replaces_the_whole_folder_and_clears_a_stale_partial(tmp_path):
    target = tmp_path / "models" / "m"
    write_folder(target, _save({"a.txt": "old", "b.txt": "old"}))
    stale = tmp_path / "models" / "m.partial"
    stale.mkdir()
    (stale / "junk.bin").write_text("left by an interrupted run")
    assert write_folder(target, _save({"a.txt": "new"})) == target
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]  # no file of the old folder survives
    assert (target / "a.txt").read_text() == "new" and not stale.exists()


def test_write_folder_keeps_the_old_folder_when_saving_fails(tmp_path):
    target = tmp_path / "m"
    write_folder(target, _save({"a.txt": "old"}))

    def broken(folder):
        _save({"a.txt": "half"})(folder)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_folder(target, broken)
    assert (target / "a.txt").read_text() == "old"


def test_atomic_write_text_creates_parents_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "x" / "y.json"
    atomic_write_text(path, "{}")
    assert path.read_text() == "{}" and [p.name for p in path.parent.iterdir()] == ["y.json"]
