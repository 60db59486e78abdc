"""srllm.book: notebooks run in order, are cached by inputs, and failures name notebook and cell."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
import yaml

from srllm.book import NotebookFailed, build_book, filtered_toc
from srllm.errors import SrllmError


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "cpu"\nseed = 42')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture
def mini_repo(tmp_path, repo_root):
    (tmp_path / "notebooks").mkdir()
    shutil.copytree(repo_root / "srllm", tmp_path / "srllm", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "intro",
        "parts": [{"caption": "A", "chapters": [{"file": "book/executed/01_ok"}, {"file": "book/executed/02_missing"}]},
                  {"caption": "B", "chapters": [{"file": "book/executed/03_absent"}]}]}))
    (tmp_path / "intro.md").write_text("# Intro\n")
    return tmp_path


def test_failing_notebook_names_notebook_and_cell_and_keeps_partial_copy(mini_repo):
    _notebook(mini_repo / "notebooks" / "01_ok.ipynb", ["x = 1 + 1"])
    _notebook(mini_repo / "notebooks" / "02_bad.ipynb", ["y = 2", "raise ValueError('planted failure')"])
    with pytest.raises(NotebookFailed) as info:
        build_book("smoke", root=mini_repo, build_html=False)
    msg = str(info.value)
    assert "notebook 02_bad.ipynb failed in cell" in msg
    assert "ValueError: planted failure" in msg
    assert "raise ValueError('planted failure')" in msg
    partial = mini_repo / "book" / "executed" / "02_bad.ipynb"
    assert partial.exists() and str(partial) in msg
    executed = nbformat.read(str(partial), as_version=4)
    assert any(o.get("ename") == "ValueError" for c in executed.cells for o in c.get("outputs", []))


def test_unchanged_notebooks_are_reused_and_changes_rerun(mini_repo):
    nb = mini_repo / "notebooks" / "01_ok.ipynb"
    _notebook(nb, ["print(profile)"])
    first = build_book("smoke", root=mini_repo, build_html=False)
    assert [t.cached for t in first.timings] == [False]
    executed = nbformat.read(str(mini_repo / "book/executed/01_ok.ipynb"), as_version=4)
    assert "smoke" in json.dumps([c.get("outputs") for c in executed.cells])  # papermill injected the profile
    second = build_book("smoke", root=mini_repo, build_html=False)
    assert [t.cached for t in second.timings] == [True]
    third = build_book("cpu", root=mini_repo, build_html=False)  # another profile is another input
    assert [t.cached for t in third.timings] == [False]
    _notebook(nb, ["print('changed', profile)"])
    fourth = build_book("cpu", root=mini_repo, build_html=False)
    assert [t.cached for t in fourth.timings] == [False]
    log = (mini_repo / "runs" / "book-runs.jsonl").read_text().splitlines()
    assert len(log) == 4 and json.loads(log[1])["cached"] is True


def test_declared_input_files_rerun_the_notebook_when_they_change(mini_repo):
    nb_path = mini_repo / "notebooks" / "01_ok.ipynb"
    _notebook(nb_path, ["print(open('../results/r.json').read())"])
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.metadata["srllm"] = {"inputs": ["results/*.json"]}
    nbformat.write(nb, str(nb_path))
    (mini_repo / "results").mkdir()
    (mini_repo / "results" / "r.json").write_text('{"ratio": 1}')
    assert [t.cached for t in build_book("smoke", root=mini_repo, build_html=False).timings] == [False]
    assert [t.cached for t in build_book("smoke", root=mini_repo, build_html=False).timings] == [True]
    (mini_repo / "results" / "r.json").write_text('{"ratio": 2}')
    assert [t.cached for t in build_book("smoke", root=mini_repo, build_html=False).timings] == [False]
    (mini_repo / "results" / "new.json").write_text("{}")  # a new matching file is a change too
    assert [t.cached for t in build_book("smoke", root=mini_repo, build_html=False).timings] == [False]

    nb.metadata["srllm"] = {"inputs": "results/*.json"}
    nbformat.write(nb, str(nb_path))
    with pytest.raises(SrllmError, match=r"01_ok.ipynb: metadata field 'srllm.inputs' must be a list"):
        build_book("smoke", root=mini_repo, build_html=False)


def test_filtered_toc_drops_missing_files_and_empty_parts(mini_repo):
    (mini_repo / "book" / "executed").mkdir(parents=True)
    (mini_repo / "book" / "executed" / "01_ok.ipynb").write_text("{}")
    out = filtered_toc(mini_repo, mini_repo / "gen" / "_toc.yml")
    toc = yaml.safe_load(out.read_text())
    assert [p["caption"] for p in toc["parts"]] == ["A"]
    assert toc["parts"][0]["chapters"] == [{"file": "book/executed/01_ok"}]
