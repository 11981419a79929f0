"""Bringing UNIPEN's sources to IAM-OnDB's ink: which way their y axis points, and one scale each.

UNIPEN's sources used some forty different tablets. Physical units (the declared
resolution) make them comparable with each other but not with IAM-OnDB, whose
writers wrote on a whiteboard, and people write isolated characters in boxes
larger than the same characters inside words. So each source gets two scales,
one for its characters and one for its words and text, chosen so that the
median x-height matches IAM-OnDB's (:data:`IAM_ONDB_X_HEIGHT`):

- words and text: the x-height :func:`scribe.ink.metrics.measure_strokes` finds
  (the level of lowercase letter tops above the baseline);
- characters: the glyph's height divided by how tall that character is in
  x-heights (:func:`height_in_x_heights`: 1 for ``a c e m n o r s u v w x z``,
  :data:`TALL_RATIO` for digits, capitals, ascenders and descenders); symbols and
  other characters take the scale their source's letters and digits gave.

A source with no piece of one kind borrows the other's scale, or failing both the
median millimetre scale of all sources. Also here: the y direction (UNIPEN does
not declare it), the smoothing that coarse tablets need, and the test for text
written on several lines. Nothing is printed; what was measured is returned for
meta.json.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from scribe.ink.metrics import measure_strokes

#: IAM-OnDB's median x-height in its tablet units: measured by measure_strokes on 1,457 random
#: lines of the full line set after outlier removal (quartiles 95 and 148).
IAM_ONDB_X_HEIGHT: float = 117.0
#: Height of digits, capitals and letters with ascenders or descenders in x-heights: the median
#: height of ascender tops above the baseline over IAM-OnDB's 100-line sample is 2.23 x-heights
#: (quartiles 2.11 and 2.46).
TALL_RATIO: float = 2.2
SHORT_LETTERS = frozenset("acemnorsuvwxz")
TALL_CHARACTERS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZbdfhkltgjpqy")
#: Fewer measured pieces than this and a source's own median is not trusted.
MIN_PIECES = 5
CHARACTER_LEVEL = "character"
WORD_LEVEL = "word"


def height_in_x_heights(char: str) -> float | None:
    """How tall ``char`` is in x-heights, or None for characters without a dependable height (symbols)."""
    if char in SHORT_LETTERS:
        return 1.0
    if char in TALL_CHARACTERS:
        return TALL_RATIO
    return None


#: Below this fraction of strokes drawn downwards (in y-up terms) a source's y axis is taken to point
#: down. Real handwriting with y up measures 0.47 to 0.90 (the 51 sources of train_r01_v07, all y up
#: when looked at); IAM-OnDB's y-down ink read as if y pointed up measures 0.28.
Y_DOWN_BELOW: float = 0.35


def downward_fraction(strokes: Iterable[np.ndarray]) -> float:
    """Fraction of strokes (with any height) whose first point has a larger y than their last: how y points.

    UNIPEN does not declare its y direction. Handwriting in Latin script is mostly
    drawn from the top down: digits, capitals and most letters start at their top,
    and down-strokes outnumber up-strokes, so with y up most strokes end lower than
    they start. Cursive writing has many up-strokes too (one source measures 0.47),
    hence the threshold :data:`Y_DOWN_BELOW` rather than one half.
    """
    starts_higher = total = 0
    for stroke in strokes:
        rise = float(stroke[0, 1] - stroke[-1, 1])
        if rise != 0:
            total += 1
            starts_higher += rise > 0
    return starts_higher / total if total else 0.5


def piece_x_height(strokes: Sequence[np.ndarray], text: str, level: str) -> float | None:
    """The x-height of one piece in its own units (y up), or None when it cannot be told."""
    if level == WORD_LEVEL:
        metrics = measure_strokes(list(strokes))
        return metrics.x_height if metrics.tops >= 2 and metrics.x_height > 0 else None
    ratio = height_in_x_heights(text) if len(text) == 1 else None
    if ratio is None:
        return None
    points = np.concatenate(strokes)
    height = float(np.ptp(points[:, 1]))
    return height / ratio if height > 0 else None


@dataclass
class SourceScale:
    """What was measured for one source: its y direction and its two scales (IAM units per mm)."""

    y_up: bool
    downward_fraction: float
    scales: dict[str, float]  # level -> IAM-OnDB units per millimetre
    measured: dict[str, int]  # level -> pieces the scale was measured on (0: borrowed)
    x_height_mm: dict[str, float]  # level -> median x-height in mm (NaN where not measured)
    points_per_char: dict[str, float] = field(default_factory=dict)  # level -> median, as written (non-space characters)

    def to_json(self) -> dict[str, object]:
        """The figures for meta.json (rounded: they are provenance, not inputs)."""
        return {
            "y_up": self.y_up,
            "downward_stroke_fraction": round(self.downward_fraction, 3),
            "iam_units_per_mm": {level: round(scale, 3) for level, scale in self.scales.items()},
            "pieces_measured": dict(self.measured),
            "median_x_height_mm": {k: round(v, 3) for k, v in self.x_height_mm.items() if np.isfinite(v)},
            "points_per_character": {k: round(v, 1) for k, v in self.points_per_char.items()},
        }


def measure_source(pieces: Sequence[tuple[list[np.ndarray], str, str]]) -> SourceScale:
    """Direction (:func:`downward_fraction`) and scales of one source from its pieces ``(strokes in mm, text, level)``.

    Scales that cannot be measured (too few pieces of that level) are NaN here and
    filled in by :func:`fill_missing_scales`.
    """
    fraction = downward_fraction(stroke for strokes, _, _ in pieces for stroke in strokes)
    y_up = fraction >= Y_DOWN_BELOW
    flip = np.array([1.0, 1.0 if y_up else -1.0], dtype=np.float32)
    scales, measured, medians = {}, {}, {}
    for level in (CHARACTER_LEVEL, WORD_LEVEL):
        heights = [
            h
            for strokes, text, piece_level in pieces
            if piece_level == level and (h := piece_x_height([s * flip for s in strokes], text, level)) is not None
        ]
        median = float(np.median(heights)) if len(heights) >= MIN_PIECES else float("nan")
        medians[level] = median
        scales[level] = IAM_ONDB_X_HEIGHT / median if np.isfinite(median) and median > 0 else float("nan")
        measured[level] = len(heights) if np.isfinite(scales[level]) else 0
    return SourceScale(y_up, fraction, scales, measured, medians)


def fill_missing_scales(sources: dict[str, SourceScale]) -> None:
    """Give each unmeasured scale the source's other one, or else the median over all sources (in place)."""
    measured = [scale for source in sources.values() for scale in source.scales.values() if np.isfinite(scale)]
    fallback = float(np.median(measured)) if measured else IAM_ONDB_X_HEIGHT / 2.0  # ~2 mm letters, if nothing measured
    for source in sources.values():
        known = [scale for scale in source.scales.values() if np.isfinite(scale)]
        for level, scale in source.scales.items():
            if not np.isfinite(scale):
                source.scales[level] = known[0] if known else fallback


#: A TEXT piece this tall for its width, or this many x-heights tall, was written on several lines
#: (the release has names and dates one below the other): it cannot train a line model.
MAX_TEXT_ASPECT = 0.6
MAX_TEXT_X_HEIGHTS = 7.0


def several_lines(strokes: list[np.ndarray]) -> bool:
    """Whether a TEXT piece (y up, IAM-OnDB units) stacks lines: too tall for its width or its letters."""
    points = np.concatenate(strokes)
    width, height = np.ptp(points, axis=0)
    return bool(height > MAX_TEXT_ASPECT * width or height > MAX_TEXT_X_HEIGHTS * IAM_ONDB_X_HEIGHT)


def smoothed(stroke: np.ndarray, passes: int = 2) -> np.ndarray:
    """A stroke filtered ``passes`` times with the binomial kernel (1, 2, 1)/4, its ends kept in place.

    Some tablets quantize coarsely for the size people wrote at (``not``: steps of
    an eighth of a letter) or jitter (``pcl``); Ramer-Douglas-Peucker keeps every
    stair and wobble, so their letters came out with 2 to 3 times IAM-OnDB's points
    per character (33.6 and 17.6 for ``not`` and ``pcl`` words). Two passes (a
    Gaussian of about one point) bring them to 16.1 and 13.5 and move clean
    sources by under 10% (``art`` 11.0 -> 10.0, ``cee`` 12.7 -> 11.9).
    """
    out = stroke.astype(np.float64)
    for _ in range(passes if len(out) >= 3 else 0):
        inner = (out[:-2] + 2 * out[1:-1] + out[2:]) / 4
        out = np.concatenate([out[:1], inner, out[-1:]])
    return out
