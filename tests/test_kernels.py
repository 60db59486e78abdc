"""srllm.kernels: each notebook's kernel starts, with its imports loaded, while the notebook before it runs."""

from __future__ import annotations

import json
import os
import shutil
import sys

import nbformat
import pytest
import yaml

from conftest import write_notebook
from srllm.book import build_book
from srllm.kernels import ReadyKernel, prewarm_source


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie has exited
        return fh.read().split(") ")[-1][0] != "Z"


def test_prewarm_source_loads_the_notebooks_imports_and_defines_no_name(tmp_path):
    nb = tmp_path / "n.ipynb"
    write_notebook(nb, ["%matplotlib inline\nimport wave\nfrom fractions import Fraction as F\nx = 1",
                "%%bash\necho hi", "from . import sibling", "import wave\nprint(x)\nif x:\n    import colorsys"])
    src = prewarm_source(nb)
    assert "import wave" in src and "from fractions import Fraction as F" in src
    assert src.count("import wave") == 1 and "sibling" not in src and "colorsys" not in src and "x = 1" not in src
    for name in ("wave", "fractions"):
        sys.modules.pop(name, None)
    namespace: dict = {}
    exec(src, namespace)
    assert set(namespace) == {"__builtins__"}
    assert "wave" in sys.modules and "fractions" in sys.modules
    write_notebook(nb, ["print(1)"])
    assert prewarm_source(nb) == ""


@pytest.fixture
def three_notebooks(tmp_path, repo_root):
    (tmp_path / "notebooks").mkdir()
    shutil.copytree(repo_root / "srllm", tmp_path / "srllm", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "intro"}))
    (tmp_path / "intro.md").write_text("# Intro\n")
    probe = ("import os, sys\nprint(json.dumps({'pid': os.getpid(), 'preloaded': 'wave' in sys.modules, "
             "'quiet': os.environ.get('SRLLM_QUIET'), 'rc': os.environ.get('MATPLOTLIBRC', ''), 'names': "
             "sorted(n for n in globals() if not n.startswith('_') and n not in ('In', 'Out', 'exit', 'quit', 'open', "
             "'get_ipython', 'profile', 'seed', 'book_display'))}))")
    for i in (1, 2, 3):
        write_notebook(tmp_path / "notebooks" / f"0{i}_n.ipynb", ["import json\n" + probe, "import wave"])
    return tmp_path


def _probe(root, i):
    nb = nbformat.read(str(root / f"book/executed/0{i}_n.ipynb"), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    return json.loads(text.strip().splitlines()[-1]), counts


def test_every_notebook_runs_in_its_own_started_kernel_that_is_gone_after_the_build(three_notebooks):
    """Each kernel has its notebook's modules loaded before the first cell (``wave``, imported only
    in each notebook's last cell), the book's environment, no extra names and execution counts
    from 1; each notebook has its own kernel, and none is left running after the build."""
    build_book("smoke", root=three_notebooks, build_html=False)
    probes = [_probe(three_notebooks, i) for i in (1, 2, 3)]
    for probe, counts in probes:
        assert probe["preloaded"] is True
        assert probe["quiet"] == "1" and probe["rc"].endswith("matplotlibrc")
        assert probe["names"] == ["json", "os", "sys"]
        assert counts[0] == 1 and counts == sorted(counts)
    pids = [p["pid"] for p, _ in probes]
    assert len(set(pids)) == 3
    assert not any(_alive(pid) for pid in pids)


def test_a_kernel_that_cannot_start_its_imports_is_stopped_and_not_used(tmp_path):
    ready = ReadyKernel(tmp_path, "import srllm_no_such_module_here")
    assert ready.take() is None
    assert "srllm_no_such_module_here" in str(ready.error) and ready.km is None


def test_a_kernel_closed_before_it_is_taken_is_stopped(tmp_path):
    ready = ReadyKernel(tmp_path, "import json")
    ready.close()
    ready._thread.join()
    assert ready.km is None
    ready = ReadyKernel(tmp_path, "import json")
    km = ready.take()
    pid = km.provisioner.process.pid
    assert _alive(pid)
    ReadyKernel.stop(km).join()
    assert not _alive(pid)
