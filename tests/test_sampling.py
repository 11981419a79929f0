"""Sampling: determinism, batching, line ends, the sampling bias and the failure checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.basics import tiny_model_file
from scribe.ink.alphabet import Alphabet
from scribe.writing.checks import SampledLine, line_problems, trailing_points, without_trailing_marks
from scribe.writing.network import InferenceModel, Mixture, load_inference_model
from scribe.writing.sampling import Conditioning, SamplingOptions, sample_lines, sample_offsets, write_lines
from scribe.writing.stored import read_stored_model


@pytest.fixture
def tiny_model(tmp_path: Path) -> InferenceModel:
    return load_inference_model(tiny_model_file(tmp_path / "tiny.npz"))


def test_same_seed_gives_identical_lines(tiny_model: InferenceModel) -> None:
    a = sample_lines(tiny_model, ["hello", "world wide"], seed=7)
    b = sample_lines(tiny_model, ["hello", "world wide"], seed=7)
    c = sample_lines(tiny_model, ["hello", "world wide"], seed=8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.offsets, y.offsets)
    assert any(not np.array_equal(x.offsets, z.offsets) for x, z in zip(a, c))


def test_lines_follow_the_stroke_format_and_stop(tiny_model: InferenceModel) -> None:
    lines = sample_lines(tiny_model, ["ab", "a much longer line of text"], SamplingOptions(max_steps_per_character=5), seed=1)
    for line in lines:
        assert line.offsets.dtype == np.float32 and line.offsets.shape[1] == 3
        assert np.all(line.offsets[0] == 0)
        assert line.offsets[-1, 2] == 1.0
        assert set(np.unique(line.offsets[:, 2])) <= {0.0, 1.0}
        assert len(line.offsets) == line.steps + 1 == len(line.focus) + 1
        assert line.steps <= max(len(line.text), 1) * 5


def test_batched_lines_equal_lines_sampled_alone_in_distribution_shape(tiny_model: InferenceModel) -> None:
    """Each line of a batch stops on its own: a short line is not padded to the longest."""
    short, long = sample_lines(tiny_model, ["ab", "abcdefghij klmnop"], SamplingOptions(max_steps_per_character=6), seed=3)
    assert short.steps <= 6 * 2 and long.steps <= 6 * 17


def test_priming_and_styles_condition_the_lines(tmp_path: Path) -> None:
    model = load_inference_model(tiny_model_file(tmp_path / "styled.npz", styles=3))
    assert model.styles is not None and model.styles.shape == (4, 4)
    plain = sample_lines(model, ["abc"], seed=2)[0]
    styled = sample_lines(model, ["abc"], SamplingOptions(conditioning=Conditioning(style_id=2)), seed=2)[0]
    assert not np.array_equal(plain.offsets, styled.offsets)
    prime = np.array([[0, 0, 0], [3, 1, 0], [2, -1, 1], [4, 0, 0], [1, 1, 1]], np.float32)
    priming = SamplingOptions(conditioning=Conditioning(prime_offsets=prime, prime_text="hi"))
    primed = sample_lines(model, ["abc"], priming, seed=2)[0]
    assert np.all(primed.offsets[0] == 0) and not np.array_equal(plain.offsets, primed.offsets)
    assert primed.focus.min() >= -3  # focus is counted from the target text, after "hi "
    # The priming ink ends with the pen up, so the first point is reached in the air: the line begins there.
    assert np.all(primed.offsets[1, :2] == 0) and np.any(plain.offsets[1, :2] != 0)


def test_vae_samples_from_a_latent(tmp_path: Path) -> None:
    model = load_inference_model(tiny_model_file(tmp_path / "vae.npz", kind="vae"))
    z_a, z_b = np.zeros(4, np.float32), np.full(4, 2.0, np.float32)
    a = sample_lines(model, ["abc"], SamplingOptions(conditioning=Conditioning(vector=z_a)), seed=2)[0]
    b = sample_lines(model, ["abc"], SamplingOptions(conditioning=Conditioning(vector=z_b)), seed=2)[0]
    assert not np.array_equal(a.offsets, b.offsets)


def test_a_vae_line_ends_where_its_text_does_not_where_the_model_draws_end(tmp_path: Path) -> None:
    """The VAE's "end" state lifts the pen; only the window passing the text ends a line."""
    import torch

    from scribe.training.checkpoint import stored_model
    from scribe.training.losses import PEN_END
    from scribe.training.networks import HandwritingModel

    saved = read_stored_model(tiny_model_file(tmp_path / "vae.npz", kind="vae"))
    network = HandwritingModel(saved.config)
    network.load_state_dict({name: torch.from_numpy(value) for name, value in saved.weights.items()})
    with torch.no_grad():
        network.decoder.head.linear.bias[PEN_END] = 50.0  # "end" at every step
    ends = tmp_path / "ends.npz"
    stored_model(network, Alphabet(saved.alphabet), saved.mean, saved.std, step=1, points_per_char=4.0).save(ends)
    line = sample_lines(load_inference_model(ends), ["abcdef"], seed=1)[0]
    assert line.offsets[1:, 2].mean() >= 0.5  # "end" lifts the pen (every other point: a stroke has two at least)
    assert line.steps > 6 and line.finished and line.focus.max() >= 5  # and the line goes on to the end of its text


def test_bias_sharpens_the_mixture() -> None:
    n = 4000
    mixture = Mixture(
        pi_logits=np.tile([[0.0, 0.5]], (n, 1)),
        mu=np.tile([[[0.0, 0.0], [10.0, 10.0]]], (n, 1, 1)),
        log_sigma=np.zeros((n, 2, 2)),
        rho=np.zeros((n, 2)),
        pen_logits=np.zeros((n, 1)),
    )
    rng = np.random.default_rng(0)
    draws = lambda: np.concatenate([rng.random((n, 1)), rng.standard_normal((n, 2))], axis=1)  # noqa: E731
    plain = sample_offsets(mixture, bias=0.0, temperature=1.0, draws=draws())
    biased = sample_offsets(mixture, bias=3.0, temperature=1.0, draws=draws())
    near_second = lambda xy: (xy[:, 0] > 5).mean()  # noqa: E731
    assert 0.55 < near_second(plain) < 0.7  # softmax([0, 0.5]) = 0.62
    assert near_second(biased) > 0.85  # pi = softmax(pi_hat * (1 + b))
    spread = lambda xy: np.abs(xy - xy.mean(0)).mean()  # noqa: E731
    assert spread(biased[biased[:, 0] > 5]) < spread(plain[plain[:, 0] > 5]) / 5  # sigma = exp(sigma_hat - b)


def fake_line(text: str, focus: list[int], width_per_char: float, finished: bool = True) -> SampledLine:
    steps = len(focus)
    offsets = np.zeros((steps + 1, 3), np.float32)
    offsets[1:, 0] = width_per_char * len(text) / steps
    offsets[-1, 2] = 1
    return SampledLine(offsets, text, finished, steps, np.array(focus))


def test_line_problems_name_what_a_reader_would_see(tiny_model: InferenceModel) -> None:
    usual = tiny_model.char_width  # ink width per character
    good = fake_line("abc", [0] * 4 + [1] * 4 + [2] * 4, usual)
    assert line_problems(good, tiny_model) == []
    assert "did not reach the end" in line_problems(fake_line("abc", [0] * 12, usual, finished=False), tiny_model)[0]
    assert any("skipped" in p for p in line_problems(fake_line("abcdef", [0] * 6 + [5] * 6, usual), tiny_model))
    assert any("stuck" in p for p in line_problems(fake_line("ab", [0] * 80 + [1] * 4, usual), tiny_model))
    assert any("wide" in p for p in line_problems(fake_line("abc", [0, 1, 2] * 4, usual * 6), tiny_model))
    assert any("wide" in p for p in line_problems(fake_line("abc", [0] * 4 + [1] * 4 + [2] * 4, usual * 2), tiny_model))
    run_on = int(3 * tiny_model.points_per_char)  # three characters' worth of points on each letter
    long = fake_line("abc", [0] * run_on + [1] * run_on + [2] * run_on, usual)
    assert any("took" in p for p in line_problems(long, tiny_model))
    lost = fake_line("abcdefgh", [0, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 8], usual)
    assert any("fell back 6 letters" in p for p in line_problems(lost, tiny_model))


def test_a_stroke_drawn_past_the_end_of_the_text_is_an_extra_mark(tiny_model: InferenceModel) -> None:
    usual = tiny_model.char_width
    extra = fake_line("abc", [0] * 3 + [1] * 3 + [2] * 2 + [3] * 5, usual)
    extra.offsets[7, 2] = 1  # the pen lifts after step 6; the last stroke ends the "c", then goes on
    extra.offsets[8, 0] = -3 * usual  # back over the ink: not a mark to cut off, a line to sample again
    assert trailing_points(extra) == 5
    assert any("past the end of its text" in p for p in line_problems(extra, tiny_model))
    assert without_trailing_marks(extra, tiny_model).steps == extra.steps
    clean = fake_line("abc", [0] * 4 + [1] * 4 + [2] * 3 + [3], usual)
    clean.offsets[8, 2] = 1  # the last letter's stroke reaches the end position as it finishes
    assert trailing_points(clean) == 1 and line_problems(clean, tiny_model) == []


def test_strokes_begun_after_the_text_are_cut_off(tiny_model: InferenceModel) -> None:
    line = fake_line("ab.", [0] * 4 + [1] * 4 + [2] * 2 + [3] * 3 + [3] * 2, 1.0)
    line.offsets[[8, 10, 13], 2] = 1  # strokes: "ab" (steps 0-7), "." (8-9), two marks past the text
    trimmed = without_trailing_marks(line, tiny_model)  # every step moves right: the marks lie right of the text
    assert trimmed.steps == 10 and len(trimmed.offsets) == 11 and len(trimmed.focus) == 10
    assert trimmed.offsets[-1, 2] == 1 and trimmed.focus.max() == 2
    np.testing.assert_array_equal(trimmed.offsets, line.offsets[:11])
    crossed = fake_line("at", [0] * 4 + [1] * 4 + [2] * 3, 1.0)
    crossed.offsets[8, 2] = 1  # the "t" bar, drawn after the window left the text, goes back over the stem
    crossed.offsets[9, 0] = -2.0
    assert without_trailing_marks(crossed, tiny_model).steps == 11
    usual = tiny_model.char_width
    focus = [0] * 4 + [1] * 4 + [2] * 2 + [2] * 2 + [3] * 5 + [1]
    begun_on_the_dot = fake_line("ab.", focus, usual * 18 / 10, finished=False)
    begun_on_the_dot.offsets[10, 2] = 1  # a mark begun while the window is still on ".", mostly drawn past the text,
    cut = without_trailing_marks(begun_on_the_dot, tiny_model)  # whose window fell back on its last point (it left the text)
    assert cut.steps == 10 and cut.finished and line_problems(cut, tiny_model) == []
    last_letter = fake_line("ab", [0] * 4 + [1] * 5 + [2] * 2, 1.0)
    last_letter.offsets[5, 2] = 1  # "b" begun right of "a": it reaches the end position only as it finishes
    assert without_trailing_marks(last_letter, tiny_model).steps == 11
    early = fake_line("abc", [0] * 4 + [1] * 3 + [2] * 1 + [3] * 6, 1.0)
    early.offsets[7, 2] = 1  # the window jumped to "c" before the pen drew it: the long last stroke is the "c"
    assert without_trailing_marks(early, tiny_model).steps == 14
    dotted = fake_line("hi", [0] * 4 + [1] * 4 + [1, 2, 2], 1.0)
    dotted.offsets[8, 2] = 1  # the "i"'s dot, right of its slanted stem: too short to be a mark begun on the "i"
    assert without_trailing_marks(dotted, tiny_model).steps == 11
    lone = fake_line("a", [1] * 5, 1.0)  # a line's only stroke stays, wherever the window was
    assert without_trailing_marks(lone, tiny_model).steps == 5
    sampled = sample_lines(tiny_model, ["hello there", "abc"], SamplingOptions(bias=1.0), seed=3)
    assert all(without_trailing_marks(drawn, tiny_model).steps == drawn.steps for drawn in sampled)


def test_a_tick_after_the_final_full_stop_is_cut_off(tiny_model: InferenceModel) -> None:
    usual = tiny_model.char_width
    focus = [0] * 4 + [1] * 4 + [2] * 2 + [2, 3]  # the tick begins while the window still weighs the "."
    ticked = fake_line("ab.", focus, usual * 3 / 12)
    ticked.offsets[[8, 10], 2] = 1  # strokes: "ab" (steps 0-7), "." (8-9), the tick (10-11)
    ticked.offsets[11, 0] = usual  # a character's width of blank before the tick
    assert without_trailing_marks(ticked, tiny_model).steps == 10
    stop = fake_line("ab.", [0] * 4 + [1] * 4 + [2, 3], usual * 3 / 10)
    stop.offsets[8, 2] = 1  # strokes: "ab", then the "." itself, as far right, begun on the "."
    stop.offsets[9, 0] = usual
    assert without_trailing_marks(stop, tiny_model).steps == 10
    close = fake_line('a"', [0] * 4 + [1] * 2 + [1, 2], usual * 2 / 8)
    close.offsets[[4, 6], 2] = 1  # strokes: "a", the quote's two ticks, the second just right of the first
    assert without_trailing_marks(close, tiny_model).steps == 8


def test_write_lines_resamples_failures_reproducibly(tiny_model: InferenceModel) -> None:
    texts = ["hello there", "abc", "the lazy dog"]
    progress: list[tuple[int, int]] = []
    a = write_lines(tiny_model, texts, seed=4, attempts=3, progress=lambda d, t: progress.append((d, t)))
    b = write_lines(tiny_model, texts, seed=4, attempts=3)
    assert [line.text for line in a] == texts
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.offsets, y.offsets)
        assert x.problems == line_problems(x, tiny_model)
    done = [d for d, _ in progress]
    assert done == sorted(done) and progress[-1][0] == progress[-1][1]
