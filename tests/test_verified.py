"""Verified writing: every line is read back, misread ones are rewritten several ways, the best reading is kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from helpers.basics import tiny_model_file
from helpers.cli import scribe
from scribe.ink.alphabet import Alphabet
from scribe.writing.document import Scribe
from scribe.writing.network import InferenceModel, load_inference_model
from scribe.writing.reader import fold_look_alikes
from scribe.writing.sampling import write_lines

TEXTS = ["abc", "hello there", "dog"]


class ScriptedReader:
    """Reads a line right when it has an even number of points, else with its last letter wrong; keeps every call."""

    def __init__(self, texts: list[str]) -> None:
        self.alphabet = Alphabet("abcdefghijklmnopqrstuvwxyz ")
        self.texts = texts
        self.calls: list[list[np.ndarray]] = []
        self.current: list[str] = []  # the texts of the lines being read, set by the test's spy below

    def readable(self, text: str) -> str:
        return text

    def read(self, lines: list[np.ndarray]) -> list[str]:
        self.calls.append(lines)
        return [text if len(line) % 2 == 0 else text[:-1] + "#" for line, text in zip(lines, self.current)]


@pytest.fixture
def tiny_model(tmp_path: Path) -> InferenceModel:
    return load_inference_model(tiny_model_file(tmp_path / "tiny.npz"))


def spying_reader(monkeypatch: pytest.MonkeyPatch, texts: list[str]) -> ScriptedReader:
    """A scripted reader told which texts each batch of lines was sampled for."""
    import scribe.writing.sampling as sampling

    reader = ScriptedReader(texts)
    original = sampling.sample_lines

    def sample_lines(model, batch, options, **kwargs):  # type: ignore[no-untyped-def]
        reader.current = list(batch)
        return original(model, batch, options, **kwargs)

    monkeypatch.setattr(sampling, "sample_lines", sample_lines)
    return reader


def test_misread_lines_get_a_round_of_candidates_and_the_best_reading_is_kept(
    tiny_model: InferenceModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = spying_reader(monkeypatch, TEXTS)
    lines = write_lines(tiny_model, TEXTS, seed=4, attempts=2, candidates=3, reader=reader)  # type: ignore[arg-type]
    first_round, second_round = reader.calls
    assert len(first_round) == len(TEXTS), "the first round writes every line once"
    assert len(second_round) % 3 == 0 and 0 < len(second_round) <= 3 * len(TEXTS), "then three candidates a line"
    for text, line, first in zip(TEXTS, lines, first_round):
        assert line.reading is not None and line.misread == Levenshtein.distance(text, line.reading)
        assert line.misread <= (len(first) % 2), "a candidate never replaces a line that read better"
    assert any(len(first) % 2 for first in first_round), "the seed must give at least one misread first line"


def test_verified_writing_is_reproducible(tiny_model: InferenceModel, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = spying_reader(monkeypatch, TEXTS)
    runs = [write_lines(tiny_model, TEXTS, seed=9, candidates=4, reader=reader) for _ in range(2)]  # type: ignore[arg-type]
    for first, again in zip(*runs):
        np.testing.assert_array_equal(first.offsets, again.offsets)


SENTENCES = ["Meet me at the station", "the quick brown fox", "see you on Monday"]


def test_verified_writing_with_the_shipped_models_reads_no_worse() -> None:
    scribe_ = Scribe()
    plain = scribe_.write("\n".join(SENTENCES), seed=2, candidates=1).lines
    assert all(line.reading is None for line in plain), "--candidates 1 reads nothing back"
    verified = scribe_.write("\n".join(SENTENCES), seed=2, candidates=4).lines
    readings = scribe_.reader.read([line.offsets for line in plain])
    plain_edits = sum(Levenshtein.distance(text, reading) for text, reading in zip(SENTENCES, readings))
    assert all(line.reading is not None for line in verified)
    assert sum(line.misread for line in verified) <= plain_edits


def test_writing_is_verified_by_default_and_lines_still_misread_share_one_warning(tmp_path: Path) -> None:
    assert all(line.reading is not None for line in Scribe().write("see you on Monday", seed=1).lines)
    texts = ["Zurich 99% & $5 @ 7pm", "Quebec QXZ 14th 0207", "Meet me at nine.", "#12 Jkyx Road, 3/4"]
    result = scribe("write", "--keep-lines", "\n".join(texts), "-o", str(tmp_path / "x.svg"), "--seed", "1")
    assert result.returncode == 0, result.stderr
    slips = [line for line in result.stderr.splitlines() if "may have a slip" in line]
    assert len(slips) == 1 and slips[0].startswith("warning: ") and " of 4 lines " in slips[0], result.stderr
    assert " as '" in slips[0], "the warning quotes what a misread line reads as"


def test_candidates_out_of_range_are_a_one_line_error(tmp_path: Path) -> None:
    result = scribe("write", "hello", "-o", str(tmp_path / "x.svg"), "--candidates", "0")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1  # a usage error, as click's are
    assert "--candidates" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.svg").exists()
    from scribe.errors import ScribeError

    with pytest.raises(ScribeError, match="`candidates` must be a whole number from 1 to 16"):
        Scribe().write("hello", candidates=17)


def test_look_alikes_are_not_misreadings(tiny_model: InferenceModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """A well-drawn "0207" reads "o2o7" to a reader without context, "ok so" may read "OK So": no rewrite."""
    reader = spying_reader(monkeypatch, ["ok so"])
    reader.read = lambda lines: (reader.calls.append(lines), ["OK So"] * len(lines))[1]  # type: ignore[method-assign]
    [line] = write_lines(tiny_model, ["ok so"], seed=1, attempts=1, candidates=3, reader=reader)  # type: ignore[arg-type]
    assert line.misread == 0 and line.reading == "OK So" and len(reader.calls) == 1
    assert fold_look_alikes("0Oo 1lI| Ss x") == "000 1111 ss x"
