"""Verified writing: every line is read back, misread ones are drawn again, the likeliest to say the text is kept."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from helpers.basics import tiny_model_file
from helpers.cli import scribe
from scribe.ink.alphabet import Alphabet
from scribe.writing import parallel, sampling, verifying
from scribe.writing.checks import SampledLine
from scribe.writing.document import Scribe
from scribe.writing.network import InferenceModel, load_inference_model
from scribe.writing.reader import BLANK, READ_BATCH, Reading, ctc_log_likelihoods, fold_look_alikes
from scribe.writing.sampling import sample_stream, write_lines
from scribe.writing.verifying import Verification

TEXTS = ["abc", "hello there", "dog"]


class ScriptedReader:
    """Reads a line right or with its last letter wrong, by the parity of its ink's length; keeps every call.

    The likelihood it gives the intended text falls with the ink's length, so that of
    several misread samples the shortest must be kept.
    """

    def __init__(self) -> None:
        self.alphabet = Alphabet("abcdefghijklmnopqrstuvwxyz ")
        self.calls: list[list[tuple[str, float, str]]] = []  # per call: (text, likelihood, reading) of each line

    def readable(self, text: str) -> str:
        return text

    def check(self, lines: list[np.ndarray], texts: list[str]) -> list[Reading]:
        lengths = [float(np.abs(line[:, :2]).sum()) for line in lines]
        readings = [Reading(text if round(length) % 2 == 0 else text[:-1] + "#", -length)
                    for length, text in zip(lengths, texts)]
        self.calls.append([(text, reading.likelihood, reading.text) for text, reading in zip(texts, readings)])
        return readings


@pytest.fixture
def tiny_model(tmp_path: Path) -> InferenceModel:
    return load_inference_model(tiny_model_file(tmp_path / "tiny.npz"))


@pytest.fixture
def in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sampling and reading in this process, where a test can see every call of its reader."""
    monkeypatch.setattr(parallel, "can_fork", lambda: False)


def samples_read(reader: ScriptedReader) -> dict[str, list[tuple[float, str]]]:
    """Each text's samples as the reader saw them, in reading order: (likelihood, reading)."""
    samples: dict[str, list[tuple[float, str]]] = {}
    for call in reader.calls:
        for text, likelihood, reading in call:
            samples.setdefault(text, []).append((likelihood, reading))
    return samples


def verified(model: InferenceModel, monkeypatch: pytest.MonkeyPatch, busy: bool) -> tuple[list[SampledLine], ScriptedReader]:
    """TEXTS written verified with up to three samples a line, by a scripted reader whose every call is kept.

    ``busy``: no batch counts as narrow, so candidates come one at a time.
    """
    monkeypatch.setattr(verifying, "NARROW_ROWS", 0 if busy else READ_BATCH)
    reader = ScriptedReader()
    lines = write_lines(model, TEXTS, seed=5, attempts=2, candidates=3, reader=reader)  # type: ignore[arg-type]
    return lines, reader


@pytest.mark.usefixtures("in_one_process")
def test_misread_lines_are_drawn_again_and_the_first_right_or_the_likeliest_sample_is_kept(
    tiny_model: InferenceModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a busy batch a misread line's candidates come one at a time, until one reads right; in a narrow one, at once.

    Either way the line kept is the same: its first sample that reads right, else its likeliest.
    """
    monkeypatch.setattr(sampling, "line_problems", lambda line, model: [])  # the tiny model's window always objects
    runs = {busy: verified(tiny_model, monkeypatch, busy) for busy in (True, False)}
    for busy, (lines, reader) in runs.items():
        samples = samples_read(reader)
        assert any(len(drawn) > 1 for drawn in samples.values()), "the seed must give at least one misread first sample"
        if busy:
            assert any(len(drawn) == 2 for drawn in samples.values()), "the seed must give a line that a candidate mends"
        for text, line in zip(TEXTS, lines):
            drawn = samples[text]
            right = [likelihood for likelihood, reading in drawn if reading == text]
            if busy:
                assert len(drawn) == 3 or (right and drawn[-1][1] == text), "drawing stops once a sample reads right"
            else:
                assert len(drawn) in (1, 3) and (len(drawn) == 3 or drawn[0][1] == text), "all of them at once"
            assert line.reading is not None and line.misread == Levenshtein.distance(text, line.reading)
            assert line.likelihood in right if right else line.likelihood == max(likelihood for likelihood, _ in drawn)
    for one_at_a_time, at_once in zip(runs[True][0], runs[False][0]):  # the same sample, up to the batch's rounding
        np.testing.assert_allclose(one_at_a_time.offsets, at_once.offsets, atol=1e-4)


@pytest.mark.usefixtures("in_one_process")
def test_rewrites_go_before_lines_not_yet_started(tiny_model: InferenceModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """A misread line of the first page is final long before the last page's lines are written."""
    monkeypatch.setattr(sampling, "BATCH_ROWS", 3)  # a long document: most lines wait to start
    monkeypatch.setattr(verifying, "READ_BATCH", 2)  # as a full reader's batch is to 128 rows
    monkeypatch.setattr(sampling, "line_problems", lambda line, model: [])
    texts = [f"line {chr(97 + k % 26)}" for k in range(40)]
    order = [index for index, _ in sample_stream(tiny_model, texts, seed=5, attempts=2,
                                                 verification=Verification(ScriptedReader(), 3))]  # type: ignore[arg-type]
    assert sorted(order) == list(range(40))
    assert max(order[:20]) < 30, order


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
    nothing = ctc_log_likelihoods(log_probabilities[:2], np.array([5, 2]), [[], []])  # texts with nothing readable
    np.testing.assert_allclose(nothing, log_probabilities[:2, :, BLANK].cumsum(axis=1)[[0, 1], [4, 1]])


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
    small = scribe("write", "--keep-lines", "\n".join(texts), "-o", str(tmp_path / "x.pdf"), "--seed", "1",
                   "--page", "100x40", "--margin", "5")  # the lines wrap onto two pages
    assert small.returncode == 0, small.stderr
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", (tmp_path / "x.pdf").read_bytes())) == 2
    slips = [line for line in small.stderr.splitlines() if "may have a slip" in line]
    assert len(slips) == 1 and " of 6 lines " in slips[0], "one warning for the whole document, not one a page"


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
