"""Build the book: execute the notebooks with papermill, then run Jupyter Book.

The notebooks in ``notebooks/`` are kept free of outputs in git. ``build_book``
executes them in file-name order (``01_...`` before ``02_...``: the data flow
order) with the chosen profile and writes executed copies to ``book/executed/``,
where ``_toc.yml`` finds them. A notebook whose inputs did not change (its
source, the profile, the parameters, the ``srllm`` package and its samples) is
not executed again. Jupyter Book runs with ``execute_notebooks: off``.

Timings of every stage, cold or cached, are appended to
``runs/book-runs.jsonl`` for ``benchmarks/bench_book.py``.

Execution noise stays out of the pages by one mechanism for all notebooks: kernels
start with :data:`srllm.quiet.QUIET_ENV` (no progress bars, warnings or library log
lines), and :func:`clean_executed` moves whatever still reached stderr into the build
log (``runs/book-logs/<notebook>.log``), drops progress widgets, replaces paths of the
build machine by ``$SRLLM_CACHE/...`` or repository paths, hides parameter cells and
cells without visible output (imports, glue) and folds the remaining code.

Each notebook's cache key includes :func:`capabilities` (which scorers and Hub-only
baselines can run here), so a cached page never shows results of another setting, and
the build-status page (:func:`write_status_page`) lists every notebook's profile, model,
cache state, run time and date.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from srllm.cache import atomic_write_text, cache_dir, file_hash, stable_hash
from srllm.errors import SrllmError
from srllm.generation.baselines import BASELINES, seq2seq_source
from srllm.kernels import MATPLOTLIBRC, ReadyKernel, kernel_manager_class, prewarm_source
from srllm.perf import children_peak_rss_mib, peak_rss_mib
from srllm.profiles import get_profile
from srllm.quiet import quiet_environment
from srllm.scoring import available_scorers

EXECUTED_DIR = Path("book/executed")
KEYS_FILE = "_keys.json"
RUN_LOG = Path("runs/book-runs.jsonl")
LOG_DIR = Path("runs/book-logs")
STATUS_FILE = "_status.json"
STATUS_PAGE = "status.md"


class NotebookFailed(SrllmError):
    """A notebook raised during execution; the message names notebook and cell."""


@dataclass
class StageTiming:
    """How long one build stage (a notebook or the site build) took, and whether it came from the cache."""

    stage: str
    seconds: float
    cached: bool


@dataclass
class BookResult:
    """What a book build produced: the site's ``index.html`` and the timing of each stage."""

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


def capabilities() -> dict[str, dict[str, bool]]:
    """Which network-dependent parts can run here: each scorer and each Hub-only baseline.

    Part of every notebook's cache key and of the build-status record (issue 14, item 8):
    with the Hub or an API key reachable the book contains rows it lacks offline, and a
    page cached under one setting must not be shown under the other. Cheap: loads no
    model, opens at most one socket.
    """
    scorers = {r["name"]: bool(r["available"]) for r in available_scorers()}
    baselines = {key: seq2seq_source(b.hub_id)[0] is not None
                 for key, b in sorted(BASELINES.items()) if b.hub_id}
    return {"scorers": scorers, "baselines": baselines}


def notebook_key(nb: Path, profile: str, params: dict[str, Any], fingerprint: str, root: Path | None = None,
                 caps: dict[str, Any] | None = None) -> str:
    """Cache key of one executed notebook: its source, profile, parameters and the package fingerprint.

    Also hashes the notebook's :func:`declared_inputs` (when ``root`` is given) and the
    network :func:`capabilities` (when ``caps`` is given), so a change to either re-executes it.
    """
    inputs = [(str(p.relative_to(root)), file_hash(p)) for p in declared_inputs(nb, root)] if root else []
    return stable_hash(file_hash(nb), profile, params, fingerprint, *([inputs] if inputs else []),
                       *([caps] if caps is not None else []))


# --------------------------------------------------------------------------- cleaning executed copies

_HIDDEN_TAGS = {"remove-cell", "remove-input", "hide-input", "hide-cell", "remove-output", "hide-output"}
_LAYOUT_TAGS = {"full-width", "margin", "output_scroll", "scroll-output"}
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_GLUE_META = "scrapbook"


def machine_paths(root: Path) -> list[tuple[str, str]]:
    """(path of the build machine, what a page shows instead), longest first.

    The cache folder becomes ``$SRLLM_CACHE``, the repository root its relative path,
    the interpreter's prefix ``<python>`` and the home folder ``~``.
    """
    pairs = [(str(cache_dir().resolve()), "$SRLLM_CACHE"), (str(cache_dir()), "$SRLLM_CACHE"),
             (str(Path(root).resolve()) + "/notebooks/", ""), (str(Path(root).resolve()) + "/", ""),
             (str(Path(root).resolve()), "."), (sys.prefix, "<python>"), (sys.base_prefix, "<python>"),
             (str(Path.home()), "~")]
    seen: dict[str, str] = {}
    for path, repl in pairs:
        if path and path not in ("/", ".") and path not in seen:
            seen[path] = repl
    return sorted(seen.items(), key=lambda kv: -len(kv[0]))


def scrub_paths(text: str, paths: list[tuple[str, str]]) -> str:
    """``text`` with every path of :func:`machine_paths` replaced."""
    for path, repl in paths:
        text = text.replace(path, repl)
    return text


def _scrub(value: Any, paths: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        return scrub_paths(value, paths)
    if isinstance(value, list):
        return [_scrub(v, paths) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, paths) for k, v in value.items()}
    return value


def _visible(output: dict[str, Any]) -> bool:
    """Whether an output shows anything on a page (glue data is pasted elsewhere)."""
    if _GLUE_META in output.get("metadata", {}):
        return False
    if output.get("output_type") == "stream":
        return bool(str(output.get("text", "")).strip())
    return True


def clean_executed(path: Path, root: Path, log_path: Path | None = None) -> dict[str, int]:
    """Make an executed notebook read like a page; return counts of what was moved or changed.

    * stderr streams (warnings, log lines, progress bars that bypassed the quiet
      environment) go to ``log_path`` instead of the page; progress widgets and HTML
      progress displays (transformers' notebook callback) are dropped;
    * paths of the build machine in any output become ``$SRLLM_CACHE/...`` or repository
      paths (:func:`machine_paths`);
    * the ``parameters`` and papermill's ``injected-parameters`` cells are removed from
      the page, as are code cells that show nothing (imports, glue); the remaining code is
      folded behind a toggle (``hide-input``). Cells that carry their own tags (the
      workshop's exercises) keep them. The source notebook is unchanged.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    paths = machine_paths(root)
    counts = {"stderr": 0, "widgets": 0, "paths": 0, "removed": 0, "folded": 0}
    log_lines: list[str] = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                counts["stderr"] += 1
                log_lines.append(f"--- cell {i} (stderr)\n{out.get('text', '')}")
                continue
            data = out.get("data", {})
            html = str(data.get("text/html", ""))
            if _WIDGET_MIME in data or "<progress" in html:  # widgets; transformers' notebook progress table
                counts["widgets"] += 1
                log_lines.append(f"--- cell {i} (progress display)\n{data.get('text/plain', '')}")
                continue
            scrubbed = _scrub(dict(out), paths)
            if scrubbed != out:
                counts["paths"] += 1
            kept.append(nbformat.from_dict(scrubbed))
        cell.outputs = kept
        tags = list(cell.metadata.get("tags", []))
        if {"parameters", "injected-parameters"} & set(tags):
            tags.append("remove-cell")
        elif not (set(tags) - _LAYOUT_TAGS):  # untagged, or tagged for layout only
            if not any(_visible(o) for o in kept):
                tags.append("remove-cell")
                counts["removed"] += 1
            else:
                tags.append("hide-input")
                counts["folded"] += 1
        if tags:
            cell.metadata["tags"] = list(dict.fromkeys(tags))
    nbformat.write(nb, str(path))
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(log_path, "\n".join(log_lines) + ("\n" if log_lines else ""))
    return counts


# --------------------------------------------------------------------------- build status


def _notebook_title(nb: Path) -> str:
    cells = json.loads(nb.read_text(encoding="utf-8")).get("cells", [])
    for c in cells:
        if c.get("cell_type") == "markdown":
            for line in "".join(c.get("source", "")).splitlines():
                m = re.match(r"#\s+(.*)", line)
                if m:
                    return m.group(1).strip()
    return nb.stem


def write_status_page(root: Path, status: dict[str, dict[str, Any]]) -> Path:
    """``book/executed/status.md``: one row per notebook (QuantEcon's build-status style).

    Columns: notebook, profile, model, executed in this build or reused from the cache,
    run time of the execution that produced the page, its date, and which
    network-dependent scorers and baselines could run.
    """
    import pandas as pd

    rows = []
    for name, s in sorted(status.items()):
        caps = s.get("capabilities", {})
        ran = [k for k, v in {**caps.get("scorers", {}), **caps.get("baselines", {})}.items() if v]
        rows.append({"notebook": f"[{s.get('title', name)}]({Path(name).stem}.ipynb)",
                     "profile": s.get("profile", ""), "model": s.get("model", ""),
                     "this build": "reused from cache" if s.get("cached") else "executed",
                     "run time (s)": f"{s.get('seconds', 0):.1f}", "executed on": s.get("date", ""),
                     "scorers and baselines available": ", ".join(ran) or "none"})
    table = pd.DataFrame(rows).to_markdown(index=False) if rows else "No notebook has been executed yet."
    text = ("# Build status\n\n"
            "Every notebook of this book, as the build that produced these pages left it: the profile and model "
            "it ran with, whether this build executed it or reused the executed copy from the cache (the "
            "notebook, the profile, the `srllm` package, the files it declares and the scorers and baselines "
            "available were all unchanged), how long its execution took and when it ran. A cached page was "
            "produced under the same network setting as a fresh run: which scorers and Hub-only baselines "
            "could run is part of the cache key.\n\n" + table + "\n")
    out = root / EXECUTED_DIR / STATUS_PAGE
    atomic_write_text(out, text)
    return out


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


SETUP_SOURCE = "from srllm.report import book_display\nbook_display()  # added by the book runner"


def with_setup_cell(src: Path) -> Any:
    """The notebook with the runner's set-up cell first (number display for pages; removed from the page).

    One set-up call for every notebook instead of a formatting line in each; the source
    notebook is not changed.
    """
    import nbformat

    nb = nbformat.read(str(src), as_version=4)
    cell = nbformat.v4.new_code_cell(SETUP_SOURCE)
    cell.metadata["tags"] = ["remove-cell", "srllm-setup"]
    nb.cells.insert(0, cell)
    return nb


def _source_index(executed: Path, index: int) -> int:
    """The position in the source notebook of the executed copy's cell ``index`` (the copy has
    the runner's set-up cell and papermill's injected parameters in addition)."""
    import nbformat

    try:
        cells = nbformat.read(str(executed), as_version=4).cells[:index]
    except Exception:  # no readable partial copy: the executed numbering is the best we have
        return index
    added = sum(1 for c in cells if {"srllm-setup", "injected-parameters"} & set(c.metadata.get("tags", [])))
    return index - added


def execute_notebook(src: Path, dst: Path, parameters: dict[str, Any], cwd: Path, km: Any = None) -> None:
    """Run one notebook with papermill; on failure raise :class:`NotebookFailed`.

    ``km``: the manager of a kernel already started for it (:class:`srllm.kernels.ReadyKernel`),
    or None: papermill starts one with the same environment.
    The partial executed copy stays at ``dst`` for inspection.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    dst.parent.mkdir(parents=True, exist_ok=True)
    saved_rc = os.environ.get("MATPLOTLIBRC")
    os.environ["MATPLOTLIBRC"] = str(MATPLOTLIBRC)  # legible figure fonts at page width
    nb = with_setup_cell(src)
    try:
        with quiet_environment():  # the kernel inherits it: no bars, warnings or log lines
            pm.execute_notebook(nb, str(dst), parameters=parameters, kernel_name="python3",
                                cwd=str(cwd), progress_bar=False, log_output=False,
                                kernel_manager_class=kernel_manager_class(), km=km)
    except PapermillExecutionError as exc:
        source = (exc.source or "").strip().splitlines()
        head = "\n      ".join(source[:6]) + ("\n      ..." if len(source) > 6 else "")
        raise NotebookFailed(
            f"notebook {src.name} failed in cell {_source_index(dst, exc.cell_index)} "
            f"(execution count {exc.exec_count}): "
            f"{exc.ename}: {exc.evalue}\n    cell source:\n      {head}\n"
            f"    partial executed copy kept at {dst}") from None
    finally:
        if saved_rc is None:
            os.environ.pop("MATPLOTLIBRC", None)
        else:
            os.environ["MATPLOTLIBRC"] = saved_rc


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
    cfg["copyright"] = str(_dt.date.today().year)  # the footer's year is the build's
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
    model = get_profile(profile).model  # validate early, with a clear message
    root = repo_root(root)
    out_dir = root / EXECUTED_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    keys_path = out_dir / KEYS_FILE
    keys = json.loads(keys_path.read_text()) if keys_path.exists() else {}
    status_path = out_dir / STATUS_FILE
    status = json.loads(status_path.read_text()) if status_path.exists() else {}
    caps = capabilities()
    fingerprint = package_fingerprint(root)
    params = {"profile": profile, **(extra_params or {})}
    timings: list[StageTiming] = []

    notebooks = list_notebooks(root)
    if only:
        notebooks = [nb for nb in notebooks if any(o in nb.stem for o in only)]
    key_of = {nb.name: notebook_key(nb, profile, params, fingerprint, root, caps) for nb in notebooks}
    to_run = [nb for nb in notebooks
              if force or not (out_dir / nb.name).exists() or keys.get(nb.name) != key_of[nb.name]]
    # Each notebook's kernel starts (and imports) while the notebook before it runs (srllm.kernels).
    ready = ReadyKernel(root / "notebooks", prewarm_source(to_run[0])) if to_run else None
    stopping = []
    try:
        for nb in notebooks:
            dst = out_dir / nb.name
            key = key_of[nb.name]
            t0 = time.perf_counter()
            cached = nb not in to_run
            if not cached:
                print(f"[srllm book] executing {nb.name} (profile={profile})", flush=True)
                keys.pop(nb.name, None)
                atomic_write_text(keys_path, json.dumps(keys, indent=1))
                km = ready.take()
                after = to_run.index(nb) + 1
                ready = ReadyKernel(root / "notebooks", prewarm_source(to_run[after])) if after < len(to_run) else None
                try:
                    execute_notebook(nb, dst, params, cwd=root / "notebooks", km=km)
                finally:
                    if km is not None:
                        stopping.append(ReadyKernel.stop(km))
                moved = clean_executed(dst, root, root / LOG_DIR / f"{nb.stem}.log")
                if moved["stderr"] or moved["widgets"]:
                    print(f"[srllm book] {nb.name}: {moved['stderr']} stderr and {moved['widgets']} widget outputs "
                          f"moved to {LOG_DIR / (nb.stem + '.log')}", flush=True)
                keys[nb.name] = key
                atomic_write_text(keys_path, json.dumps(keys, indent=1))
            else:
                print(f"[srllm book] {nb.name}: unchanged, reusing executed copy", flush=True)
            t = StageTiming(nb.stem, time.perf_counter() - t0, cached)
            prev = status.get(nb.name, {})
            status[nb.name] = {"title": _notebook_title(nb), "profile": profile,
                               "model": prev.get("model", model) if cached else model, "cached": cached,
                               "seconds": prev.get("seconds", t.seconds) if cached else round(t.seconds, 1),
                               "date": prev.get("date", "") if cached else _dt.date.today().isoformat(),
                               "capabilities": caps}
            atomic_write_text(status_path, json.dumps(status, indent=1))
            timings.append(t)
            _log_timing(root, profile, t)
    finally:
        if ready is not None:  # a failed or interrupted build leaves no kernel behind
            ready.close()
        for thread in stopping:
            thread.join()

    write_status_page(root, status)
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
