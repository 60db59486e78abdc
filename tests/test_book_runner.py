"""srllm.book: notebooks run in order, are cached by inputs, and failures name notebook and cell."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
import yaml

from conftest import write_notebook
from srllm.book import NotebookFailed, build_book, filtered_toc
from srllm.errors import SrllmError


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
    write_notebook(mini_repo / "notebooks" / "01_ok.ipynb", ["x = 1 + 1"])
    write_notebook(mini_repo / "notebooks" / "02_bad.ipynb", ["y = 2", "raise ValueError('planted failure')"])
    with pytest.raises(NotebookFailed) as info:
        build_book("smoke", root=mini_repo, build_html=False)
    msg = str(info.value)
    assert "notebook 02_bad.ipynb failed in cell 2 " in msg  # numbered as in the source
    assert "ValueError: planted failure" in msg
    assert "raise ValueError('planted failure')" in msg
    partial = mini_repo / "book" / "executed" / "02_bad.ipynb"
    assert partial.exists() and str(partial) in msg
    executed = nbformat.read(str(partial), as_version=4)
    assert any(o.get("ename") == "ValueError" for c in executed.cells for o in c.get("outputs", []))


def test_unchanged_notebooks_are_reused_and_changes_rerun(mini_repo):
    nb = mini_repo / "notebooks" / "01_ok.ipynb"
    write_notebook(nb, ["print(profile)"])
    first = build_book("smoke", root=mini_repo, build_html=False)
    assert [t.cached for t in first.timings] == [False]
    executed = nbformat.read(str(mini_repo / "book/executed/01_ok.ipynb"), as_version=4)
    assert "smoke" in json.dumps([c.get("outputs") for c in executed.cells])  # papermill injected the profile
    second = build_book("smoke", root=mini_repo, build_html=False)
    assert [t.cached for t in second.timings] == [True]
    third = build_book("cpu", root=mini_repo, build_html=False)  # another profile is another input
    assert [t.cached for t in third.timings] == [False]
    write_notebook(nb, ["print('changed', profile)"])
    fourth = build_book("cpu", root=mini_repo, build_html=False)
    assert [t.cached for t in fourth.timings] == [False]
    log = (mini_repo / "runs" / "book-runs.jsonl").read_text().splitlines()
    assert len(log) == 4 and json.loads(log[1])["cached"] is True


def test_declared_input_files_rerun_the_notebook_when_they_change(mini_repo):
    nb_path = mini_repo / "notebooks" / "01_ok.ipynb"
    write_notebook(nb_path, ["print(open('../results/r.json').read())"])
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


def test_executed_copy_is_cleaned_of_noise_paths_and_code(mini_repo):
    from srllm.book import clean_executed
    from srllm.cache import cache_dir as cache_root

    cache = str(cache_root())
    write_notebook(mini_repo / "notebooks" / "01_ok.ipynb", [
        "import sys, warnings\nfrom myst_nb import glue",
        "warnings.warn('planted FutureWarning', FutureWarning)\nprint('progress 50%', file=sys.stderr)\nprint('kept')",
        f"print('run folder {cache}/runs/abc123 and ' + {str(mini_repo)!r} + '/notebooks/x.csv')",
        "glue('answer', 42, display=False)",
        "from IPython.display import HTML, display\ndisplay(HTML(\"<progress value='2' max='2'></progress> [2/2]\"))",
    ])
    build_book("smoke", root=mini_repo, build_html=False)
    nb = nbformat.read(str(mini_repo / "book/executed/01_ok.ipynb"), as_version=4)
    text = json.dumps([c.get("outputs") for c in nb.cells])
    assert "planted FutureWarning" not in text and "progress 50%" not in text
    assert "kept" in text and "<progress" not in text
    assert cache not in text and str(mini_repo) not in text
    assert "$SRLLM_CACHE/runs/abc123" in text and "x.csv" in text
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert "remove-cell" in tags[0] and "srllm-setup" in tags[0]  # the runner's set-up cell
    assert "remove-cell" in tags[1] and "parameters" in tags[1]
    injected = [t for t in tags if "injected-parameters" in t]
    assert injected and all("remove-cell" in t for t in injected)
    code = [c for c in nb.cells if c.cell_type == "code"
            and not {"parameters", "injected-parameters", "srllm-setup"} & set(c.metadata.get("tags", []))]
    assert "remove-cell" in code[0].metadata["tags"]  # imports: no output
    assert "hide-input" in code[1].metadata["tags"]  # prints: folded code, output shown
    assert "remove-cell" in code[3].metadata["tags"]  # glue only
    assert any(o.get("metadata", {}).get("scrapbook") for o in code[3].outputs)  # glue data kept for the page
    log = (mini_repo / "runs/book-logs/01_ok.log").read_text()
    assert "progress 50%" in log  # (the warning itself is silenced by the quiet environment)
    src = nbformat.read(str(mini_repo / "notebooks/01_ok.ipynb"), as_version=4)
    assert all(not c.metadata.get("tags") or c.metadata["tags"] == ["parameters"] for c in src.cells)


def test_status_record_and_page_list_every_notebook_with_cache_state(mini_repo):
    from srllm.book import capabilities

    write_notebook(mini_repo / "notebooks" / "01_ok.ipynb", ["x = 1"])
    build_book("smoke", root=mini_repo, build_html=False)
    build_book("smoke", root=mini_repo, build_html=False)
    status = json.loads((mini_repo / "book/executed/_status.json").read_text())
    assert status["01_ok.ipynb"]["cached"] is True and status["01_ok.ipynb"]["profile"] == "smoke"
    assert status["01_ok.ipynb"]["capabilities"] == capabilities()
    assert set(capabilities()["scorers"]) >= {"offline-proxy", "perspective", "openai-moderation"}
    page = (mini_repo / "book/executed/status.md").read_text()
    assert "reused from cache" in page and "01_ok.ipynb" in page and "offline-proxy" in page


def test_network_capabilities_are_part_of_the_cache_key(mini_repo, monkeypatch):
    write_notebook(mini_repo / "notebooks" / "01_ok.ipynb", ["x = 1"])
    assert [t.cached for t in build_book("smoke", root=mini_repo, build_html=False).timings] == [False]
    assert [t.cached for t in build_book("smoke", root=mini_repo, build_html=False).timings] == [True]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")  # another scorer could now run
    assert [t.cached for t in build_book("smoke", root=mini_repo, build_html=False).timings] == [False]
    status = json.loads((mini_repo / "book/executed/_status.json").read_text())
    assert status["01_ok.ipynb"]["capabilities"]["scorers"]["openai-moderation"] is True


def test_book_config_copyright_is_the_build_year(mini_repo):
    import datetime

    from srllm.book import book_config

    cfg = yaml.safe_load(book_config(mini_repo, mini_repo / "gen" / "_config.yml").read_text())
    assert cfg["copyright"] == str(datetime.date.today().year)


def test_kernels_draw_figures_with_the_books_legible_style(mini_repo):
    write_notebook(mini_repo / "notebooks" / "01_ok.ipynb", ["import matplotlib\nprint('font', matplotlib.rcParams['font.size'])"])
    build_book("smoke", root=mini_repo, build_html=False)
    nb = nbformat.read(str(mini_repo / "book/executed/01_ok.ipynb"), as_version=4)
    assert "font 12.0" in json.dumps([c.get("outputs") for c in nb.cells])


def test_plain_tables_on_pages_show_at_most_four_significant_digits(mini_repo):
    from srllm.report import page_float

    assert [page_float(v) for v in (22.916667, 0.000042, 0.402159, -49.597841, 12345.678, 0.0, -0.06105, 0.002906)] \
        == ["22.92", "4.20e-05", "0.4022", "-49.6", "12,345.7", "0", "-0.0611", "2.91e-03"]
    write_notebook(mini_repo / "notebooks" / "01_ok.ipynb", ["import pandas as pd\npd.DataFrame({'rate': [22.916667]})"])
    build_book("smoke", root=mini_repo, build_html=False)
    nb = nbformat.read(str(mini_repo / "book/executed/01_ok.ipynb"), as_version=4)
    html = json.dumps([c.get("outputs") for c in nb.cells])
    assert "22.92" in html and "22.916667" not in html
    assert "remove-cell" in nb.cells[0].metadata["tags"] and "book_display" in nb.cells[0].source


def test_long_texts_in_plain_tables_are_cut_on_pages(mini_repo):
    from srllm.report import PAGE_TEXT_CHARS

    long_text = "word " * 100
    write_notebook(mini_repo / "notebooks" / "01_ok.ipynb", [f"import pandas as pd\npd.DataFrame({{'text': [{long_text!r}]}})"])
    build_book("smoke", root=mini_repo, build_html=False)
    nb = nbformat.read(str(mini_repo / "book/executed/01_ok.ipynb"), as_version=4)
    shown = [o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert shown and long_text.strip() not in shown[0]
    assert ("word " * ((PAGE_TEXT_CHARS - 10) // 5)).strip() in shown[0] and "..." in shown[0]


def test_kernels_run_over_local_sockets_without_the_tcp_warning(mini_repo, capfd):
    """On POSIX the book's kernels use IPC sockets, so ipykernel's unencrypted-TCP warning
    does not fill the terminal once per notebook."""
    write_notebook(mini_repo / "notebooks" / "01_ok.ipynb",
              ["from ipykernel.kernelapp import IPKernelApp\nprint('transport', IPKernelApp.instance().transport)"])
    build_book("smoke", root=mini_repo, build_html=False)
    executed = nbformat.read(str(mini_repo / "book/executed/01_ok.ipynb"), as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "transport ipc" in printed
    assert "without encryption" not in capfd.readouterr().err
