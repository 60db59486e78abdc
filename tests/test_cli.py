"""The srllm entry point lists its commands and reports models."""

from __future__ import annotations

import subprocess
import sys


def _srllm(*args):
    return subprocess.run([sys.executable, "-m", "srllm.cli", *args], capture_output=True, text=True)


def test_help_lists_commands():
    out = _srllm("--help")
    assert out.returncode == 0
    for cmd in ("models", "profiles", "book"):
        assert cmd in out.stdout


def test_models_command_shows_availability():
    out = _srllm("models")
    assert out.returncode == 0
    line = next(l for l in out.stdout.splitlines() if l.startswith("smollm2-135m-instruct"))
    assert "yes" in line


def test_unknown_profile_is_one_line_error():
    out = _srllm("book", "--profile", "huge", "--no-html")
    assert out.returncode == 2
    assert "invalid choice: 'huge'" in out.stderr and "smoke" in out.stderr
    assert "Traceback" not in out.stderr


# --- one command-line convention (issue 12, item 4) ------------------------------------------------

import argparse  # noqa: E402

import pytest  # noqa: E402

from srllm.cli import USER_ERROR_EXIT, build_parser, error_line, main  # noqa: E402
from srllm.commands.args import input_path  # noqa: E402
from srllm.profiles import PROFILE_NAMES  # noqa: E402

MODEL_COMMANDS = ("book", "debias", "doctor", "generate", "plan", "score", "stereoset", "train")
FILE_COMMANDS = ("generate", "score", "stereoset", "train", "data validate")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every (sub-)command's parser by its name, ``data validate`` style for nested actions."""
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _subparsers(sub)
                out.update({f"{name} {k}": v for k, v in nested.items()} if nested else {name: sub})
    return out


def _options(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in p._actions for s in a.option_strings}


def test_every_model_command_takes_profile_with_its_choices():
    subs = _subparsers(build_parser())
    for name in (*MODEL_COMMANDS, "data sources", "data fetch"):
        action = _options(subs[name]).get("--profile")
        assert action is not None, name
        assert tuple(action.choices) == PROFILE_NAMES, name


def test_every_reporting_command_takes_json():
    subs = _subparsers(build_parser())
    assert set(subs) >= {*MODEL_COMMANDS, "models", "profiles", "data samples"}
    for name, p in subs.items():
        assert "--json" in _options(p), name


def test_the_input_file_has_one_name_everywhere():
    subs = _subparsers(build_parser())
    for name in FILE_COMMANDS:
        visible = [a for a in subs[name]._actions if a.help is not argparse.SUPPRESS]
        action = _options(subs[name]).get("--input")
        assert action is not None and action.dest == "input" and action.metavar == "FILE", name
        # no other visible way to give it: older names are hidden aliases only
        assert not [a for a in visible if a.dest in ("file", "data", "predictions", "legacy_input")], name


@pytest.mark.parametrize("argv,expected", [
    (["score", "old.csv"], "old.csv"),
    (["train", "--data", "old.csv"], "old.csv"),
    (["stereoset", "--predictions", "p.json"], "p.json"),
    (["data", "validate", "old.csv"], "old.csv"),
    (["score", "--input", "new.csv"], "new.csv"),
])
def test_older_input_names_still_parse_as_hidden_aliases(argv, expected):
    assert input_path(build_parser().parse_args(argv)) == expected


def test_two_different_input_files_are_a_user_error(capsys):
    assert main(["score", "a.csv", "--input", "b.csv"]) == USER_ERROR_EXIT
    assert "two input files given" in capsys.readouterr().err


def test_method_help_differs_between_train_and_generate():
    subs = _subparsers(build_parser())
    train_help = _options(subs["train"])["--method"].help
    gen_help = _options(subs["generate"])["--method"].help
    assert train_help.startswith("training method") and "qlora" in train_help
    assert gen_help.startswith("generation method") and "two_shot" in gen_help


# --- one user-error path: every kind is one line, exit 2, no traceback ------------------------------

def _kinds():
    from srllm.book import NotebookFailed
    from srllm.data.sources import DataSourceError
    from srllm.errors import FieldError, ModelUnavailableError, ProfileError, SrllmError
    from srllm.scoring import ScorerError, ScorerUnavailableError

    return [
        SrllmError("plain.csv: row 3, field 'text': empty"),
        ProfileError("profile field 'seed' = -1 is invalid"),
        ModelUnavailableError("model 'x/y' must be downloaded from the Hub"),
        FieldError("label", "has invalid value 'maybe'"),
        DataSourceError("cannot read dataset 'cmd' of profile 'paper'"),
        ScorerError("no API key: set OPENAI_API_KEY"),
        ScorerUnavailableError("the Hub cannot be reached"),
        NotebookFailed("notebook 03 failed"),
        FileNotFoundError(2, "No such file or directory", "gone.csv"),
    ]


@pytest.mark.parametrize("exc", _kinds(), ids=lambda e: type(e).__name__)
def test_each_user_error_kind_is_one_line_and_exit_2(exc, monkeypatch, capsys):
    import srllm.commands.models as models_cmd

    def fail(args):
        raise exc

    monkeypatch.setattr(models_cmd, "run", fail)
    assert main(["models"]) == USER_ERROR_EXIT
    err = capsys.readouterr().err
    assert err.startswith("srllm models: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_a_bug_keeps_its_traceback(monkeypatch):
    import srllm.commands.models as models_cmd

    def bug(args):
        raise KeyError("a bug")

    monkeypatch.setattr(models_cmd, "run", bug)
    with pytest.raises(KeyError):
        main(["models"])


def test_a_multi_line_message_is_folded_into_one_line():
    from srllm.errors import SrllmError

    assert error_line("data", SrllmError("first\n  second\n")) == "srllm data: error: first second"


def test_real_profile_and_field_errors_from_the_command_line(tmp_path, capsys):
    assert main(["train", "--profile", "smoke", "--seed", "-1"]) == USER_ERROR_EXIT
    assert "profile field 'seed' = -1 is invalid" in capsys.readouterr().err
    bad = tmp_path / "cmd.csv"
    bad.write_text("text,bias\nhello,maybe\n")
    assert main(["data", "validate", "--input", str(bad)]) == USER_ERROR_EXIT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "cmd.csv, row 1" in err and "field 'bias' has invalid value 'maybe'" in err


def test_every_command_with_a_cache_takes_no_cache():
    subs = _subparsers(build_parser())
    for name in ("debias", "generate", "score", "stereoset"):
        assert "--no-cache" in _options(subs[name]), name
