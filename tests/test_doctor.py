"""srllm doctor: the workshop's set-up check runs the real model, scorer and rewrite and names what is missing."""

from __future__ import annotations

import json

from srllm import cli
from srllm.doctor import Check, healthy, run_checks


def test_doctor_checks_model_scorer_and_one_rewrite_on_the_smoke_model(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    checks = run_checks("smoke")
    by_name = {c.name: c for c in checks}
    assert [c.name for c in checks if c.required] == ["python packages", "model loads", "offline scorer",
                                                      "one text rewritten"]
    assert by_name["model loads"].ok and "tiny-random-llama" in by_name["model loads"].detail
    assert by_name["offline scorer"].ok and "p_unsafe" in by_name["offline scorer"].detail
    assert by_name["one text rewritten"].ok is not None
    key = by_name["OpenAI moderation scorer"]
    assert key.ok is None and not key.required and "OPENAI_API_KEY" in key.fix


def test_doctor_fails_and_says_what_is_missing(monkeypatch, capsys):
    import srllm.doctor as doctor

    monkeypatch.setattr(doctor, "REQUIRED_PACKAGES", ("pandas", "no_such_package_xyz"))
    checks = run_checks("smoke", optional=False)
    assert len(checks) == 1 and checks[0].ok is False and "no_such_package_xyz" in checks[0].detail
    assert not healthy(checks)
    assert cli.main(["doctor", "--profile", "smoke"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] python packages" in out and "what is missing" in out and "make install" in out
    assert cli.main(["doctor", "--profile", "smoke", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["checks"][0]["name"] == "python packages"


def test_a_raising_check_is_a_failed_check():
    from srllm.doctor import _timed

    def boom():
        raise RuntimeError("model file is corrupt")

    c = _timed("model loads", boom)
    assert c.ok is False and "model file is corrupt" in c.detail and not healthy([c])
    assert healthy([Check("x", True, ""), Check("optional", None, "", required=False)])
