"""Build the book: execute the notebooks with papermill, then run Jupyter Book.

The notebooks in ``notebooks/`` are kept free of outputs in git. ``build_book``
executes them in file-name order (``01_...`` before ``02_...``: the data flow
order) with the chosen profile and writes executed copies to ``book/executed/``,
where ``_toc.yml`` finds them. A notebook whose inputs did not change (its
source, the profile, the parameters, the ``srllm`` package and its samples) is
not executed again. Jupyter Book runs with ``execute_notebooks: off``.

Timings of every stage, cold or cached, are appended to
``runs/book-runs.jsonl`` for ``benchmarks/bench_book.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from srllm.cache import atomic_write_text, file_hash, stable_hash
from srllm.perf import children_peak_rss_mib, peak_rss_mib
from srllm.errors import SrllmError

EXECUTED_DIR = Path("book/executed")
KEYS_FILE = "_keys.json"
RUN_LOG = Path("runs/book-runs.jsonl")


class NotebookFailed(SrllmError):
    """A notebook raised during execution; the message names notebook and cell."""


@dataclass
class StageTiming:
    stage: str
    seconds: float
    cached: bool


@dataclass
class BookResult:
    html_index: Path
    timings: list[StageTiming] = field(default_factory=list)


def repo_root(start: Path | None = None) -> Path:
    """The folder holding ``_config.yml`` (the repository root)."""
    p = Path(start or Path.cwd()).resolve()
    for cand in (p, *p.parents):
        if (cand / "_config.yml").exists() and (cand / "notebooks").is_dir():
            return cand
    raise SrllmError(f"no _config.yml with a notebooks/ folder found at or above {p}; run from the repository")


def list_notebooks(root: Path) -> list[Path]:
    """Source notebooks in execution order (file names start with their order)."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def package_fingerprint(root: Path) -> str:
    """Hash of the srllm sources and bundled samples: a change re-executes notebooks."""
    pkg = root / "srllm"
    files = sorted(p for p in pkg.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return stable_hash([(str(p.relative_to(root)), file_hash(p)) for p in files])


def declared_inputs(nb: Path, root: Path) -> list[Path]:
    """Files outside ``srllm/`` that a notebook reads and that should re-execute it when they change.

    Declared in the notebook's metadata as ``{"srllm": {"inputs": ["glob", ...]}}`` with globs
    relative to the repository root; e.g. the performance page lists the benchmark records.
    """
    meta = json.loads(nb.read_text(encoding="utf-8")).get("metadata", {}).get("srllm", {})
    globs = meta.get("inputs", [])
    if not isinstance(globs, list) or not all(isinstance(g, str) for g in globs):
        raise SrllmError(f"{nb}: metadata field 'srllm.inputs' must be a list of glob strings, got {globs!r}")
    return sorted({p for g in globs for p in root.glob(g) if p.is_file()})


def notebook_key(nb: Path, profile: str, params: dict[str, Any], fingerprint: str, root: Path | None = None) -> str:
    inputs = [(str(p.relative_to(root)), file_hash(p)) for p in declared_inputs(nb, root)] if root else []
    return stable_hash(file_hash(nb), profile, params, fingerprint, *([inputs] if inputs else []))


def _log_timing(root: Path, profile: str, t: StageTiming) -> None:
    log = root / RUN_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as fh:
        # Peak memory: this process, and the largest finished child so far (the notebook
        # kernels papermill started and the jupyter-book build), for the 8 GiB budget.
        fh.write(json.dumps({"time": time.time(), "profile": profile, "stage": t.stage,
                             "seconds": round(t.seconds, 3), "cached": t.cached,
                             "peak_rss_mib": round(peak_rss_mib(), 1),
                             "children_peak_rss_mib": round(children_peak_rss_mib(), 1)}) + "\n")


def execute_notebook(src: Path, dst: Path, parameters: dict[str, Any], cwd: Path) -> None:
    """Run one notebook with papermill; on failure raise :class:`NotebookFailed`.

    The partial executed copy stays at ``dst`` for inspection.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(str(src), str(dst), parameters=parameters, kernel_name="python3",
                            cwd=str(cwd), progress_bar=False, log_output=False)
    except PapermillExecutionError as exc:
        source = (exc.source or "").strip().splitlines()
        head = "\n      ".join(source[:6]) + ("\n      ..." if len(source) > 6 else "")
        raise NotebookFailed(
            f"notebook {src.name} failed in cell {exc.cell_index} (execution count {exc.exec_count}): "
            f"{exc.ename}: {exc.evalue}\n    cell source:\n      {head}\n"
            f"    partial executed copy kept at {dst}") from None


def filtered_toc(root: Path, out: Path) -> Path:
    """A copy of ``_toc.yml`` without entries whose files do not exist yet."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))

    def exists(entry: dict[str, Any]) -> bool:
        f = entry.get("file")
        if f is None:
            return True
        return any((root / (f + ext)).exists() for ext in ("", ".md", ".ipynb"))

    def prune(node: Any) -> Any:
        if isinstance(node, dict):
            node = dict(node)
            for key in ("chapters", "sections", "parts"):
                if key in node:
                    kept = [prune(c) for c in node[key] if exists(c)]
                    kept = [c for c in kept if not (key == "parts" and not c.get("chapters"))]
                    node[key] = kept
                    if not kept:
                        del node[key]
            return node
        return node

    atomic_write_text(out, yaml.safe_dump(prune(toc), sort_keys=False))
    return out


def book_config(root: Path, out: Path) -> Path:
    """``_config.yml`` plus repository link and launch buttons when SRLLM_REPO_URL is set.

    One setting drives all three (repository, Binder and Colab buttons); while it is
    unset they are left out rather than pointing at a placeholder.
    """
    cfg = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    url = os.environ.get("SRLLM_REPO_URL", "").strip()
    if url:
        cfg["repository"] = {"url": url, "branch": os.environ.get("SRLLM_REPO_BRANCH", "main")}
        cfg.setdefault("html", {}).update({"use_repository_button": True, "use_issues_button": True})
        cfg["launch_buttons"] = {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com",
                                 "notebook_interface": "classic"}
    atomic_write_text(out, yaml.safe_dump(cfg, sort_keys=False))
    return out


def build_book(profile: str = "cpu", *, only: list[str] | None = None, force: bool = False,
               extra_params: dict[str, Any] | None = None, root: Path | None = None,
               build_html: bool = True, strict: bool = False) -> BookResult:
    """Execute every notebook (cached by inputs) and build the HTML book.

    ``strict`` turns Sphinx warnings (broken references, missing files) into errors.
    """
    from srllm.profiles import get_profile

    get_profile(profile)  # validate early, with a clear message
    root = repo_root(root)
    out_dir = root / EXECUTED_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    keys_path = out_dir / KEYS_FILE
    keys = json.loads(keys_path.read_text()) if keys_path.exists() else {}
    fingerprint = package_fingerprint(root)
    params = {"profile": profile, **(extra_params or {})}
    timings: list[StageTiming] = []

    notebooks = list_notebooks(root)
    if only:
        notebooks = [nb for nb in notebooks if any(o in nb.stem for o in only)]
    for nb in notebooks:
        dst = out_dir / nb.name
        key = notebook_key(nb, profile, params, fingerprint, root)
        t0 = time.perf_counter()
        cached = not force and dst.exists() and keys.get(nb.name) == key
        if not cached:
            print(f"[srllm book] executing {nb.name} (profile={profile})", flush=True)
            keys.pop(nb.name, None)
            atomic_write_text(keys_path, json.dumps(keys, indent=1))
            execute_notebook(nb, dst, params, cwd=root / "notebooks")
            keys[nb.name] = key
            atomic_write_text(keys_path, json.dumps(keys, indent=1))
        else:
            print(f"[srllm book] {nb.name}: unchanged, reusing executed copy", flush=True)
        t = StageTiming(nb.stem, time.perf_counter() - t0, cached)
        timings.append(t)
        _log_timing(root, profile, t)

    html_index = root / "_build" / "html" / "index.html"
    if build_html:
        t0 = time.perf_counter()
        gen = root / "_build" / "generated"
        toc = filtered_toc(root, gen / "_toc.yml")
        cfg = book_config(root, gen / "_config.yml")
        cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "--toc", str(toc),
               "--config", str(cfg), "--path-output", str(root)]
        if strict:
            cmd += ["-W", "--keep-going"]
        print("[srllm book] " + " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, cwd=root)
        if proc.returncode != 0:
            raise SrllmError(f"jupyter-book build failed (exit {proc.returncode}); see the output above")
        t = StageTiming("jupyter-book", time.perf_counter() - t0, False)
        timings.append(t)
        _log_timing(root, profile, t)
        if not html_index.exists():
            raise SrllmError(f"jupyter-book finished but {html_index} is missing")
    return BookResult(html_index=html_index, timings=timings)
