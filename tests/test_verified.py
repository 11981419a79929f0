"""Verified writing: every line is read back, misread ones are drawn again, the likeliest to say the text is kept."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from helpers.basics import tiny_model_file
from helpers.cli import scribe
from scribe.ink.alphabet import Alphabet
from scribe.writing.document import Scribe
from scribe.writing import parallel
from scribe.writing.network import InferenceModel, load_inference_model
from scribe.writing.reader import BLANK, Reading, ctc_log_likelihoods, fold_look_alikes
from scribe.writing.sampling import write_lines

TEXTS = ["abc", "hello there", "dog"]


class ScriptedReader:
    """Reads a line right when it has an even number of points, else with its last letter wrong; keeps every call.

    The likelihood it gives the intended text falls with the line's points, so that
    of several misread samples the shortest must be kept.
    """

    def __init__(self) -> None:
        self.alphabet = Alphabet("abcdefghijklmnopqrstuvwxyz ")
        self.calls: list[list[tuple[str, int, str]]] = []  # per call: (text, points, reading) of each line

    def readable(self, text: str) -> str:
        return text

    def check(self, lines: list[np.ndarray], texts: list[str]) -> list[Reading]:
        readings = [Reading(text if len(line) % 2 == 0 else text[:-1] + "#", -float(len(line)))
                    for line, text in zip(lines, texts)]
        self.calls.append([(text, len(line), reading.text) for line, text, reading in zip(lines, texts, readings)])
        return readings


@pytest.fixture
def tiny_model(tmp_path: Path) -> InferenceModel:
    return load_inference_model(tiny_model_file(tmp_path / "tiny.npz"))


@pytest.fixture
def in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sampling and reading in this process, where a test can see every call of its reader."""
    monkeypatch.setattr(parallel, "can_fork", lambda: False)


@pytest.mark.usefixtures("in_one_process")
def test_misread_lines_are_drawn_again_until_one_reads_right_and_the_likeliest_is_kept(tiny_model: InferenceModel) -> None:
    reader = ScriptedReader()
    lines = write_lines(tiny_model, TEXTS, seed=4, attempts=2, candidates=3, reader=reader)  # type: ignore[arg-type]
    samples: dict[str, list[tuple[int, str]]] = {text: [] for text in TEXTS}  # each text's samples, in reading order
    for call in reader.calls:
        for text, points, reading in call:
            samples[text].append((points, reading))
    assert any(len(drawn) > 1 for drawn in samples.values()), "the seed must give at least one misread first sample"
    for text, line in zip(TEXTS, lines):
        drawn = samples[text]
        right = [k for k, (_, reading) in enumerate(drawn) if reading == text]
        assert len(drawn) <= 4, "a line gets at most three more samples"
        assert len(drawn) == 4 or (right and right[0] == len(drawn) - 1), "drawing stops once a sample reads right"
        assert line.reading is not None and line.misread == Levenshtein.distance(text, line.reading)
        assert line.likelihood == -len(line.offsets) == max(-points for points, _ in drawn), "the likeliest is kept"


@pytest.mark.usefixtures("in_one_process")
def test_a_line_allowed_one_attempt_is_read_but_never_drawn_again(tiny_model: InferenceModel) -> None:
    reader = ScriptedReader()
    lines = write_lines(tiny_model, TEXTS, seed=4, attempts=1, candidates=3, reader=reader)  # type: ignore[arg-type]
    assert sum(len(call) for call in reader.calls) == len(TEXTS)
    assert all(line.reading is not None for line in lines)


def test_verified_writing_is_reproducible_and_the_same_in_one_process_or_two(
    tiny_model: InferenceModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [write_lines(tiny_model, TEXTS, seed=9, candidates=4, reader=ScriptedReader()) for _ in range(2)]  # type: ignore[arg-type]
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    runs.append(write_lines(tiny_model, TEXTS, seed=9, candidates=4, reader=ScriptedReader()))  # type: ignore[arg-type]
    for first, *others in zip(*runs):
        for other in others:
            np.testing.assert_array_equal(first.offsets, other.offsets)
            assert (first.reading, first.likelihood) == (other.reading, other.likelihood)


def test_ctc_likelihood_sums_every_alignment() -> None:
    """The forward variables against brute force: every path of frames whose collapse is the labelling."""
    rng = np.random.default_rng(0)
    frames, classes = 5, 3
    logits = rng.normal(size=(3, frames, classes)) * 2
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    labels, lengths = [[1, 1], [2], []], np.array([5, 4, 3])
    found = ctc_log_likelihoods(log_probabilities, lengths, labels)
    for row, wanted in enumerate(labels):
        total = 0.0
        for path in itertools.product(range(classes), repeat=int(lengths[row])):
            merged = [label for k, label in enumerate(path) if k == 0 or label != path[k - 1]]
            if [label for label in merged if label != BLANK] == wanted:
                total += np.exp(sum(log_probabilities[row, t, label] for t, label in enumerate(path)))
        assert found[row] == pytest.approx(np.log(total))
    assert ctc_log_likelihoods(log_probabilities[:1, :1], np.array([1]), [[1, 2]])[0] == -np.inf, "too few frames"


def test_the_shipped_reader_finds_the_written_text_likelier_than_another_and_folds_look_alikes() -> None:
    scribe_ = Scribe()
    [line] = scribe_.write("hello there", seed=1, candidates=1).lines
    right, wrong, look_alike = scribe_.reader.check([line.offsets] * 3, ["hello there", "yellow chair", "hell0 there"])
    assert right.likelihood > wrong.likelihood + 5
    assert look_alike.likelihood == right.likelihood and right.text == look_alike.text


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


@pytest.mark.usefixtures("in_one_process")
def test_look_alikes_are_not_misreadings(tiny_model: InferenceModel) -> None:
    """A well-drawn "0207" reads "o2o7" to a reader without context, "ok so" may read "OK So": no rewrite."""
    reader = ScriptedReader()
    reader.check = lambda lines, texts: (reader.calls.append([]), [Reading("OK So", -1.0)] * len(lines))[1]  # type: ignore[method-assign]
    [line] = write_lines(tiny_model, ["ok so"], seed=1, attempts=1, candidates=3, reader=reader)  # type: ignore[arg-type]
    assert line.misread == 0 and line.reading == "OK So" and len(reader.calls) == 1
    assert fold_look_alikes("0Oo 1lI| Ss x") == "000 1111 ss x"
