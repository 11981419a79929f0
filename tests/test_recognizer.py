"""The handwriting recognizer: CTC decoding and loss, features, learning, error rates."""

from __future__ import annotations

import math

import pytest
import torch

from scribe.ink.alphabet import Alphabet
from scribe.training.losses import ctc_loss
from scribe.training.recognizer import (
    BLANK,
    Recognizer,
    ctc_targets,
    greedy_decode,
    line_features,
    read_lines,
)
from scribe.writing.legibility import error_rates, folded_cer
from scribe.writing.stored import RecognizerConfig

A, B, C = 2, 3, 4  # label ids of three characters (0 is the blank, 1 end-of-text)


def path_log_probs(path: list[int], classes: int = 5) -> torch.Tensor:
    """Log-probabilities (1, T, classes) whose best class at every frame follows ``path``."""
    probs = torch.full((len(path), classes), 0.1 / (classes - 1))
    probs[torch.arange(len(path)), torch.tensor(path)] = 0.9
    return probs.log().unsqueeze(0)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([A, A, A], [A]),  # repeats merge
        ([A, BLANK, A], [A, A]),  # a blank separates a doubled letter
        ([BLANK, A, A, B, BLANK, BLANK, C, C], [A, B, C]),
        ([BLANK, BLANK], []),
        ([A, B, A, B], [A, B, A, B]),
    ],
)
def test_greedy_decoding_merges_repeats_and_drops_blanks(path: list[int], expected: list[int]) -> None:
    assert greedy_decode(path_log_probs(path), torch.tensor([len(path)])) == [expected]


def test_greedy_decoding_ignores_frames_past_each_lines_length() -> None:
    log_probs = torch.cat([path_log_probs([A, B, C, C]), path_log_probs([C, BLANK, C, A])])
    assert greedy_decode(log_probs, torch.tensor([2, 3])) == [[A, B], [C, C]]


def test_ctc_loss_of_one_frame_is_minus_the_log_probability_of_its_label() -> None:
    log_probs = torch.log_softmax(torch.tensor([[[0.0, 0.0, 2.0, 0.5, 0.0]]]), dim=-1)
    loss = ctc_loss(log_probs, torch.tensor([1]), [torch.tensor([A])], BLANK)
    assert loss.item() == pytest.approx(-log_probs[0, 0, A].item(), rel=1e-5)


def test_ctc_loss_sums_every_alignment() -> None:
    # Two frames, label "a": the alignments are (a, a), (a, -), (-, a).
    log_probs = path_log_probs([A, BLANK])
    p = log_probs[0].exp()
    expected = -math.log(p[0, A] * p[1, A] + p[0, A] * p[1, BLANK] + p[0, BLANK] * p[1, A])
    assert ctc_loss(log_probs, torch.tensor([2]), [torch.tensor([A])], BLANK).item() == pytest.approx(expected, rel=1e-5)


def test_a_line_too_short_for_its_text_costs_nothing_instead_of_infinity() -> None:
    loss = ctc_loss(path_log_probs([A]), torch.tensor([1]), [torch.tensor([A, B, C])], BLANK)
    assert loss.item() == 0.0


def test_ctc_targets_drop_the_end_of_text_id_and_padding() -> None:
    ids = torch.tensor([[A, B, Alphabet.END, 0], [C, Alphabet.END, 0, 0]])
    targets = ctc_targets(ids, ids != 0)
    assert [t.tolist() for t in targets] == [[A, B], [C]]


def test_height_feature_ignores_where_the_line_sits_and_padding() -> None:
    offsets = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 2.0, 0.0], [1.0, -1.0, 1.0], [9.0, 9.0, 9.0]]])
    mask = torch.tensor([[True, True, True, False]])
    features = line_features(offsets, mask)
    shifted = offsets.clone()
    shifted[0, 0, 1] = 5.0  # the line starts higher up
    moved = line_features(shifted, mask)
    torch.testing.assert_close(features[..., 3], moved[..., 3])
    assert features[0, 3].abs().sum() == 0  # padding is zeroed
    assert features[0, :3, 3].mean().abs() < 1e-6  # centred over the real points


@pytest.mark.parametrize("points", [1, 2, 7, 8])
def test_frame_lengths_match_the_convolutions(points: int) -> None:
    model = Recognizer(RecognizerConfig(vocab_size=5, channels=4, hidden=4, layers=1))
    log_probs, lengths = model(torch.zeros(1, points, 3), torch.ones(1, points, dtype=torch.bool))
    assert log_probs.shape[1] == lengths.item() == Recognizer.frame_lengths(torch.tensor(points)).item()


def test_recognizer_overfits_a_tiny_batch() -> None:
    """Four random 'lines' and their texts: a working model and loss learn to read them exactly."""
    torch.manual_seed(0)
    alphabet = Alphabet("abcdefgh ")
    texts = ["bad cafe", "fade", "ace", "head bag"]
    offsets = torch.randn(len(texts), 40, 3)
    mask = torch.ones(len(texts), 40, dtype=torch.bool)
    mask[2, 30:] = False
    text_ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(alphabet.encode(t)) for t in texts], batch_first=True)
    targets = ctc_targets(text_ids, text_ids != Alphabet.PAD)
    model = Recognizer(RecognizerConfig(vocab_size=len(alphabet), channels=32, hidden=48, layers=1, dropout=0.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        log_probs, frames = model(offsets, mask)
        loss = ctc_loss(log_probs, frames, targets, BLANK).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert read_lines(model, offsets, mask, alphabet) == texts


def test_substitutions_and_deletions_are_misreadings_insertions_are_not() -> None:
    assert error_rates(["kitten"], ["sitting"]).cer == pytest.approx(100 * 3 / 6)
    substituted = error_rates(["abc"], ["xbcd"])
    assert substituted.cer == pytest.approx(100 * 2 / 3) and substituted.misread == {"a": 1}
    assert error_rates(["abc"], [""]).misread == {"a": 1, "b": 1, "c": 1}


def test_error_rates_are_total_edits_over_total_reference_length() -> None:
    rates = error_rates(["the cat", "a dog"], ["the cot", "a dog!"])
    assert rates.cer == pytest.approx(100 * 2 / 12)
    assert rates.wer == pytest.approx(100 * 2 / 4)
    assert rates.misread == {"a": 1}
    assert rates.occurrences["a"] == 2
    perfect = error_rates(["same"], ["same"])
    assert perfect.cer == perfect.wer == 0


def test_the_folded_error_rate_forgives_only_look_alike_shapes() -> None:
    assert folded_cer(["Call 0207"], ["call o2o7"]) == 0  # C/c and 0/o: the same shapes
    assert folded_cer(["Call 0207"], ["Coll 0207"]) == pytest.approx(100 / 9)  # a/o: a real misreading
    assert error_rates(["Call 0207"], ["call o2o7"]).cer == pytest.approx(300 / 9)  # the strict rate counts them


def test_misreadings_are_counted_per_kind_of_character_and_for_first_letters() -> None:
    rates = error_rates(["Call 0207, $5", "meet at 9"], ["Coll 0201. s5", "neet at 9"])
    assert rates.by_class() == {
        "lowercase": (2, 9),  # the 'a' of Call, the 'm' of meet
        "capitals": (0, 1),
        "digits": (1, 6),
        "punctuation": (1, 1),
        "symbols": (1, 1),
        "first letters": (1, 2),  # 'm' of the second line; the first line's 'C' was read
    }
