"""Synthetic handwriting with known x-height, baseline and tilt, for the tests of line metrics and layout."""

from __future__ import annotations

import math

import numpy as np

from scribe.ink.strokes import points_to_offsets

POINTS_PER_LETTER = 12


def written(
    text: str, x_height: float = 40.0, tilt_degrees: float = 0.0, origin: tuple[float, float] = (0.0, 0.0)
) -> np.ndarray:
    """Synthetic handwriting as offsets (dataset units, y up), its baseline at height 0 through ``origin``.

    Each word is one stroke. ``n`` is an arch from the baseline up to the
    x-height and back, ``l`` an ascender to 2.2 x-heights, ``g`` an arch that
    dips to one x-height below the baseline, ``.`` a single point on the
    baseline; a space moves on with the pen up. The line is then rotated by
    ``tilt_degrees`` and moved to ``origin``.
    """
    width = 0.7 * x_height
    t = np.linspace(0.0, 1.0, POINTS_PER_LETTER, endpoint=False)
    shapes = {"n": np.sin(np.pi * t), "l": 2.2 * np.sin(np.pi * t), "g": np.sin(2 * np.pi * t)}
    strokes, x = [], 0.0
    for word in text.split(" "):
        xs, ys, dots = [], [], []
        for letter in word:
            if letter == ".":
                dots.append(np.array([[x + 0.3 * width, 0.0]]))
            else:
                xs.append(x + t * width)
                ys.append(shapes[letter] * x_height)
                end = x + width
            x += width
        if xs:
            strokes.append(np.column_stack([np.concatenate([*xs, [end]]), np.concatenate([*ys, [0.0]])]))
        strokes.extend(dots)
        x += width
    a = math.radians(tilt_degrees)
    rotation = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    points = [s @ rotation + origin for s in strokes]
    ends = [np.eye(1, len(s), len(s) - 1).ravel() for s in points]
    y_down = np.concatenate([np.column_stack([s[:, 0], -s[:, 1], e]) for s, e in zip(points, ends, strict=True)])
    return points_to_offsets(y_down)
