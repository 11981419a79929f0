"""The command line as a user meets it: real processes, exit codes, stdout vs stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import scribe
from scribe import paths

COMMANDS = ["download-data", "split", "train", "eval", "write"]


def run_scribe(*args: str, env_home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m scribe ARGS`` as a separate process."""
    env = dict(os.environ)
    if env_home is not None:
        env["SCRIBE_HOME"] = str(env_home)
    return subprocess.run(
        [sys.executable, "-m", "scribe", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_version_goes_to_stdout() -> None:
    result = run_scribe("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"scribe {scribe.__version__}"


def test_help_lists_every_subcommand_and_each_has_help() -> None:
    result = run_scribe("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
        sub = run_scribe(command, "--help")
        assert sub.returncode == 0, sub.stderr
        assert "Usage:" in sub.stdout and len(sub.stdout.splitlines()) > 3


def test_unknown_options_fail_with_one_line() -> None:
    result = run_scribe("write", "--some-option", "value")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--some-option" in lines[0]
    assert "scribe write --help" in lines[0]
    assert result.stdout == ""


def test_plain_scribe_shows_its_help() -> None:
    result = run_scribe()
    assert result.returncode == 0 and "Usage:" in result.stdout and "write" in result.stdout


def test_user_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = run_scribe("download-data", "no-such-dataset", env_home=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "deepwriting" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_scribe("split", "iam-ondb", env_home=tmp_path)
    assert missing.returncode == 1
    assert "scribe download-data iam-ondb" in missing.stderr and "--source" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_scribe_home_overrides_the_data_dir(scribe_home: Path) -> None:
    assert paths.scribe_home() == scribe_home
    assert paths.dataset_dir("deepwriting") == scribe_home / "datasets" / "deepwriting"


def test_default_home_is_the_platform_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("SCRIBE_HOME", raising=False)
    assert paths.scribe_home() == Path(platformdirs.user_data_dir("scribe", appauthor=False))


def test_train_help_states_the_real_defaults() -> None:
    from scribe.training.trainer import DEFAULT_SIZES, TrainOptions

    text = " ".join(run_scribe("train", "--help").stdout.split())

    def help_of(flag: str) -> str:
        return text.split(flag, 1)[1].split("--", 1)[0]

    for flag, name in [("--epochs", "epochs"), ("--batch-size", "batch_size"), ("--lr", "lr"),
                       ("--device", "device"), ("--seed", "seed")]:
        default = TrainOptions.__dataclass_fields__[name].default
        assert f"[default: {default}]" in help_of(flag), flag
    graves, recognizer = DEFAULT_SIZES["graves"], DEFAULT_SIZES["recognizer"]
    assert f"[default: {graves[0]}; recognizer {recognizer[0]}]" in help_of("--hidden")
    assert f"[default: {graves[1]}; recognizer {recognizer[1]}]" in help_of("--layers")
