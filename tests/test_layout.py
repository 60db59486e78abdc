"""The package's shape (issue 12): imports point one way, modules stay small, one owner per job.

The import graph is read from the source with :mod:`ast`, top-level and function-level
imports alike (an import inside a function is still a dependency). Each rule has one
test that must pass for the whole package, except the entries of ``KNOWN``: violations
in modules another helper is restructuring, each checked by its own strict xfail naming
its owner, so fixing one makes its xfail fail until the entry is removed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "srllm"
MAX_LINES = 600
LONG_ALLOWED = {"srllm.paper"}  # the paper's typed numbers, one long table of constants
RESOLVER_HOME = "srllm.profiles"

# (rule, item) -> who is changing that module. Remove an entry when its xfail starts passing.
KNOWN: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in MODULES.items()}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> list[tuple[str, list[str], int]]:
    """``(module, imported names, line)`` of every srllm import in ``name``, relative ones resolved."""
    out = []
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "srllm"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if _is_package(name) else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] == "srllm":
                out.append((mod, [a.name for a in node.names], node.lineno))
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the srllm modules it imports (``from pkg import submodule`` counts as the submodule)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for mod, names, _ in _imports(name):
            targets = [f"{mod}.{n}" for n in names if f"{mod}.{n}" in MODULES]
            if len(targets) < len(names) or not names:
                targets.append(mod)
            graph[name] |= {t for t in targets if t in MODULES and t != name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected component with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    cycles = []
    for comp in components:
        members, start = set(comp), comp[0]
        # Shortest path back to the start inside the component (breadth first).
        prev: dict[str, str] = {}
        frontier, seen, end = [start], {start}, None
        while frontier and end is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & members):
                    if w == start:
                        end = v
                        break
                    if w not in seen:
                        seen.add(w)
                        prev[w] = v
                        nxt.append(w)
                if end is not None:
                    break
            frontier = nxt
        path = [end]
        while path[-1] != start:
            path.append(prev[path[-1]])
        cycles.append(list(reversed(path)) + [start])
    return cycles


def oversized() -> dict[str, int]:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    return {name: n for name, n in sizes.items() if n > MAX_LINES and name not in LONG_ALLOWED}


def private_imports() -> list[str]:
    """``module:line imports _name from other`` for every underscore name imported from another module."""
    found = []
    for name in MODULES:
        for mod, names, line in _imports(name):
            for n in names:
                if n.startswith("_") and not (n.startswith("__") and n.endswith("__")):
                    found.append(f"{name}:{line} imports {n} from {mod}")
    return found


def _calls(node: ast.AST, func: str) -> bool:
    return any(isinstance(c, ast.Call) and ((isinstance(c.func, ast.Name) and c.func.id == func)
                                            or (isinstance(c.func, ast.Attribute) and c.func.attr == func))
               for c in ast.walk(node))


def _tests_profile_type(test: ast.AST) -> bool:
    """``isinstance(x, str)`` / ``isinstance(x, Profile)`` / ``x is None``: the branches of a profile coercion."""
    for c in ast.walk(test):
        if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == "isinstance" and len(c.args) == 2:
            kinds = c.args[1].elts if isinstance(c.args[1], ast.Tuple) else [c.args[1]]
            if any(isinstance(k, (ast.Name, ast.Attribute)) and getattr(k, "id", getattr(k, "attr", None))
                   in ("str", "Profile") for k in kinds):
                return True
        if isinstance(c, ast.Compare) and any(isinstance(op, ast.Is) for op in c.ops):
            return True
    return False


def profile_resolvers() -> list[str]:
    """Places outside :mod:`srllm.profiles` that turn "a profile" into a Profile themselves:
    a branch on the argument's type (``isinstance(p, str)``, ``isinstance(p, Profile)``,
    ``p is None``) with a ``get_profile(...)`` call in one of its arms."""
    found = []
    for name, tree in TREES.items():
        if name == RESOLVER_HOME:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.If, ast.IfExp)) and _tests_profile_type(node.test):
                arms = [node.body, node.orelse]
                if any(_calls(a, "get_profile") if isinstance(a, ast.AST)
                       else any(_calls(s, "get_profile") for s in a) for a in arms):
                    found.append(f"{name}:{node.lineno}")
    return found


def _violations(rule: str) -> set[str]:
    if rule == "cycle":
        return {" -> ".join(c) for c in find_cycles(import_graph())}
    if rule == "size":
        return {f"{name} has {n} lines" for name, n in oversized().items()}
    if rule == "private":
        return set(private_imports())
    return set(profile_resolvers())


def _unexpected(rule: str) -> list[str]:
    known = {item for (r, item) in KNOWN if r == rule}
    return sorted(v for v in _violations(rule) if not any(k in v for k in known))


def test_no_import_cycles_among_srllm_modules():
    assert _unexpected("cycle") == [], "import cycles (each shown as a path back to its start)"


def test_no_module_over_600_lines():
    assert _unexpected("size") == []


def test_no_private_name_imported_from_another_module():
    assert _unexpected("private") == []


def test_profiles_resolve_is_the_only_profile_resolver():
    assert _unexpected("resolver") == [], "use srllm.profiles.resolve"


@pytest.mark.parametrize("rule,item", [pytest.param(r, i, marks=pytest.mark.xfail(
    strict=True, reason=f"{owner} is restructuring {i}")) for (r, i), owner in KNOWN.items()])
def test_known_violation_still_open(rule, item):
    assert not any(item in v for v in _violations(rule))


def test_the_checks_see_what_they_check(tmp_path):
    """The graph reader and the cycle finder on a hand-made graph, so the rules cannot pass vacuously."""
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "srllm.training.trainer" in graph["srllm.training"]  # package re-exports count as imports
    assert "srllm.profiles" in graph["srllm.training.config"]
    assert len(MODULES) > 50
