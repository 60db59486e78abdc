"""The whole book builds under the smoke profile, and a real browser shows it.

One smoke build (every notebook executed with papermill, then ``jupyter-book
build -W``) runs in a temporary copy of the repository, so the developer's own
``book/executed`` and ``_build`` are left alone. Headless Chromium (Debian's
package, installed here when missing and allowed) then opens the pages.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from srllm.book import build_book, list_notebooks

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _tracked_files(root: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout: cannot tell which files make up the book")
    return [f for f in out.stdout.split("\0") if f]


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory, repo_root):
    dst = tmp_path_factory.mktemp("smoke-book")
    for rel in _tracked_files(repo_root):
        src = repo_root / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    result = build_book("smoke", root=dst, strict=True)
    return dst, result


def test_book_builds_without_warnings_and_every_notebook_ran(smoke_book):
    root, result = smoke_book
    assert result.html_index.exists()
    notebooks = list_notebooks(root)
    assert notebooks, "no notebooks to execute"
    for nb in notebooks:
        page = root / "_build" / "html" / "book" / "executed" / f"{nb.stem}.html"
        assert page.exists(), f"{nb.name} did not become a page of the book"
        assert "Traceback" not in page.read_text(encoding="utf-8"), f"{page} shows an error"
    for chapter in ("intro", "reproducing", "audit", "workshop", "limitations", "api"):
        assert (root / "_build" / "html" / "book" / f"{chapter}.html").exists(), chapter
    status = (root / "_build" / "html" / "book" / "executed" / "status.html").read_text(encoding="utf-8")
    for nb in notebooks:
        assert nb.stem in status, f"the build-status page does not list {nb.name}"
    assert "executed" in status


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], env=env, capture_output=True)
        found = shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is not installed and could not be installed (apt-get install chromium)")
    return found


def _is_local(url: str) -> bool:
    return url.startswith("file://") or url.startswith(("http://127.0.0.1", "http://localhost"))


def _open(page_path: Path, shot: Path):
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("requestfailed", lambda r: problems.append(f"missing asset {r.url}") if _is_local(r.url) else None)
        page.on("console", lambda m: problems.append(f"console: {m.text}")
                if m.type == "error" and "file://" in m.text else None)
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(shot), full_page=True)
        text = page.inner_text("body")
        images = page.eval_on_selector_all(
            "article img", "els => els.map(e => ({src: e.src, ok: e.complete && e.naturalWidth > 0}))")
        browser.close()
    return text, images, problems


def _not_blank(png: Path) -> bool:
    from PIL import Image, ImageStat

    img = Image.open(png).convert("L")
    return ImageStat.Stat(img).stddev[0] > 5.0


def test_pages_render_in_chromium(smoke_book, tmp_path):
    root, result = smoke_book
    html = root / "_build" / "html"
    executed = sorted((html / "book" / "executed").glob("[0-9][0-9]_*.html"))
    results_pages = [p for p in executed if int(p.name[:2]) >= 4] or executed
    assert results_pages, "no executed notebook page to open"
    for page in (result.html_index, results_pages[0]):
        shot = tmp_path / f"{page.stem}.png"
        text, images, problems = _open(page, shot)
        assert len(text.strip()) > 200, f"{page} looks blank"
        assert _not_blank(shot), f"screenshot of {page} is blank"
        assert not problems, f"{page}: {problems}"
        assert all(i["ok"] for i in images), f"{page}: broken images {[i['src'] for i in images if not i['ok']]}"
        if page != result.html_index:
            assert images, f"{page} has no figure"


# What a reader must never see on a page: progress bars, library warnings, log lines, paths of the build machine.
_NOISE = {
    "progress bar": re.compile(r"\d+%\|[^|\n]*\||\d+(\.\d+)?(it|s)/(s|it)\]"),
    "library warning": re.compile(r"\b(Future|Deprecation|User|Runtime|Resource)Warning\b|warnings\.warn\("),
    "log line": re.compile(r"^(INFO|WARNING|DEBUG|ERROR)[: ]|\[(INFO|WARNING)\]", re.M),
}
_LONG_DECIMAL = re.compile(r"^-?\d[\d,]*\.\d{5,}$")


def _page_report(page_path: Path, shot: Path):
    """Text, table cells and height of a page as Chromium renders it at 1280 px."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        text = page.inner_text("article") if page.query_selector("article") else page.inner_text("body")
        cells = page.eval_on_selector_all("article td, article th", "els => els.map(e => e.innerText.trim())")
        height = page.evaluate("document.documentElement.scrollHeight")
        bars = page.eval_on_selector_all("article progress", "els => els.length")
        html = page.content()
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    return text, cells, height, html, bars


def test_executed_pages_show_no_noise_paths_or_long_decimals(smoke_book, tmp_path):
    root, _ = smoke_book
    from srllm.book import machine_paths

    paths = [p for p, _ in machine_paths(root)]
    pages = sorted((root / "_build" / "html" / "book" / "executed").glob("[0-9][0-9]_*.html"))
    assert pages
    problems = []
    for page in pages:
        text, cells, height, html, bars = _page_report(page, tmp_path / f"{page.stem}.png")
        if bars:
            problems.append(f"{page.name}: {bars} HTML progress bars")
        for what, pattern in _NOISE.items():
            hit = pattern.search(text)
            if hit:
                problems.append(f"{page.name}: {what}: {text[max(0, hit.start() - 60):hit.end() + 60]!r}")
        for path in paths:
            if path in html:
                problems.append(f"{page.name}: build-machine path {path}")
        long = [c for c in cells if _LONG_DECIMAL.match(c)]
        if long:
            problems.append(f"{page.name}: {len(long)} table cells with 5+ decimals, e.g. {long[:3]}")
        if height > 15000:
            problems.append(f"{page.name}: {height} px tall at 1280 px")
    assert not problems, "\n".join(problems)


def test_results_pages_open_with_what_this_build_found(smoke_book):
    root, _ = smoke_book
    html_dir = root / "_build" / "html" / "book" / "executed"
    for page in sorted(html_dir.glob("[0-9][0-9]_*.html")):
        if not 4 <= int(page.name[:2]) <= 10:
            continue
        html = page.read_text(encoding="utf-8")
        assert "What this build found" in html, page.name
        start = html.index("What this build found")
        paragraph = re.sub(r"<[^>]+>", " ", html[start:start + 4000])
        assert re.search(r"\d", paragraph), f"{page.name}: the findings paragraph states no number"


def test_explorer_filters_in_the_browser(smoke_book):
    from playwright.sync_api import sync_playwright

    root, _ = smoke_book
    page_path = root / "_build" / "html" / "book" / "executed" / "13_explorer.html"
    assert page_path.exists()
    info = re.compile(r"of ([\d,]+) entries")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_path.as_uri())
        page.wait_for_selector("table.dataTable tbody tr", timeout=30000)
        total_text = page.inner_text(".dt-info, .dataTables_info")
        total = int(info.search(total_text).group(1).replace(",", ""))
        search = page.query_selector(".dt-search input, .dataTables_filter input")  # not the book's own search
        assert search is not None, "the explorer has no search box"
        search.fill("SR_LLM")
        page.wait_for_timeout(500)
        filtered_text = page.inner_text(".dt-info, .dataTables_info")
        browser.close()
    assert total > 0
    m = re.search(r"of ([\d,]+) entries", filtered_text)
    assert m and 0 < int(m.group(1).replace(",", "")) < total, (total_text, filtered_text)


def test_api_reference_names_every_module(smoke_book):
    """The built reference has a section and autodoc's module target for every public srllm module."""
    from srllm.apiref import public_modules

    root, _ = smoke_book
    html = (root / "_build" / "html" / "book" / "api.html").read_text(encoding="utf-8")
    missing = [m for m in public_modules() if f'id="module-{m}"' not in html]
    assert not missing, f"the API reference leaves out {missing}"
