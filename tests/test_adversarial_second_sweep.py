"""The second adversarial sweep's findings, kept: each case that was not a clean one-line error is one here.

The sweep (516 cases through the CLI and the API) found these answered with a
misleading message, a silently ignored option, an empty folder left behind, or work
done before a refusal that could have come first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.basics import tiny_model_file
from helpers.cli import assert_one_line_error, scribe
from scribe.errors import ScribeError
from scribe.writing.document import Scribe


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_file(tmp_path_factory.mktemp("model") / "tiny.npz")


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["-o", "{tmp}/adir"], "adir is a folder"),  # named as a folder, not as a missing extension
        (["-o", "{tmp}/adir/"], "adir is a folder"),
        (["-o", "/dev/stdin"], "is standard input"),
        (["--model", "{tmp}/adir", "-o", "{tmp}/x.svg"], "adir is a folder; give the model file in it"),
        (["--model", "/dev/null", "-o", "{tmp}/x.svg"], "/dev/null is not a regular file"),
        (["--input", "", "-o", "{tmp}/x.svg"], "is a folder (or empty); give a text file"),
        (["--pen-width", "1e9", "-o", "{tmp}/x.svg"], "at most the line spacing"),
    ],
)
def test_write_names_what_is_wrong(arguments: list[str], fragment: str, model: Path, tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    text = [] if "--input" in arguments else ["hi"]
    given = [argument.format(tmp=tmp_path) for argument in arguments]
    model_options = [] if "--model" in arguments else ["--model", str(model)]
    assert_one_line_error(scribe("write", *text, *given, *model_options), fragment)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["adir"] and not any((tmp_path / "adir").iterdir())


def test_a_style_sample_with_other_style_options_or_boolean_coordinates_is_refused(model: Path, tmp_path: Path) -> None:
    sample = tmp_path / "me.json"
    sample.write_text(json.dumps({"text": "hi", "strokes": [[[0, 0], [5, 3], [9, 1]]]}))
    for extra in (["--style-seed", "3"], ["--style", "0"]):
        result = scribe("write", "hi", "-o", str(tmp_path / "x.svg"), "--model", str(model), "--style-file", str(sample), *extra)
        assert_one_line_error(result, "choose the hand one way")
    sample.write_text(json.dumps({"text": "hi", "strokes": [[[True, False], [1, 1]]]}))
    result = scribe("write", "hi", "-o", str(tmp_path / "x.svg"), "--model", str(model), "--style-file", str(sample))
    assert_one_line_error(result, "a stroke is not a list of [x, y] pairs")
    assert not (tmp_path / "x.svg").exists()


def test_a_text_too_long_for_one_svg_on_stdout_is_refused_before_sampling(model: Path, tmp_path: Path) -> None:
    text = "a few words on a line\n" * 40 + "\n\n\n" + "and more\n" * 30  # blank lines at a page break are dropped
    pages = len(Scribe(model).write(text).pages)  # what the layout makes of it, once sampled
    notes = tmp_path / "notes.txt"
    notes.write_text(text)
    result = scribe("write", "--input", str(notes), "-o", "-", "--format", "svg", "--model", str(model))
    assert_one_line_error(result, f"the text fills {pages} pages and one SVG or PNG file holds one; write PDF")
    assert result.stdout == "" and pages > 1
    with pytest.raises(ScribeError, match=f"fills {pages} pages"):
        Scribe(model).write(text, max_pages=pages - 1)
    assert len(Scribe(model).write(text, max_pages=pages).pages) == pages


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.write("hi", strict="yes"), "`strict` must be True or False"),
        (lambda s: s.write("hi", candidates=0), "`candidates` must be a whole number from 1 to 16"),
        (lambda s: s.write("hi").save(""), r"`path` is empty; give a file name"),
    ],
)
def test_more_bad_api_calls_are_scribe_errors(call: object, message: str, model: Path) -> None:
    with pytest.raises(ScribeError, match=message):
        call(Scribe(model))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--resume"], "cannot resume"),
        (["--data", "{tmp}/nowhere"], "nowhere"),
        (["--init-from", "{tmp}/notes.txt"], "notes.txt is not a readable scribe checkpoint (not a PyTorch file)"),
    ],
)
def test_a_refused_run_leaves_no_empty_run_folder(extra: list[str], fragment: str, tiny_dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    given = [argument.format(tmp=tmp_path) for argument in extra]
    data = [] if "--data" in extra else ["--data", str(tiny_dataset)]
    result = scribe("train", *data, "--out", str(tmp_path / "run"), "--hidden", "8", "--max-steps", "1", *given)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "run").exists()


def test_a_wrong_preset_value_is_refused_even_when_a_flag_overrides_it(tiny_dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('batch_size = "four"\n')
    result = scribe("train", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"), "--config", str(tmp_path / "p.toml"),
                    "--batch-size", "4", "--max-steps", "1")
    assert_one_line_error(result, "batch-size must be a whole number", "p.toml")
    assert not (tmp_path / "run").exists()


def test_legibility_refuses_the_training_split(tiny_dataset: Path) -> None:
    result = scribe("legibility", "--data", str(tiny_dataset), "--split", "train")
    assert_one_line_error(result, "--split train", "use val or test")


def test_importing_an_empty_folder_says_it_is_empty(scribe_home: Path, tmp_path: Path) -> None:
    (tmp_path / "emptydir").mkdir()
    result = scribe("download-data", "deepwriting", "--from-file", str(tmp_path / "emptydir"), home=scribe_home)
    assert_one_line_error(result, "emptydir holds no files")
