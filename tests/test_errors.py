"""One error hierarchy under SrllmError, and the bottom layers import nothing above them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from srllm.errors import ModelUnavailableError, ProfileError, SrllmError, is_user_error

PKG = Path(__file__).resolve().parents[1] / "srllm"


def _srllm_imports(module: str) -> set[str]:
    """Every ``srllm.*`` module a file imports, at module level or inside functions."""
    tree = ast.parse((PKG / module).read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "srllm":
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "srllm"}
    return out


def test_profile_and_model_errors_are_srllm_errors_and_user_errors():
    from srllm.models import ModelUnavailableError as from_models
    from srllm.profiles import ProfileError as from_profiles, get_profile

    assert from_models is ModelUnavailableError and from_profiles is ProfileError  # old import paths keep working
    with pytest.raises(SrllmError, match="unknown profile"):
        get_profile("no-such-profile")
    # the old bases stay, so callers catching ValueError / RuntimeError keep working
    assert issubclass(ProfileError, ValueError) and issubclass(ModelUnavailableError, RuntimeError)
    assert is_user_error(ModelUnavailableError("no Hub")) and is_user_error(FileNotFoundError("x"))
    assert not is_user_error(ValueError("a bug")) and not is_user_error(KeyError("a bug"))


def test_bottom_layers_import_nothing_above_them():
    assert _srllm_imports("errors.py") == set()
    assert _srllm_imports("labels.py") == set()
    assert _srllm_imports("cache.py") == {"srllm.errors"}  # the one layer below it (adapter_fingerprint raises)
    # models sits below profiles: profiles checks model names with models, never the other way
    assert "srllm.profiles" not in _srllm_imports("models.py")
    assert "srllm.models" in _srllm_imports("profiles.py")
    # the job-posting case study takes its word lists from metrics, not from the workshop
    assert not any(m.startswith("srllm.workshop") for m in _srllm_imports("results/jobs.py"))


def test_quant_true_loads_with_the_profiles_default_settings():
    from srllm.models import DEFAULT_QUANT
    from srllm.profiles import QuantSettings

    q = QuantSettings()
    assert DEFAULT_QUANT == {"quant_type": q.quant_type, "double_quant": q.double_quant}
