"""The stroke format and its preprocessing (scribe.ink.strokes)."""

from __future__ import annotations

import numpy as np
import pytest

from scribe.ink.strokes import (
    laid_end_to_end,
    offsets_stats,
    offsets_to_points,
    points_to_offsets,
    remove_outliers,
    simplify,
    split_strokes,
    step_lengths,
    strokes_to_offsets,
    validate_offsets,
)


def stroke(xs, ys) -> np.ndarray:
    """Absolute y-down points of one stroke, end_of_stroke on the last point."""
    points = np.column_stack([xs, ys, np.zeros(len(xs))]).astype(np.int64)
    points[-1, 2] = 1
    return points


def handwriting_like(rng: np.random.Generator, n_strokes: int = 6, n: int = 40) -> np.ndarray:
    """A line of wiggly strokes with steps of about 20 units and pen-up gaps of 150."""
    strokes, x = [], 1000.0
    for _ in range(n_strokes):
        t = np.arange(n)
        xs = x + 8 * t + rng.normal(0, 1, n)
        ys = 3000 + 60 * np.sin(t / 3) + rng.normal(0, 1, n)
        strokes.append(stroke(np.round(xs), np.round(ys)))
        x = xs[-1] + 150
    return np.concatenate(strokes)


def test_points_offsets_round_trip_flips_y_once() -> None:
    points = np.concatenate([stroke([10, 12, 15], [100, 90, 95]), stroke([40, 41], [100, 130])]).astype(np.int16)
    offsets = points_to_offsets(points)
    assert offsets.dtype == np.float32 and offsets.shape == (5, 3)
    np.testing.assert_array_equal(offsets[0], [0, 0, 0])
    np.testing.assert_array_equal(offsets[1], [2, 10, 0])  # y down 100 -> 90 is 10 units up
    np.testing.assert_array_equal(offsets[:, 2], [0, 0, 1, 0, 1])
    back = offsets_to_points(offsets)
    np.testing.assert_array_equal(back[:, 0], points[:, 0] - 10)
    np.testing.assert_array_equal(back[:, 1], -(points[:, 1].astype(float) - 100))
    np.testing.assert_array_equal(back[:, 2], points[:, 2])


def test_pen_up_marks_last_point_of_each_stroke_and_of_the_line() -> None:
    points = np.array([[0, 0, 0], [5, 0, 1], [20, 0, 0], [25, 0, 0]])  # last stroke lacks its flag
    offsets = points_to_offsets(points)
    np.testing.assert_array_equal(offsets[:, 2], [0, 1, 0, 1])
    # The pen-up move into the next stroke is an ordinary offset row.
    np.testing.assert_array_equal(offsets[2, :2], [15, 0])
    strokes = split_strokes(offsets)
    assert [len(s) for s in strokes] == [2, 2]
    np.testing.assert_array_equal(strokes[1], [[20, 0], [25, 0]])


def test_split_strokes_keeps_points_after_the_last_pen_lift() -> None:
    offsets = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=np.float32)
    strokes = split_strokes(offsets)
    assert [len(s) for s in strokes] == [2, 2]
    np.testing.assert_array_equal(strokes[1][-1], [3, 1])


def test_long_lines_do_not_drift() -> None:
    offsets = np.zeros((20000, 3), dtype=np.float32)
    offsets[1:, 0] = 0.1
    offsets[-1, 2] = 1
    assert offsets_to_points(offsets)[-1, 0] == pytest.approx(1999.9, abs=1e-3)


def test_spike_inside_a_stroke_is_removed_but_pen_up_jump_kept() -> None:
    rng = np.random.default_rng(0)
    line = handwriting_like(rng)
    spiked = line.copy()
    spiked[50, :2] += [0, 900]  # one sample 900 units below its neighbours, mid-stroke
    cleaned, removed = remove_outliers(spiked)
    assert removed == 1
    assert len(cleaned) == len(line) - 1
    np.testing.assert_array_equal(np.delete(line, 50, axis=0), cleaned)
    # The 150-unit pen-up gaps (7 median steps) and the strokes' ends stay.
    assert cleaned[:, 2].sum() == line[:, 2].sum()
    assert remove_outliers(line)[1] == 0


def test_fast_genuine_stroke_is_kept() -> None:
    # A long downstroke and back, accelerating smoothly: not a glitch.
    xs = [0, 10, 20, 30, 40, 60, 100, 160, 200, 210, 220, 230, 240]
    ys = [0, 5, 10, 10, 40, 160, 400, 160, 40, 10, 10, 5, 0]
    line = np.concatenate([stroke(xs, ys), stroke(np.arange(300, 700, 20), np.full(20, 10))])
    cleaned, removed = remove_outliers(line)
    assert removed == 0
    np.testing.assert_array_equal(cleaned, line)


def test_stray_point_far_from_the_line_is_removed() -> None:
    rng = np.random.default_rng(1)
    line = handwriting_like(rng)
    stray = np.array([[1500, 9000, 1]])  # a lone touch far below the line
    with_stray = np.concatenate([line[:80], stray, line[80:]])
    cleaned, removed = remove_outliers(with_stray)
    assert removed == 1
    np.testing.assert_array_equal(cleaned, line)


def test_duplicates_dropped_and_flags_follow() -> None:
    points = np.array([[0, 0, 0], [0, 0, 0], [5, 5, 0], [5, 5, 1], [30, 0, 0], [30, 0, 1], [40, 0, 1]])
    cleaned, removed = remove_outliers(points)
    # [30, 0] then [30, 0] with a flag: the duplicate goes, the kept copy ends the stroke.
    np.testing.assert_array_equal(cleaned, [[0, 0, 0], [5, 5, 1], [30, 0, 1], [40, 0, 1]])
    assert removed == 3
    assert cleaned.dtype == points.dtype
    assert remove_outliers(np.zeros((0, 3)))[1] == 0


def test_rdp_straight_line_keeps_two_points_per_stroke() -> None:
    line = np.concatenate([stroke(np.arange(0, 100, 2), np.arange(0, 100, 2)), stroke([200, 210, 220], [0, 0, 0])])
    simple = simplify(line, 1.0)
    np.testing.assert_array_equal(simple, [[0, 0, 0], [98, 98, 1], [200, 0, 0], [220, 0, 1]])


def test_rdp_keeps_endpoints_flags_and_shape() -> None:
    rng = np.random.default_rng(2)
    line = handwriting_like(rng)
    for eps in (0.5, 2.0, 5.0):
        simple = simplify(line, eps)
        assert len(simple) < len(line)
        # Every stroke keeps its first and last point, and its flag.
        starts = np.r_[0, np.flatnonzero(line[:-1, 2]) + 1]
        ends = np.flatnonzero(line[:, 2])
        kept = {tuple(p) for p in simple.tolist()}
        assert all(tuple(line[i]) in kept for i in np.r_[starts, ends])
        assert simple[:, 2].sum() == line[:, 2].sum()
        # Every dropped point lies within eps of the simplified polyline of its stroke.
        for original, reduced in zip(_strokes(line), _strokes(simple)):
            assert _max_distance(original, reduced) <= eps + 1e-9
    np.testing.assert_array_equal(simplify(line, 0), line)


def test_rdp_keeps_a_closed_loop() -> None:
    t = np.linspace(0, 2 * np.pi, 60)
    loop = stroke(np.round(100 * np.cos(t)), np.round(100 * np.sin(t)))  # ends where it starts
    simple = simplify(loop, 2.0)
    assert 8 < len(simple) < 60
    assert _max_distance(loop[:, :2].astype(float), simple[:, :2].astype(float)) <= 2.0


def test_rdp_matches_a_recursive_reference() -> None:
    rng = np.random.default_rng(3)
    line = np.concatenate(
        [stroke(np.cumsum(rng.integers(1, 9, 80)), np.cumsum(rng.integers(-9, 9, 80))) for _ in range(3)]
    )
    for eps in (1.0, 4.0, 10.0):
        expected = np.concatenate(
            [s[_rdp_reference(s[:, :2].astype(float), eps)] for s in np.split(line, np.flatnonzero(line[:-1, 2]) + 1)]
        )
        np.testing.assert_array_equal(simplify(line, eps), expected)


def test_validate_offsets_reasons() -> None:
    good = np.array([[0, 0, 0], [1, 2, 0], [3, 1, 1]], dtype=np.float32)
    assert validate_offsets(good) is None
    assert validate_offsets(np.zeros((0, 3))) == "empty"
    assert validate_offsets(np.zeros((4, 2))) == "not a (T, 3) array"
    bad = good.copy()
    bad[1, 0] = np.nan
    assert validate_offsets(bad) == "non-finite values"
    assert validate_offsets(good[:1]) == "too few points"
    bad = good.copy()
    bad[-1, 2] = 0
    assert validate_offsets(bad) == "last point is not a pen lift"
    bad = good.copy()
    bad[0, 0] = 5
    assert validate_offsets(bad) == "first point is not at the origin"
    bad = good.copy()
    bad[1, 2] = 0.5
    assert validate_offsets(bad) == "pen_up is not 0 or 1"
    assert validate_offsets(np.array([[0, 0, 0], [0, 0, 1]])) == "no pen movement"


def test_offsets_stats_over_all_points() -> None:
    rng = np.random.default_rng(4)
    lines = [rng.normal(3, 2, (n, 3)).astype(np.float32) for n in (5, 50, 500)]
    mean, std = offsets_stats(lines)
    stacked = np.concatenate(lines).astype(np.float64)
    np.testing.assert_allclose(mean, stacked.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, stacked.std(axis=0), rtol=1e-12)
    assert mean.shape == std.shape == (3,) and mean.dtype == np.float64
    with pytest.raises(ValueError):
        offsets_stats([])


# --------------------------------------------------------------------------- helpers


def _strokes(points: np.ndarray) -> list[np.ndarray]:
    return [s[:, :2].astype(float) for s in np.split(points, np.flatnonzero(points[:-1, 2]) + 1)]


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = 0.0 if not ab.any() else float(np.clip((p - a) @ ab / (ab @ ab), 0, 1))
    return float(np.hypot(*(p - a - t * ab)))


def _max_distance(original: np.ndarray, reduced: np.ndarray) -> float:
    """Largest distance of an original point to the reduced polyline."""
    if len(reduced) == 1:
        return float(np.hypot(*(original - reduced[0]).T).max())
    return max(min(_segment_distance(p, reduced[i], reduced[i + 1]) for i in range(len(reduced) - 1)) for p in original)


def _rdp_reference(xy: np.ndarray, eps: float) -> np.ndarray:
    """Textbook recursive RDP (distance to the segment), as a keep mask."""
    keep = np.zeros(len(xy), dtype=bool)
    keep[0] = keep[-1] = True

    def recurse(i: int, j: int) -> None:
        if j - i < 2:
            return
        dist = [_segment_distance(xy[k], xy[i], xy[j]) for k in range(i + 1, j)]
        k = int(np.argmax(dist)) + i + 1
        if dist[k - i - 1] > eps:
            keep[k] = True
            recurse(i, k)
            recurse(k, j)

    recurse(0, len(xy) - 1)
    return keep


def test_strokes_from_a_screen_and_from_the_format_meet_in_one_line() -> None:
    """y-down strokes (SVG, JSON, tablets) are flipped once; y-up strokes round-trip through split_strokes."""
    screen = [np.array([[10.0, 50.0], [12.0, 40.0]]), np.array([[20.0, 45.0]])]
    offsets = strokes_to_offsets(screen)
    np.testing.assert_array_equal(offsets, [[0, 0, 0], [2, 10, 1], [8, -5, 1]])
    assert validate_offsets(offsets) is None
    again = strokes_to_offsets(split_strokes(offsets), y_down=False)
    np.testing.assert_array_equal(again, offsets)
    with pytest.raises(ValueError):
        strokes_to_offsets([np.empty((0, 2))])


def test_strokes_laid_end_to_end_step_only_within_a_stroke() -> None:
    strokes = [np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[9.0, 9.0]]), np.array([[1.0, 1.0], [1.0, 2.0]])]
    points, ends = laid_end_to_end(strokes)
    assert ends.tolist() == [2, 3, 5] and points.shape == (5, 2)
    assert step_lengths(points, ends).tolist() == [5.0, 0.0, 0.0, 1.0]  # no step from one stroke into the next
