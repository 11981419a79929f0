"""Where a line of ink sits and how big its letters are: baseline, slope and x-height, measured robustly.

Generated and real lines differ in size, tilt and position; the page layout
(:mod:`scribe.writing.layout`) scales every line to one x-height and sets it on its
baseline, and style samples are rescaled to the training data's size. Works on
offsets in the stroke format (:mod:`scribe.ink.strokes`: dataset units, y up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scribe.ink.strokes import laid_end_to_end, split_strokes, step_lengths

#: Typical horizontal advance of one character (spaces included) divided by the
#: x-height that :func:`line_metrics` estimates, for wrapping text before it is
#: written. Measured on real handwriting: for each of the 100 lines of
#: iam_ondb_lines_sample100.npz (IAM-OnDB, about 20 writers), ink width / number
#: of characters of its text / x-height, median 1.749 (quartiles 1.52 and 2.12).
#: 1,000 random lines of the full IAM-OnDB give a median of 1.56 (quartiles 1.29
#: and 1.91): writers differ a lot, and the larger figure wraps a little early
#: rather than making :func:`layout` shrink over-long lines.
ADVANCE_PER_X_HEIGHT: float = 1.75

@dataclass(frozen=True)
class LineMetrics:
    """Where a line of ink sits and how big its letters are, in dataset units with y up.

    ``baseline`` is the height of the baseline at ``x = 0`` and ``slope`` its
    dy/dx, so the baseline at ``x`` is :meth:`baseline_at`. ``x_height`` is the
    height of lowercase letters like 'a', 'n', 'o' above it, and ``tops`` the
    number of letter tops it rests on (0 when it is a fallback: with only a few,
    it is a guess). ``left``, ``right``, ``bottom``, ``top`` bound all the ink.
    """

    baseline: float
    slope: float
    x_height: float
    tops: int
    left: float
    right: float
    bottom: float
    top: float

    def baseline_at(self, x: float) -> float:
        """Height of the baseline at ``x``."""
        return self.baseline + self.slope * x


def line_metrics(offsets: np.ndarray) -> LineMetrics:
    """Robust baseline, x-height and extent of one line of ink (dataset units, y up).

    Why not the ink's bounding box: ascenders, descenders, capitals and stray
    marks make it vary from line to line by a factor of two for the same writer.
    Handwriting has steadier levels instead: most letters turn at the bottom on
    the baseline and lowercase letters turn at the top on the x-height line. So:

    1. the turning points of every stroke (local minima and maxima of height,
       ignoring wiggles smaller than a fraction of the letter size) are found,
       and the median rise or fall between consecutive ones, the typical length
       of a down-stroke, sets the scale of everything below (it starts from the
       interquartile range of the ink's height and is refined once);
    2. a first slope is the rotation that makes the ink's horizontal projection
       sharpest (lowest entropy): rows of letter bottoms and tops do that (on
       ink wider than a few letters; a word or two starts level);
    3. the baseline is the most common level of the minima (descenders and
       mid-letter turns are outliers), refitted as a straight line through the
       minima near it, twice;
    4. the x-height is the median height above the baseline of the maxima
       between half and 1.6 times the scale, which leaves out ascenders,
       capitals and small bumps.

    A line without turning points (a dot, a dash) falls back to its ink's spread.
    """
    return measure_strokes(split_strokes(offsets))


# line_metrics' tuning, in units of the line's scale (the median down-stroke length).
_TURN_DELTA = 0.15  # a turning point needs the stroke to come back by this much
_MODE_BANDWIDTH = 0.2  # kernel width when looking for the most common baseline level
_BASELINE_BAND = 0.4  # minima this close to the baseline refit it
_X_HEIGHT_WINDOW = (0.5, 1.6)  # maxima this high above the baseline are lowercase tops
_PROFILE_BIN = 0.1  # bin height of the projection profile
_MIN_TILT_WIDTH = 10.0  # narrower ink (a word or two) is too short to show a tilt in its projection
_SLOPE_SEARCH_DEGREES = 15.0
_SLOPE_STEP_DEGREES = 0.5
_MAX_PROFILE_BINS = 100_000  # a real line is a few hundred bins high; a stray point far away is not a line


def median(values: np.ndarray | list[float]) -> float:
    """The median of ``values`` (not empty), as :func:`numpy.median` gives it.

    Written here because NumPy's first median loads ``numpy.ma``: 10-15 ms of a
    one-line note, whose whole run should take half a second.
    """
    ordered = np.sort(np.asarray(values), axis=None)
    middle = len(ordered) // 2
    return float(ordered[middle] if len(ordered) % 2 else np.mean(ordered[middle - 1 : middle + 1]))  # in their dtype


def measure_strokes(strokes: list[np.ndarray]) -> LineMetrics:
    """:func:`line_metrics` of a line already split into strokes (absolute ``[x, y_up]`` arrays)."""
    points, ends = laid_end_to_end([stroke for stroke in strokes if len(stroke)])
    (left, bottom), (right, top) = points.min(axis=0), points.max(axis=0)
    extent = {"left": float(left), "right": float(right), "bottom": float(bottom), "top": float(top)}
    weights = _ink_lengths(points, ends)
    q1, q3 = _weighted_quantiles(points[:, 1], weights, [0.25, 0.75])
    scale = q3 - q1
    turn_points = np.empty((0, 3))
    for _ in range(2):
        if scale <= 0:
            break
        turn_points, turn_strokes = _turning_points(points, ends, _TURN_DELTA * scale)
        rises = np.abs(np.diff(turn_points[:, 1]))[turn_strokes[1:] == turn_strokes[:-1]]  # within a stroke
        scale = median(rises) if len(rises) else scale
    if scale <= 0 or not len(turn_points):  # flat ink or no letters: no levels to find
        size = max(float(top - bottom), float(right - left) / 4, 1e-6)
        base = float(_weighted_quantiles(points[:, 1], weights, [0.1])[0])
        return LineMetrics(baseline=base, slope=0.0, x_height=size, tops=0, **extent)
    slope = _dominant_slope(points, weights, scale) if right - left > _MIN_TILT_WIDTH * scale else 0.0
    minima = turn_points[turn_points[:, 2] < 0, :2]
    maxima = turn_points[turn_points[:, 2] > 0, :2]
    base = _mode(minima[:, 1] - slope * minima[:, 0], _MODE_BANDWIDTH * scale) if len(minima) else float(bottom)
    for _ in range(2):
        near = np.abs(minima[:, 1] - slope * minima[:, 0] - base) < _BASELINE_BAND * scale
        if near.sum() >= 3 and np.ptp(minima[near, 0]) > 2 * scale:
            slope, base = (float(v) for v in np.polyfit(minima[near, 0], minima[near, 1], 1))
    heights = maxima[:, 1] - slope * maxima[:, 0] - base
    low, high = _X_HEIGHT_WINDOW
    tops = heights[(heights > low * scale) & (heights < high * scale)]
    x_height = median(tops) if len(tops) else scale
    return LineMetrics(baseline=base, slope=slope, x_height=x_height, tops=len(tops), **extent)


def _ink_lengths(points: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Length of ink each point stands for (half of each neighbouring segment of its stroke): density follows ink,
    not pen speed. ``ends`` are one past each stroke's last point; the pen's travel between strokes is no ink."""
    seg = step_lengths(points, ends)
    lengths = np.zeros(len(points))
    lengths[:-1] += seg / 2
    lengths[1:] += seg / 2
    return lengths


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of ``values``, each counting ``weights`` times (plain quantiles when there is no ink length)."""
    if weights.sum() <= 0:
        return np.quantile(values, qs)
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return np.interp(np.asarray(qs) * cum[-1], cum, values[order])


def _dominant_slope(points: np.ndarray, weights: np.ndarray, scale: float) -> float:
    """The baseline slope whose horizontal projection of the ink has the lowest entropy."""
    angles = np.radians(np.arange(-_SLOPE_SEARCH_DEGREES, _SLOPE_SEARCH_DEGREES + 1e-9, _SLOPE_STEP_DEGREES))
    tilted = points[None, :, 1] - np.tan(angles)[:, None] * points[None, :, 0]
    bins = np.floor((tilted - tilted.min(axis=1, keepdims=True)) / (_PROFILE_BIN * scale)).astype(np.int64)
    n_bins = int(bins.max()) + 1
    if n_bins > _MAX_PROFILE_BINS:  # ink far wider than its letters are tall: no line to find a tilt in
        return 0.0
    rows = np.arange(len(angles))[:, None] * n_bins
    hist = np.bincount((bins + rows).ravel(), np.broadcast_to(weights, bins.shape).ravel(), len(angles) * n_bins)
    p = hist.reshape(len(angles), n_bins) / max(float(weights.sum()), 1e-12)
    entropy = -np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=1)
    return float(np.tan(angles[np.argmin(entropy)]))


def _turning_points(points: np.ndarray, ends: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """The strokes' turning points in order as ``(k, 3)`` rows ``[x, y, +1 max / -1 min]``, and each one's stroke.

    ``ends`` are one past each stroke's last point. A turning point counts once the
    stroke has come back from it by more than ``delta`` (hysteresis), so sensor
    jitter is not a letter. A stroke's first and last points count when the stroke
    leaves or reaches them that way: strokes often start or end on the baseline.
    Only the points where a stroke stops rising or falling can be one, and the
    hysteresis comes to the same turns when it skips the others, so it visits those
    alone, in a Python loop: a fifth of IAM-OnDB's points, two fifths of sampled ink's.
    The thresholds ``y -/+ delta`` are computed by NumPy first, in the type it gives
    (float32 for float32 ink and a Python float), so the loop on Python floats
    decides as NumPy's own comparisons would. The strokes must not be empty.
    """
    y = points[:, 1]
    rise = np.sign(np.diff(y))
    visit = np.ones(len(y), dtype=bool)
    visit[1:-1] = rise[:-1] != rise[1:]  # where the stroke turns or starts or ends a level run
    starts = np.concatenate([[0], ends[:-1]])
    visit[starts] = visit[ends - 1] = True
    visited = np.flatnonzero(visit)
    bounds = [*np.searchsorted(visited, starts).tolist(), len(visited)]  # each stroke's run of visited points
    index: list[int] = []
    kinds: list[int] = []
    owners: list[int] = []
    heights, below, above, visited_list = y.tolist(), (y - delta).tolist(), (y + delta).tolist(), visited.tolist()
    for owner in range(len(starts)):
        found = _hysteresis(heights, below, above, visited_list[bounds[owner] : bounds[owner + 1]])
        index += [i for i, _ in found]
        kinds += [kind for _, kind in found]
        owners += [owner] * len(found)
    return np.column_stack([points[index], kinds]), np.array(owners, dtype=np.int64)


def _hysteresis(y: list[float], below: list[float], above: list[float], visited: list[int]) -> list[tuple[int, int]]:
    """The turns ``(index, +1 max / -1 min)`` of one stroke, walking the points ``visited`` (indices into ``y``);
    a stroke comes back from point ``j`` once it is under ``below[j]`` or over ``above[j]``."""
    turns: list[tuple[int, int]] = []
    lo = hi = visited[0]
    looking = 0  # +1: for a maximum, -1: for a minimum, 0: not known yet
    for i in visited[1:]:
        if y[i] > y[hi]:
            hi = i
        if y[i] < y[lo]:
            lo = i
        if looking >= 0 and y[i] < below[hi]:
            turns.append((hi, 1))
            lo, looking = i, -1
        elif looking <= 0 and y[i] > above[lo]:
            turns.append((lo, -1))
            hi, looking = i, 1
    if looking:
        turns.append((hi, 1) if looking > 0 else (lo, -1))
    return turns


def _mode(values: np.ndarray, bandwidth: float) -> float:
    """The most common value: the peak of a Gaussian kernel density estimate."""
    grid = np.linspace(values.min(), values.max(), 200)
    density = np.exp(-0.5 * ((grid[:, None] - values[None, :]) / bandwidth) ** 2).sum(axis=1)
    return float(grid[np.argmax(density)])
