"""Line metrics: baseline, slope and x-height of a line of ink (scribe.ink.metrics), on synthetic lines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.synthetic import written
from scribe.ink import metrics
from scribe.ink.metrics import line_metrics, median
from scribe.ink.strokes import laid_end_to_end


def test_line_metrics_ignores_ascenders_and_descenders() -> None:
    offsets = written("nlnn gnnl nnng lnn. nnn", x_height=40.0, tilt_degrees=3.0, origin=(5.0, 7.0))
    m = line_metrics(offsets)
    assert m.x_height == pytest.approx(40.0, rel=0.03)
    assert math.degrees(math.atan(m.slope)) == pytest.approx(3.0, abs=0.3)
    # The baseline passes through the origin of the synthetic line, which is (0, 0) after the offsets' shift.
    assert m.baseline_at(0.0) == pytest.approx(0.0, abs=0.05 * 40)
    assert m.tops >= 10
    assert m.top > 2 * 40 and m.bottom < -20


def test_median_is_numpys() -> None:
    """The write path's own median (NumPy's first loads numpy.ma) gives what np.median gives."""
    rng = np.random.default_rng(4)
    for values in ([3.0], [2.0, 1.0], [4, 1], [5.0, 1.0, 3.0], rng.normal(size=8).astype(np.float32), rng.normal(size=(3, 5))):
        assert median(values) == float(np.median(values))


def test_turning_points_skip_only_points_that_cannot_turn() -> None:
    """Visiting only where a stroke stops rising or falling finds the turns that walking every point finds:
    strokes with plateaus, single points and steps of one unit, where the hysteresis is most fragile."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        strokes = [np.cumsum(rng.integers(-2, 3, size=(rng.integers(1, 25), 2)), axis=0).astype(float)
                   for _ in range(rng.integers(1, 6))]
        points, ends = laid_end_to_end(strokes)
        delta = float(rng.choice([0.5, 1.0, 2.5]))
        found, owners = metrics._turning_points(points, ends, delta)
        y, expected = points[:, 1], []
        for owner, (start, end) in enumerate(zip([0, *ends[:-1]], ends)):
            every_point = list(range(start, end))
            turns = metrics._hysteresis(y.tolist(), (y - delta).tolist(), (y + delta).tolist(), every_point)
            expected += [(*points[i], kind, owner) for i, kind in turns]
        assert np.column_stack([found, owners]).tolist() == [list(map(float, row)) for row in expected]


def test_float32_ink_turns_where_numpys_float32_arithmetic_says() -> None:
    """2.85 in float32 is 2.8499999; 3 - 0.15 in float32 is 2.85 too, so the stroke has not come back from its
    maximum by more than 0.15 (in float64 it has). UNIPEN's scales are measured on float32 ink."""
    stroke = np.array([[0, 2], [1, 3], [2, 2.85]], np.float32)
    found, _ = metrics._turning_points(stroke, np.array([3]), 0.15)
    assert found.tolist() == [[0.0, 2.0, -1.0], [1.0, 3.0, 1.0]]
    assert metrics.measure_strokes([stroke[:0], stroke]) == metrics.measure_strokes([stroke])  # empty strokes: no ink


def test_line_metrics_of_a_dot_and_a_dash() -> None:
    dot = line_metrics(np.array([[0.0, 0.0, 1.0]], dtype=np.float32))
    dash = line_metrics(np.array([[0, 0, 0], [30, 0, 1]], dtype=np.float32))
    assert dot.tops == dash.tops == 0
    assert dot.x_height > 0 and dash.x_height > 0
