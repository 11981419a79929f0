"""The NumPy recognizer that writing reads its ink with computes what the trained PyTorch recognizer computes.

Compared on loud random weights (a dropped ReLU, a flipped convolution kernel or a
direction read the wrong way cannot hide in near-zero activations), on a padded
batch whose lines have different lengths, and end to end: the shipped recognizer
reads real IAM-OnDB ink as the PyTorch one does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from scribe.ink.alphabet import Alphabet
from scribe.ink.strokes import simplify_offsets
from scribe.training.checkpoint import stored_model
from scribe.training.recognizer import Recognizer, greedy_decode
from scribe.writing.reader import InkReader, best_path, length_batches
from scribe.writing.registry import DEFAULT_RECOGNIZER, resolve_model
from scribe.writing.stored import RecognizerConfig

ALPHABET = Alphabet("abcdefghij ")
LENGTHS = [23, 9, 16]  # points per line of one padded batch; odd and even, for the stride-2 frames
TOLERANCE = {"atol": 2e-5, "rtol": 1e-4}


def loud_recognizer(layers: int) -> Recognizer:
    """A seeded random recognizer whose pre-activations reach well past the linear range."""
    torch.manual_seed(layers)
    config = RecognizerConfig(vocab_size=len(ALPHABET), channels=6, hidden=5, layers=layers, dropout=0.0)
    model = Recognizer(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.mul_(3.0)
    return model


def twin(model: Recognizer, folder: Path, simplified_at: float | None = None) -> InkReader:
    """The recognizer as writing gets it: exported to a model file in float32 and loaded."""
    path = folder / f"recognizer-{simplified_at}.npz"
    stored = stored_model(model, ALPHABET, np.zeros(3, np.float32), np.ones(3, np.float32), step=1, simplified_at=simplified_at)
    stored.save(path, np.float32)
    return InkReader.load(path)


def random_lines(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lines = [rng.normal(0, 2.0, (length, 3)).astype(np.float32) for length in LENGTHS]
    for line in lines:
        line[:, 2] = rng.random(len(line)) < 0.3
    return lines


def padded(lines: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    offsets = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(line) for line in lines], batch_first=True)
    return offsets, torch.arange(offsets.shape[1])[None, :] < torch.tensor([len(line) for line in lines])[:, None]


@pytest.mark.parametrize("layers", [1, 2])
def test_the_numpy_recognizer_computes_what_torch_computes(layers: int, tmp_path: Path) -> None:
    model = loud_recognizer(layers)
    reader = twin(model, tmp_path)
    lines = random_lines(layers)
    offsets, mask = padded(lines)
    with torch.no_grad():
        log_probs, lengths = model(offsets, mask)
    assert log_probs.exp().max(dim=-1).values.min() < 0.9, "a confident network would hide wrong scores"
    scores, numpy_lengths = reader.logits(offsets.numpy(), mask.numpy())
    top = scores.max(-1, keepdims=True)
    numpy_log_probs = scores - top - np.log(np.exp(scores - top).sum(-1, keepdims=True))
    np.testing.assert_array_equal(numpy_lengths, lengths.numpy())
    for row, length in enumerate(lengths.tolist()):  # frames past a line's end are padding, read by neither
        np.testing.assert_allclose(numpy_log_probs[row, :length], log_probs[row, :length].numpy(), **TOLERANCE)
    assert best_path(scores, numpy_lengths) == greedy_decode(log_probs, lengths)


def test_a_line_reads_the_same_alone_and_in_a_batch(tmp_path: Path) -> None:
    reader = twin(loud_recognizer(2), tmp_path)
    lines = random_lines(5)
    assert reader.read(lines) == [reader.read([line])[0] for line in lines]
    assert reader.read(lines[::-1]) == reader.read(lines)[::-1], "readings come back in the order the lines were given"


def test_ink_is_read_as_thinly_as_the_reader_was_trained_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    network = loud_recognizer(2)
    plain, thinning = twin(network, tmp_path), twin(network, tmp_path, simplified_at=2.0)
    dense = random_lines(7)
    thinned = [simplify_offsets(line, 2.0) for line in dense]
    assert all(len(t) < len(d) for t, d in zip(thinned, dense))
    points_read: list[int] = []
    logits = InkReader.logits

    def counted(reader: InkReader, offsets: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        points_read.append(int(mask.sum()))
        return logits(reader, offsets, mask)

    monkeypatch.setattr(InkReader, "logits", counted)
    assert thinning.read(dense) == plain.read(thinned)
    assert sum(points_read) == 2 * sum(map(len, thinned))
    points_read.clear()
    plain.read(dense)  # a reader that records no tolerance reads the ink as it is
    assert sum(points_read) == sum(map(len, dense))


def test_a_run_on_line_is_read_in_a_batch_of_its_own_not_padding_the_others() -> None:
    lengths = [200, 210, 854, 190, 240, 205]
    batches = length_batches(lengths)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths))), "every line read once"
    assert [2] in batches, "the 854-point line would have padded five 200-point lines to four times their work"
    assert all(max(lengths[i] for i in batch) <= 1.25 * min(lengths[i] for i in batch) for batch in batches)
    assert len(length_batches([100] * 70)) == 3, "at most 32 lines a batch"


def test_a_writing_model_is_refused_as_a_reader() -> None:
    from scribe.errors import ScribeError
    from scribe.writing.registry import DEFAULT_MODEL

    with pytest.raises(ScribeError, match="which writes; reading ink needs a recognizer"):
        InkReader.load(resolve_model(DEFAULT_MODEL))


def test_the_shipped_recognizer_reads_the_shipped_writers_ink_as_torch_does() -> None:
    from scribe.training.checkpoint import load_model
    from scribe.training.recognizer import read_lines
    from scribe.writing.document import Scribe

    texts = ["Call me on 0207 946 0321", "meet me at the station"]
    lines = [line.offsets for line in Scribe().write("\n".join(texts), seed=3).lines]
    stored, network = load_model(resolve_model(DEFAULT_RECOGNIZER))
    reader = InkReader(stored)
    thinned = reader.as_trained(lines)
    normalized = [torch.from_numpy(reader._batch([line])[0][0]) for line in thinned]
    offsets = torch.nn.utils.rnn.pad_sequence(normalized, batch_first=True)
    mask = torch.arange(offsets.shape[1])[None, :] < torch.tensor([len(line) for line in thinned])[:, None]
    expected = read_lines(network, offsets, mask, reader.alphabet)  # type: ignore[arg-type]
    assert reader.read(lines) == expected
    assert expected[1] == texts[1], "the shipped pair reads plain lowercase text right"
