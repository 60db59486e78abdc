"""The book's API reference, generated from the package itself at build time (a Sphinx extension).

``book/api.md`` holds one directive, ``.. srllm-api::``; this extension expands it
into one section per top-level module or subpackage of :mod:`srllm` and, inside,
one ``automodule`` per module, found with :func:`pkgutil.walk_packages` when the
book is built. A module added to the package therefore appears in the reference
without editing any page, and no module can be left out. Private modules (a name
part starting with ``_``, such as ``__main__``) are not listed.

Each module documents only what it defines: the book's configuration sets
autodoc's ``ignore-module-all``, so a package that re-exports names from its
modules (``from srllm.data import load_file``) shows its docstring and the names
stay described once, under the module that defines them.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

PACKAGE = "srllm"

#: Top-level modules and subpackages in pipeline order (configuration, data, training, generation,
#: scoring, metrics, results, the paper's numbers, the book, the command line). Names not listed
#: here (new or renamed modules) follow in alphabetical order, so none is ever left out.
ORDER = ("errors", "labels", "cache", "profiles", "models", "data", "prompts", "training", "train", "train_model",
         "train_report", "runrecord", "launch", "generation", "generate", "baselines", "scoring", "scorers",
         "style_proxy", "style", "metrics", "stats", "results", "experiments", "stereoset_runs", "human_eval",
         "jobs", "workshop", "paper", "report", "findings", "book", "quiet", "perf", "plan", "doctor", "apiref",
         "cli", "commands")


def public_modules(package: str = PACKAGE) -> list[str]:
    """Every public module and subpackage of ``package`` (itself included), as dotted names, sorted."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def grouped_modules(package: str = PACKAGE) -> list[tuple[str, list[str]]]:
    """``(top-level name, its modules)`` pairs in :data:`ORDER`; the package itself comes first, alone."""
    groups: dict[str, list[str]] = {}
    for name in public_modules(package):
        if name == package:
            continue
        top = name.split(".")[1]
        groups.setdefault(top, []).append(name)
    rank = {n: i for i, n in enumerate(ORDER)}
    order = sorted(groups, key=lambda top: (rank.get(top, len(ORDER)), top))
    return [(package, [package])] + [(f"{package}.{top}", groups[top]) for top in order]


def _section(document: Any, title: str) -> nodes.section:
    sec = nodes.section()
    sec["ids"].append(nodes.make_id(f"api-{title}"))
    sec["names"].append(nodes.fully_normalize_name(f"api {title}"))
    sec += nodes.title(text=title)
    document.note_implicit_target(sec, sec)
    return sec


class SrllmApiDirective(SphinxDirective):
    """``.. srllm-api::``: a section per top-level module or subpackage, an ``automodule`` per module."""

    has_content = False

    def _automodule(self, name: str, into: nodes.Element) -> None:
        """Parse ``.. automodule:: name`` into ``into`` (autodoc's options come from the book's configuration)."""
        lines = StringList()
        lines.append(f".. automodule:: {name}", "<srllm-api>", 0)
        self.state.nested_parse(lines, self.content_offset, into)

    def run(self) -> list[nodes.Node]:
        """The sections, in :func:`grouped_modules` order, each holding its modules' autodoc output."""
        out: list[nodes.Node] = []
        for top, modules in grouped_modules():
            sec = _section(self.state.document, top)
            for name in modules:
                if name == top:  # the package's own docstring sits directly under its title
                    self._automodule(name, sec)
                else:
                    sub = _section(self.state.document, name)
                    self._automodule(name, sub)
                    sec += sub
            out.append(sec)
        return out


def setup(app: Any) -> dict[str, Any]:
    """Register the ``srllm-api`` directive (Sphinx's extension entry point)."""
    app.add_directive("srllm-api", SrllmApiDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


__all__ = ["ORDER", "PACKAGE", "SrllmApiDirective", "grouped_modules", "public_modules", "setup"]
