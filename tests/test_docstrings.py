"""Every module, and every public function, class and method under srllm/, has a docstring.

The API reference (``book/api.md``, expanded by :mod:`srllm.apiref`) is generated from
docstrings, so an undocumented public name shows up there as a bare signature. The walk
uses :mod:`ast` on the files themselves, so nothing is imported and a name that only
exists on disk is still checked.

Exempt: dunder methods, property setters and deleters, ``typing.overload`` stubs, and a
method that overrides a documented method of the same name on a base class defined in
srllm (its meaning is the base method's; autodoc shows the inherited docstring).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "srllm"


@dataclass(frozen=True)
class _Module:
    """One parsed module: its dotted name, whether it is a package, and its syntax tree."""

    name: str
    is_package: bool
    tree: ast.Module


def _modules() -> dict[str, _Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        name = ".".join(parts)
        out[name] = _Module(name, is_package, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return out


def _is_public(name: str) -> bool:
    return not name.startswith("_")


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    names = []
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute):
            names.append(target.attr)
        elif isinstance(target, ast.Name):
            names.append(target.id)
    return names


def _imported_names(module: _Module) -> dict[str, tuple[str, str]]:
    """``local name -> (module, name)`` for every ``from X import Y`` in ``module`` that points into srllm."""
    out = {}
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = module.name.split(".")
            if not module.is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        if source.split(".")[0] != "srllm":
            continue
        for alias in node.names:
            out[alias.asname or alias.name] = (source, alias.name)
    return out


def _classes(modules: dict[str, _Module]) -> dict[tuple[str, str], ast.ClassDef]:
    return {(m.name, node.name): node for m in modules.values() for node in m.tree.body
            if isinstance(node, ast.ClassDef)}


def _resolve(modules: dict[str, _Module], classes: dict[tuple[str, str], ast.ClassDef],
             module: str, name: str, depth: int = 0) -> tuple[str, str] | None:
    """Where class ``name`` as seen from ``module`` is defined, following srllm re-exports."""
    if (module, name) in classes:
        return module, name
    if module not in modules or depth > 10:
        return None
    imported = _imported_names(modules[module]).get(name)
    if imported is None:
        return None
    return _resolve(modules, classes, imported[0], imported[1], depth + 1)


def _documented_in_bases(modules, classes, module: str, cls: ast.ClassDef, method: str, depth: int = 0) -> bool:
    if depth > 10:
        return False
    for base in cls.bases:
        base_name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else None
        where = _resolve(modules, classes, module, base_name) if base_name else None
        if where is None:
            continue
        base_cls = classes[where]
        for node in base_cls.body:
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == method
                    and ast.get_docstring(node)):
                return True
        if _documented_in_bases(modules, classes, where[0], base_cls, method, depth + 1):
            return True
    return False


def undocumented() -> list[str]:
    """Every module, public function, public class and public method under srllm/ without a docstring."""
    modules = _modules()
    classes = _classes(modules)
    missing = []
    for module in modules.values():
        if not ast.get_docstring(module.tree):
            missing.append(f"{module.name} (module)")
        for node in module.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_public(node.name):
                if "overload" not in _decorator_names(node) and not ast.get_docstring(node):
                    missing.append(f"{module.name}.{node.name}")
            elif isinstance(node, ast.ClassDef) and _is_public(node.name):
                if not ast.get_docstring(node):
                    missing.append(f"{module.name}.{node.name}")
                for item in node.body:
                    if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) or not _is_public(item.name):
                        continue
                    decorators = _decorator_names(item)
                    if {"setter", "deleter", "overload"} & set(decorators) or ast.get_docstring(item):
                        continue
                    if _documented_in_bases(modules, classes, module.name, node, item.name):
                        continue
                    missing.append(f"{module.name}.{node.name}.{item.name}")
    return missing


def test_every_module_and_public_name_has_a_docstring():
    missing = undocumented()
    print("\n".join(missing))
    assert not missing, f"{len(missing)} without a docstring:\n" + "\n".join(missing)


def test_the_walk_sees_classes_methods_and_modules():
    """The check is not vacuous: it finds the package's modules and a known documented class."""
    modules = _modules()
    assert "srllm" in modules and "srllm.apiref" in modules
    assert ("srllm.scoring.base", "Scorer") in _classes(modules)
