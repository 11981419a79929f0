"""What makes a hand: slant, width, size and shape of one line of ink, as a vector of numbers.

Used to tell writers apart (:class:`WriterIdentifier`, the measure of style
fidelity: does ink written "in the style of" a sample look like its writer's?)
and to measure how much generated hands differ (the spread of slant and width).
The features are those a reader of handwriting notices first, measured on offsets
in the stroke format (:mod:`scribe.ink.strokes`), thinned alike beforehand so that
point density does not count (:func:`scribe.ink.strokes.simplify_offsets`):

- size and proportions from :func:`~scribe.ink.metrics.line_metrics`: the
  x-height (log), the width per character, ascender and descender reach, in x-heights;
- slant: the length-weighted mean angle from vertical of the near-upright pen-down
  segments, the baseline's tilt removed;
- shape: a length-weighted histogram of pen-down directions (12 bins) and of the
  turn between consecutive segments (6 bins): round hands turn gently, angular
  ones sharply;
- rhythm: strokes, pen-down length and pen-up travel per character.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scribe.ink.metrics import line_metrics
from scribe.ink.strokes import offsets_to_points

DIRECTION_BINS = 12
TURN_BINS = 6
UPRIGHT = np.deg2rad(45.0)  # segments this close to vertical show the slant
FEATURE_NAMES = (
    "log x-height", "width per character", "ascender reach", "descender reach", "slant",
    *(f"direction {k}" for k in range(DIRECTION_BINS)), *(f"turn {k}" for k in range(TURN_BINS)),
    "strokes per character", "ink per character", "travel per character",
)


def style_features(offsets: np.ndarray, text: str) -> np.ndarray:
    """The features of one line of ink (offsets, y up) that says ``text``, in :data:`FEATURE_NAMES` order."""
    metrics = line_metrics(offsets)
    size = max(metrics.x_height, 1e-6)
    points = offsets_to_points(offsets)
    down = np.concatenate([[False], offsets[:-1, 2] < 0.5])  # row k is drawn when the pen was down after row k - 1
    steps = offsets[:, :2].astype(np.float64)
    tilt = np.arctan(metrics.slope)
    angle = np.arctan2(steps[:, 1], steps[:, 0]) - tilt
    length = np.hypot(steps[:, 0], steps[:, 1])
    drawn = down & (length > 0)
    in_the_air = ~down
    in_the_air[0] = False  # row 0 is where the line starts, not a move
    chars = max(len(text), 1)
    heights = points[:, 1] - (metrics.baseline + metrics.slope * points[:, 0])
    return np.concatenate([
        [np.log(size), (metrics.right - metrics.left) / chars / size,
         np.percentile(heights, 95) / size, -np.percentile(heights, 5) / size, _slant(angle[drawn], length[drawn])],
        _histogram(np.mod(angle[drawn], 2 * np.pi), length[drawn], DIRECTION_BINS, 2 * np.pi),
        _histogram(*_turns(angle, length, drawn), TURN_BINS, np.pi),
        [(offsets[:, 2] > 0.5).sum() / chars, length[drawn].sum() / chars / size, length[in_the_air].sum() / chars / size],
    ])


def _slant(angle: np.ndarray, length: np.ndarray) -> float:
    """Mean lean from vertical of the near-upright segments, radians (positive: leaning right)."""
    lean = np.mod(angle, np.pi) - np.pi / 2  # up and down strokes alike; 0 is upright
    upright = np.abs(lean) < UPRIGHT
    if not upright.any():
        return 0.0
    return float(-np.average(lean[upright], weights=length[upright]))


def _turns(angle: np.ndarray, length: np.ndarray, drawn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How sharply the pen turns between consecutive drawn segments (0 to pi), and the weight of each turn."""
    both = drawn[1:] & drawn[:-1]
    turn = np.abs(np.angle(np.exp(1j * (angle[1:] - angle[:-1]))))
    return turn[both], np.minimum(length[1:], length[:-1])[both]


def _histogram(values: np.ndarray, weights: np.ndarray, bins: int, span: float) -> np.ndarray:
    """A weighted histogram of ``values`` in [0, span), summing to 1 (all zeros without values)."""
    counts = np.bincount(np.minimum((values / span * bins).astype(int), bins - 1), weights=weights, minlength=bins)
    total = counts.sum()
    return counts / total if total > 0 else counts


@dataclass
class WriterIdentifier:
    """Which of a few writers wrote a line: multinomial logistic regression on standardized :func:`style_features`.

    Small on purpose: trained in a second on ten or so lines per writer, so that any
    set of held-out writers can be told apart without a network trained on them.
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (features + 1, writers)
    writers: list[int]

    @classmethod
    def fit(cls, features: np.ndarray, writers: list[int], l2: float = 1e-2, steps: int = 2000) -> WriterIdentifier:
        """Train on rows of features and the writer of each row (full-batch gradient descent)."""
        labels = sorted(set(writers))
        mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-9
        inputs = _with_bias((features - mean) / scale)
        targets = np.eye(len(labels))[[labels.index(writer) for writer in writers]]
        weights = np.zeros((inputs.shape[1], len(labels)))
        for _ in range(steps):
            probabilities = _softmax(inputs @ weights)
            gradient = inputs.T @ (probabilities - targets) / len(inputs) + l2 * weights
            weights -= 0.5 * gradient
        return cls(mean, scale, weights, labels)

    def ranked(self, features: np.ndarray) -> np.ndarray:
        """For each row, the writers from most to least likely (writer ids, shape (rows, writers))."""
        scores = _with_bias((features - self.mean) / self.scale) @ self.weights
        return np.asarray(self.writers)[np.argsort(-scores, axis=1)]


def _with_bias(inputs: np.ndarray) -> np.ndarray:
    return np.concatenate([inputs, np.ones((len(inputs), 1))], axis=1)


def _softmax(scores: np.ndarray) -> np.ndarray:
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)
