"""The API reference lists every public module of srllm, found at build time, with no placeholder text."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from srllm.apiref import grouped_modules, public_modules

ROOT = Path(__file__).resolve().parents[1]


def _modules_on_disk() -> set[str]:
    """Every public module and package under srllm/, from the files themselves (not from pkgutil)."""
    out = set()
    for path in (ROOT / "srllm").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(p.startswith("_") for p in parts) and (path.parent / "__init__.py").exists():
            out.add(".".join(parts))
    return out


def test_every_module_on_disk_is_listed_once():
    listed = [m for _, mods in grouped_modules() for m in mods]
    assert len(listed) == len(set(listed))
    assert set(listed) == set(public_modules()) == _modules_on_disk()
    assert "srllm.__main__" not in listed


def test_subpackages_and_top_level_modules_each_have_a_section():
    tops = [top for top, _ in grouped_modules()]
    assert tops[0] == "srllm"
    on_disk = {".".join(m.split(".")[:2]) for m in _modules_on_disk() if m != "srllm"}
    assert set(tops[1:]) == on_disk
    for top, mods in grouped_modules():
        assert all(m == top or m.startswith(top + ".") for m in mods)


def test_the_page_is_generated_and_configured():
    page = (ROOT / "book" / "api.md").read_text(encoding="utf-8")
    assert ".. srllm-api::" in page and "automodule" not in page  # nothing listed by hand, nothing to forget
    for word in ("placeholder", "TODO", "TBD", "to be written", "coming soon"):
        assert not re.search(rf"\b{word}\b", page, re.I), word
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["sphinx"]
    assert "srllm.apiref" in cfg["extra_extensions"]
    assert cfg["config"]["autodoc_default_options"]["ignore-module-all"] is True
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert "book/api" in toc
