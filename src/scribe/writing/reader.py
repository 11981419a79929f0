"""The handwriting recognizer run forward in NumPy: how writing reads its own ink back.

``scribe write`` checks each line it samples by reading it (verified writing), and
``scribe legibility`` scores a writer the same way; neither may need PyTorch. This
mirrors :class:`scribe.training.recognizer.Recognizer` exactly (a test compares the
two on loud random weights, another reads the shipped model's ink): the same
per-point features, the two convolutions (the second with stride 2), the
bidirectional LSTM stack and the linear map to the alphabet, decoded by best path
(CTC's blank is the alphabet's padding id, Graves et al., ICML 2006).

Verified writing also asks how likely the ink is to say the text it was written for:
CTC's probability of that labelling, summed over all its alignments by the forward
variables (ibid., eqs. 5-8). Unlike the best-path reading it is not fooled by one
frame the reader slips on, and it ranks two candidates that both read with one slip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scribe.errors import ScribeError
from scribe.ink.alphabet import Alphabet
from scribe.ink.strokes import normalize, simplify_offsets
from scribe.writing.network import LSTMWeights, bidirectional, one_blas_thread
from scribe.writing.stored import RecognizerConfig, StoredModel, read_stored_model

BLANK = Alphabet.PAD
READ_BATCH = 32  # lines read at once: longer batches gain nothing and pad more
#: A batch holds lines up to this many times its shortest line's length: one run-on
#: line of 850 points padded a batch of 200-point lines to four times its work.
READ_PADDING = 1.25
#: Characters whose handwritten shapes are the same, told apart only by context (a
#: "0" among digits) or by size against letters nearby, which a reader without a
#: language model cannot weigh: "0207" drawn well reads "o2o7". Verified writing
#: compares readings with each group folded into its first character, so that such
#: a line is not rewritten (nor warned about) for a difference no pen can make.
LOOK_ALIKES = ("0oO", "1lI|", "cC", "kK", "pP", "sS", "uU", "vV", "wW", "xX", "zZ")
_FOLDED = str.maketrans({char: group[0] for group in LOOK_ALIKES for char in group[1:]})


@dataclass(frozen=True)
class Reading:
    """What a reader makes of a line written for a known text."""

    text: str  # the text read (best path)
    likelihood: float  # log P(the intended text | ink), look-alikes folded; -inf where the ink is too short for it


def fold_look_alikes(text: str) -> str:
    """``text`` with every character of a :data:`LOOK_ALIKES` group replaced by the group's first."""
    return text.translate(_FOLDED)


def line_features(offsets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-point features (B, T, 4): the normalized offsets and the pen's height, standardized per line.

    The twin of :func:`scribe.training.recognizer.line_features`: the height is the
    running sum of ``dy`` over the real points, centred and scaled per line.
    """
    weights = mask.astype(np.float32)[..., None]
    height = np.cumsum(offsets[..., 1:2] * weights, axis=1)
    count = np.maximum(weights.sum(axis=1, keepdims=True), 1)
    mean = (height * weights).sum(axis=1, keepdims=True) / count
    spread = np.maximum(np.sqrt(((height - mean) ** 2 * weights).sum(axis=1, keepdims=True) / count), 1e-3)
    return np.concatenate([offsets, (height - mean) / spread * weights], axis=-1) * weights


class Convolution:
    """One ``nn.Conv1d`` with ``padding = kernel // 2``, over (B, T, C) sequences, as one matmul."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, stride: int = 1) -> None:
        self.kernel = weight.shape[2]
        self.matrix = np.ascontiguousarray(weight.transpose(2, 1, 0).reshape(-1, weight.shape[0]))  # (K * C_in, C_out)
        self.bias = bias
        self.stride = stride

    def __call__(self, x: np.ndarray) -> np.ndarray:
        pad = self.kernel // 2
        padded = np.pad(x, ((0, 0), (pad, pad), (0, 0)))
        frames = (x.shape[1] + 2 * pad - self.kernel) // self.stride + 1
        taps = np.arange(frames)[:, None] * self.stride + np.arange(self.kernel)  # (frames, K)
        windows = padded[:, taps].reshape(x.shape[0], frames, -1)  # (B, frames, K * C_in)
        return windows @ self.matrix + self.bias


class InkReader:
    """A recognizer model with the alphabet and normalization it was trained with, ready to read ink."""

    def __init__(self, model: StoredModel) -> None:
        if model.kind.writes:
            raise ScribeError(f"this is a {model.kind.name} model, which writes; reading ink needs a recognizer")
        assert isinstance(model.config, RecognizerConfig)  # the one kind that reads
        self.config: RecognizerConfig = model.config
        self.alphabet = Alphabet(model.alphabet)
        # The ids of each look-alike group this alphabet holds two or more of, the first the group's.
        known = ([self.alphabet.encode(char, add_end=False)[0] for char in group if char in self.alphabet]
                 for group in LOOK_ALIKES)
        self.look_alike_ids = [ids for ids in known if len(ids) > 1]
        self.mean, self.std = model.mean, model.std
        # Ink is read as thinly as the training ink was: a reader trained on ink simplified at 10
        # units misreads the denser ink of a writer trained at 3.5 (22% CER against 9%).
        self.simplified_at = model.simplified_at
        try:
            self._read_weights(model.weights)
        except KeyError as exc:
            raise ScribeError(f"the model's weights lack {exc.args[0]}; the model file is damaged") from exc

    @classmethod
    def load(cls, path: Path) -> InkReader:
        """A recognizer from a model file (``.npz``) or a training checkpoint (``.pth``)."""
        return cls(read_stored_model(path))

    def _read_weights(self, state: dict[str, np.ndarray]) -> None:
        self.convolutions = [
            Convolution(state["convolutions.0.weight"], state["convolutions.0.bias"]),
            Convolution(state["convolutions.2.weight"], state["convolutions.2.bias"], stride=2),
        ]
        self.lstms = [
            (
                LSTMWeights.from_state(state, f"lstms.{i}.forward_lstm.", "_l0"),
                LSTMWeights.from_state(state, f"lstms.{i}.backward_lstm.", "_l0"),
            )
            for i in range(self.config.layers)
        ]
        self.output_w = state["output.weight"].T.copy()
        self.output_b = state["output.bias"]

    def logits(self, offsets: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame class scores (B, frames, vocab) of normalized lines (B, T, 3), and each line's frame count."""
        lengths = np.maximum((mask.sum(axis=1) + 1) // 2, 1)  # frames left after the stride-2 convolution
        x = line_features(offsets.astype(np.float32, copy=False), mask)
        x = np.maximum(self.convolutions[0](x), 0.0) * mask[..., None]  # padding zero again, as in training
        x = np.maximum(self.convolutions[1](x), 0.0)
        for forward, backward in self.lstms:
            x = np.concatenate(bidirectional(forward, backward, x, lengths), axis=-1)
        return x @ self.output_w + self.output_b, lengths

    def readable(self, text: str) -> str:
        """``text`` as this recognizer could read it at best: without the characters it does not know."""
        return "".join(char for char in text if char in self.alphabet)

    def as_trained(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        """``lines`` thinned as the recognizer's training ink was (as they are when it records no tolerance)."""
        if self.simplified_at is None:
            return lines
        return [simplify_offsets(line, self.simplified_at) for line in lines]

    def read(self, lines: list[np.ndarray]) -> list[str]:
        """The text read in each line (offsets in dataset units, :mod:`scribe.ink.strokes`)."""
        return [self.alphabet.decode(ids) for ids, _ in self._scored(lines, None)]

    def check(self, lines: list[np.ndarray], texts: list[str]) -> list[Reading]:
        """What each line reads as, and how likely it is to say the text it was written for (``texts``, one a line)."""
        return [Reading(self.alphabet.decode(ids), likelihood) for ids, likelihood in self._scored(lines, texts)]

    @one_blas_thread()  # verified writing chooses by these numbers: their bits must not depend on threads
    def _scored(self, lines: list[np.ndarray], texts: list[str] | None) -> list[tuple[list[int], float]]:
        """Each line's best path, and the log-likelihood of its text where ``texts`` are given (else 0), in order."""
        lines = self.as_trained(lines)
        found: dict[int, tuple[list[int], float]] = {}
        for chosen in length_batches([len(line) for line in lines]):
            offsets, mask = self._batch([lines[i] for i in chosen])
            scores, lengths = self.logits(offsets, mask)
            likelihoods = np.zeros(len(chosen))
            if texts is not None:
                wanted = [self.alphabet.encode(fold_look_alikes(self.readable(texts[i])), add_end=False) for i in chosen]
                likelihoods = ctc_log_likelihoods(self._folded_log_probabilities(scores), lengths, wanted)
            for i, ids, likelihood in zip(chosen, best_path(scores, lengths), likelihoods):
                found[i] = ids, float(likelihood)
        return [found[i] for i in range(len(lines))]

    def _folded_log_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Log-softmax of ``scores`` with each look-alike group's probability gathered on its first character."""
        shifted = scores - scores.max(axis=-1, keepdims=True)
        probabilities = np.exp(shifted)
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        for ids in self.look_alike_ids:
            probabilities[..., ids[0]] = probabilities[..., ids].sum(axis=-1)
        with np.errstate(divide="ignore"):
            return np.log(probabilities)

    def _batch(self, lines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Normalized lines right-padded into one array (B, T, 3), and their mask (B, T)."""
        longest = max(len(line) for line in lines)
        offsets = np.zeros((len(lines), longest, 3), np.float32)
        mask = np.zeros((len(lines), longest), bool)
        for row, line in enumerate(lines):
            offsets[row, : len(line)] = normalize(line, self.mean, self.std)
            mask[row, : len(line)] = True
        return offsets, mask


def length_batches(lengths: list[int]) -> list[list[int]]:
    """Indices of ``lengths`` in batches of similar length: at most :data:`READ_BATCH`, within :data:`READ_PADDING`."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        batch = batches[-1] if batches else []
        if not batch or len(batch) == READ_BATCH or lengths[i] > READ_PADDING * max(lengths[batch[0]], 1):
            batches.append(batch := [])
        batch.append(i)
    return batches


def best_path(scores: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    """Best-path CTC decoding: the top class per frame, repeats merged, blanks dropped."""
    decoded = []
    for path, length in zip(scores.argmax(axis=-1), lengths):
        path = path[:length]
        keep = (path != BLANK) & np.concatenate([[True], path[1:] != path[:-1]])
        decoded.append(path[keep].tolist())
    return decoded


def ctc_log_likelihoods(log_probabilities: np.ndarray, lengths: np.ndarray, labels: list[list[int]]) -> np.ndarray:
    """log P(labels[b] | frames of line b) under CTC (B,), from per-frame log-probabilities (B, T, V).

    The forward variables over the labelling with blanks between and around its
    labels (Graves et al., ICML 2006, eqs. 5-8): a path stays on a label, moves to the
    next, or skips a blank between two different labels. Frames past a line's length
    leave its variables as they are.
    """
    batch, frames, _ = log_probabilities.shape
    count = np.array([len(ids) for ids in labels], dtype=np.int64)
    extended = np.full((batch, 2 * max(int(count.max(initial=0)), 1) + 1), BLANK, np.int64)  # room for one label
    for row, ids in enumerate(labels):
        extended[row, 1 : 2 * len(ids) : 2] = ids
    may_skip = np.zeros(extended.shape, bool)
    may_skip[:, 2:] = (extended[:, 2:] != BLANK) & (extended[:, 2:] != extended[:, :-2])
    states = np.broadcast_to(extended[:, None, :], (batch, frames, extended.shape[1]))
    emitted = np.take_along_axis(log_probabilities, states, axis=2)  # (B, T, S): each state's label at each frame
    alpha = np.full(extended.shape, -np.inf)
    alpha[:, 0] = emitted[:, 0, 0]
    alpha[count > 0, 1] = emitted[count > 0, 0, 1]
    lead = np.full((batch, 2), -np.inf)
    with np.errstate(invalid="ignore"):  # -inf + -inf stays -inf
        for frame in range(1, frames):
            step = np.logaddexp(alpha, np.concatenate([lead[:, :1], alpha[:, :-1]], axis=1))
            step = np.where(may_skip, np.logaddexp(step, np.concatenate([lead, alpha[:, :-2]], axis=1)), step)
            alpha = np.where((frame < lengths)[:, None], step + emitted[:, frame], alpha)
    rows = np.arange(batch)
    return np.logaddexp(alpha[rows, 2 * count], np.where(count > 0, alpha[rows, np.maximum(2 * count - 1, 0)], -np.inf))
