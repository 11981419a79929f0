"""The command line as a user meets it: real processes, exit codes, stdout vs stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import scribe
from scribe import paths
from scribe.errors import ScribeError

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


def test_a_command_loads_only_its_own_module() -> None:
    """`scribe write` starts without the dataset, evaluation and training code, nor cairo (start-up time)."""
    probe = (
        "import sys\nsys.argv = ['scribe', 'write', '--help']\nfrom scribe.cli import main\ntry:\n    main()\n"
        "except SystemExit:\n    pass\nprefixes = ('scribe.cli.', 'scribe.datasets', 'scribe.training', 'cairo', 'torch')\n"
        "print(sorted(name for name in sys.modules if name.startswith(prefixes)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "['scribe.cli.core', 'scribe.cli.writing']", result.stderr
    from scribe.cli import COMMAND_MODULES, app

    names = [info.name or info.callback.__name__ for info in app.registered_commands if info.callback is not None]
    assert sorted(names) == sorted(set(COMMAND_MODULES) - {"models"})  # every command is in the table (models: a group)


def test_the_command_starts_numpy_with_one_blas_thread_unless_told_otherwise() -> None:
    """OpenBLAS's threads cost 70-100 ms of a note's start and no command uses them; a user's own setting wins."""
    probe = (
        "import sys\nsys.argv = ['scribe', 'models']\nfrom scribe.cli import main\ntry:\n    main()\n"
        "except SystemExit:\n    pass\nimport os, numpy, threadpoolctl\n"
        "blas = threadpoolctl.threadpool_info()\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), sorted({b['num_threads'] for b in blas if b['user_api'] == 'blas'}))"
    )
    counts = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
    for preset, expected in ((None, "1 [1]"), ("OPENBLAS_NUM_THREADS", "2 ["), ("OMP_NUM_THREADS", "None [")):
        environment = {k: v for k, v in os.environ.items() if k not in counts}
        if preset is not None:
            environment[preset] = "2"
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=environment)
        assert result.stdout.strip().splitlines()[-1].startswith(expected), result.stderr


#: What `scribe write` once loaded and no longer needs, each a measured share of a start: cffi's parse of cairo's
#: headers (0.2-0.3 s), cairosvg and pypdf (0.06 and 0.12 s), numpy.ma for a median (10-15 ms), typer 0.29's pydantic,
#: the XML and TOML parsers, platformdirs and importlib.resources (together 10-15 ms).
HEAVY = ("cairocffi", "cairosvg", "pypdf", "pycparser", "numpy.ma", "pydantic", "defusedxml", "xml", "tomllib",
         "platformdirs", "importlib.resources")


def test_writing_a_note_loads_nothing_heavy(tmp_path: Path) -> None:
    """`scribe write` to PNG or PDF starts fast: cairo comes through ctypes, so nothing parses C headers."""
    for name in ("x.png", "x.pdf"):
        probe = (
            "import runpy, sys\n"
            f"sys.argv = ['scribe', 'write', 'Meet me', '-o', {str(tmp_path / name)!r}]\n"
            "try:\n    runpy.run_module('scribe', run_name='__main__')\nexcept SystemExit as end:\n"
            "    assert not end.code, end.code\n"
            f"print(sorted(n for n in sys.modules if n.split('.')[0] in {HEAVY!r} or n in {HEAVY!r}))"
        )
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == "[]"
        assert (tmp_path / name).stat().st_size > 1000


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


def test_train_help_states_the_defaults_of_the_dataclasses() -> None:
    text = " ".join(run_scribe("train", "--help").stdout.split())
    assert "--epochs N Passes over the training data. [default: 30]" in text
    assert "[default: 400 (graves, vae), 192 (recognizer)]" in text  # --hidden, from each kind's config class
    assert "--kind KIND graves: Graves MDN-LSTM" in text and "recognizer: online handwriting recognizer" in text
    assert "[default: 30] [default" not in text  # each default shown once


def test_preset_values_lose_only_to_flags_given_on_the_command_line(tmp_path: Path) -> None:
    from scribe.training.options import resolve_options

    preset = tmp_path / "preset.toml"
    preset.write_text('kind = "recognizer"\nbatch_size = 7\nhidden = 24\nlr = 0.01\n')
    options = resolve_options(preset, {"lr": 0.001}, lambda: tmp_path)
    assert (options.kind, options.batch_size, options.lr, options.data_dir) == ("recognizer", 7, 0.001, [tmp_path])
    assert options.architecture == {"hidden": 24} and options.out_dir == Path("runs") / "recognizer"
    preset.write_text("channels = 4\n")  # a recognizer setting, not a Graves one
    with pytest.raises(ScribeError, match="unknown training setting.*channels"):
        resolve_options(preset, {"kind": "graves"}, lambda: tmp_path)
    assert resolve_options(preset, {"kind": "recognizer"}, lambda: tmp_path).architecture == {"channels": 4}


def test_library_messages_name_parameters_and_the_cli_shows_them_as_flags(tmp_path: Path, scribe_home: Path) -> None:
    """The library says `from_files`, `sha256`, `text`; the command line says --from-file, --sha256, TEXT."""
    from scribe.cli.core import FLAGS, cli_terms

    assert cli_terms("pass a mirror in `urls` or `from_files`; run `scribe split NAME`") == (
        "pass a mirror in --url or --from-file; run `scribe split NAME`"
    )
    missing = run_scribe("download-data", "iam-ondb", "--from-file", str(tmp_path / "missing.tar.gz"), env_home=scribe_home)
    assert missing.returncode == 1 and "--from-file" in missing.stderr and "`" not in missing.stderr
    empty = run_scribe("write", "   ", "-o", str(tmp_path / "x.svg"))
    assert empty.returncode == 1 and FLAGS["text"] in empty.stderr
    sample = tmp_path / "me.svg"
    sample.write_text('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0L10 10L20 0L30 10"/></svg>')
    untold = run_scribe("write", "hello", "--style-file", str(sample), "-o", str(tmp_path / "x.svg"))
    assert untold.returncode == 1 and "--style-text" in untold.stderr and not (tmp_path / "x.svg").exists()
