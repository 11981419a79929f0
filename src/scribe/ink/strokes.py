"""The stroke format, defined once, and the preprocessing that works on it.

**The format** (docs/data.md). A line of handwriting is a float32 array
``offsets`` of shape ``(T, 3)``, one row per pen sample in writing order:

- ``offsets[:, 0]`` ``dx`` and ``offsets[:, 1]`` ``dy``: the displacement from
  the previous point to this one, in the dataset's own units, **y pointing up**.
  Row 0 is ``(0, 0, pen_up)``: a line starts at the origin, and absolute
  positions are the cumulative sum (:func:`offsets_to_points`).
- ``offsets[:, 2]`` ``pen_up``: ``1.0`` on the **last** point of each stroke
  (the pen lifts after it), else ``0.0``. The offset into the first point of the
  next stroke is the pen moving in the air; the last point of a line always has
  ``pen_up = 1``.

Data on disk is not normalized: a model subtracts the mean of ``dx, dy`` and
divides by their std (statistics from ``meta.json``) when it reads them; the pen
column stays 0/1.

Raw IAM-OnDB data comes as absolute **points** ``(N, 3)`` ``[x, y, end_of_stroke]``
with y pointing **down** and ``end_of_stroke = 1`` on the last point of each
stroke. :func:`remove_outliers` and :func:`simplify` clean such points (the y
direction does not matter to them); :func:`points_to_offsets` then flips y, once,
and produces the format above.

Everything here is vectorized NumPy and never modifies its input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

# remove_outliers defaults, measured on IAM-OnDB (tablet units; the median in-stroke
# step of a line is 11 to 36 units, 20 typically). See remove_outliers for the rule.
SPIKE_FACTOR = 8.0  # a glitch jumps more than this many median steps ...
SPIKE_MIN_JUMP = 100.0  # ... and more than this many units,
SPIKE_RETURN = 0.5  # comes back to within this fraction of the jump,
SPIKE_SPEED_RATIO = 6.0  # and its neighbouring steps are this many times shorter.
ISOLATED_MAX_POINTS = 3  # a stray stroke has at most this many points
ISOLATED_DISTANCE = 3.0  # and lies this many line heights outside the line's bulk.


# --------------------------------------------------------------------------- conversions


def points_to_offsets(points: np.ndarray, y_down: bool = True) -> np.ndarray:
    """Absolute points ``[x, y, end_of_stroke]`` -> float32 offsets ``[dx, dy, pen_up]``, y up.

    This is the one place where a downward y axis (IAM-OnDB's tablet, screens, SVG)
    is flipped; points whose y already points up pass ``y_down=False``. Row 0 is
    ``(0, 0)``; the last point gets ``pen_up = 1`` (the pen necessarily lifts when the
    line ends). Differences are taken in float64 so int16 coordinates cannot overflow.
    """
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3), not {pts.shape}")
    xy = pts[:, :2].astype(np.float64)
    offsets = np.zeros((len(pts), 3), dtype=np.float32)
    if len(pts):
        offsets[1:, 0] = np.diff(xy[:, 0])
        offsets[1:, 1] = -np.diff(xy[:, 1]) if y_down else np.diff(xy[:, 1])
        offsets[:, 2] = pts[:, 2] != 0
        offsets[-1, 2] = 1.0
    return offsets


def strokes_to_offsets(strokes: Sequence[np.ndarray], y_down: bool = True) -> np.ndarray:
    """Strokes as absolute ``(n, 2)`` arrays (y down unless ``y_down=False``), in order -> offsets.

    The line starts at the first point of the first stroke; each stroke's last point
    lifts the pen. Empty strokes are skipped; at least one point is needed.
    """
    kept = [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in strokes if len(stroke)]
    if not kept:
        raise ValueError("strokes_to_offsets needs at least one point")
    points = np.concatenate([np.column_stack([stroke, np.zeros(len(stroke))]) for stroke in kept])
    points[np.cumsum([len(stroke) for stroke in kept]) - 1, 2] = 1
    return points_to_offsets(points, y_down)


def offsets_to_points(offsets: np.ndarray) -> np.ndarray:
    """Offsets -> absolute float64 ``(T, 3)`` points ``[x, y_up, pen_up]``, the first at the origin.

    The cumulative sum runs in float64: summing hundreds of float32 offsets would
    otherwise drift at the end of a long line. Renderers use this (or
    :func:`split_strokes`).
    """
    off = np.asarray(offsets)
    if off.ndim != 2 or off.shape[1] != 3:
        raise ValueError(f"offsets must have shape (T, 3), not {off.shape}")
    points = np.empty((len(off), 3), dtype=np.float64)
    points[:, :2] = np.cumsum(off[:, :2], axis=0, dtype=np.float64)
    points[:, 2] = off[:, 2]
    return points


def offsets_y_down_to_up(offsets: np.ndarray) -> np.ndarray:
    """Offsets ``[dx, dy, pen_up]`` recorded with y pointing down -> the format's y-up offsets (a copy).

    Sources that store offsets in screen coordinates (DeepWriting) are flipped
    here, once, by negating ``dy``. The flip is linear, so it also turns the
    mean of such offsets (a ``(3,)`` array) into the mean of the flipped ones;
    their std is unchanged. Any array whose last axis is ``[dx, dy, pen_up]``
    works, and its dtype is kept.
    """
    out = np.array(offsets, copy=True)
    if out.shape[-1:] != (3,):
        raise ValueError(f"offsets must end in an axis of 3 ([dx, dy, pen_up]), not shape {out.shape}")
    out[..., 1] = -out[..., 1]
    return out


def flip_y(xy: np.ndarray) -> np.ndarray:
    """Absolute ``[x, y]`` points (n, 2) between y-up (the format) and y-down (a page, SVG): y negated, a copy."""
    return np.asarray(xy, dtype=np.float64) * [1.0, -1.0]


def split_strokes(offsets: np.ndarray) -> list[np.ndarray]:
    """The strokes of a line as absolute float64 ``(n, 2)`` arrays of ``[x, y_up]``, in writing order.

    A stroke ends at a point with ``pen_up = 1``; points after the last pen lift
    (only in malformed data, e.g. a truncated generated sample) form a final stroke
    so that nothing is silently lost.
    """
    points = offsets_to_points(offsets)
    ends = np.flatnonzero(points[:-1, 2] > 0.5) + 1
    return [stroke[:, :2] for stroke in np.split(points, ends) if len(stroke)]


def laid_end_to_end(strokes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Strokes' points one after another in one array, and one past each stroke's last point (its ``ends``).

    Work over a whole line or page is then a few array operations, not a loop per stroke.
    """
    return np.concatenate(strokes), np.cumsum([len(stroke) for stroke in strokes])


def step_lengths(points: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The length of each step from a point to the next (``len(points) - 1`` of them) of strokes laid end to end
    (:func:`laid_end_to_end`); 0 from a stroke's last point to the next one's first, where the pen travels in the air."""
    steps = np.hypot(*np.diff(points, axis=0).T)
    steps[ends[:-1] - 1] = 0.0
    return steps


def _stroke_ids(end_flags: np.ndarray) -> np.ndarray:
    """Index of the stroke each point belongs to (a stroke ends at a non-zero flag)."""
    ends = np.asarray(end_flags) != 0
    ids = np.zeros(len(ends), dtype=np.int64)
    if len(ends) > 1:
        ids[1:] = np.cumsum(ends[:-1])
    return ids


def _keep_points(points: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``points[keep]`` with end-of-stroke flags recomputed from the original strokes.

    When the last point of a stroke is dropped the previous kept point becomes its
    end (so the stroke does not merge with the next one), and a stroke whose points
    are all dropped disappears.
    """
    ids = _stroke_ids(points[:, 2])[keep]
    out = points[keep].copy()
    if len(out):
        flags = np.ones(len(ids), dtype=bool)
        flags[:-1] = ids[1:] != ids[:-1]
        out[:, 2] = flags
    return out


# --------------------------------------------------------------------------- cleaning


def _duplicates(xy: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mask of points repeating the previous point of their stroke (zero-length steps)."""
    dup = np.zeros(len(xy), dtype=bool)
    if len(xy) > 1:
        dup[1:] = ~ends[:-1] & np.all(xy[1:] == xy[:-1], axis=1)
    return dup


def _spikes(
    xy: np.ndarray, ends: np.ndarray, factor: float, min_jump: float, return_ratio: float, speed_ratio: float
) -> np.ndarray:
    """Mask of single in-stroke samples that jump far away and straight back (see :func:`remove_outliers`)."""
    n = len(xy)
    spike = np.zeros(n, dtype=bool)
    if n < 3:
        return spike
    step = np.hypot(*np.diff(xy, axis=0).T)  # step[i]: point i -> i + 1
    in_stroke = ~ends[:-1]  # step i joins two points of one stroke
    moving = step[in_stroke & (step > 0)]
    if not len(moving):
        return spike
    jump = max(factor * float(np.median(moving)), min_jump)
    # Point i (1 <= i <= n - 2), its two steps, and whether both stay in its stroke.
    interior = in_stroke[:-1] & in_stroke[1:]
    shorter = np.minimum(step[:-1], step[1:])
    candidate = interior & (shorter > jump)
    if not candidate.any():
        return spike
    bypass = np.hypot(*(xy[2:] - xy[:-2]).T)  # point i - 1 -> i + 1, skipping i
    # The steps just before and after the excursion (0 where the stroke ends there).
    before = np.zeros(n - 2)
    before[1:] = np.where(in_stroke[:-2], step[:-2], 0.0)
    after = np.zeros(n - 2)
    after[:-1] = np.where(in_stroke[2:], step[2:], 0.0)
    sudden = np.maximum(before, after) * speed_ratio < shorter
    spike[1:-1] = candidate & (bypass < return_ratio * shorter) & sudden
    return spike


def _isolated_strokes(xy: np.ndarray, ids: np.ndarray, max_points: int, distance: float) -> np.ndarray:
    """Mask of the points of tiny strokes lying far outside the line's bulk."""
    flagged = np.zeros(len(xy), dtype=bool)
    if len(xy) < 4 * max_points:
        return flagged
    y_lo, y_hi = np.percentile(xy[:, 1], [5, 95])
    x_lo, x_hi = np.percentile(xy[:, 0], [1, 99])
    height = y_hi - y_lo
    if height <= 0:
        return flagged
    outside = np.max([x_lo - xy[:, 0], xy[:, 0] - x_hi, y_lo - xy[:, 1], xy[:, 1] - y_hi], axis=0)
    far = outside > distance * height
    if not far.any():
        return flagged
    sizes = np.bincount(ids)
    far_count = np.bincount(ids, weights=far)
    stray = (far_count == sizes) & (sizes <= max_points)
    if stray.all():  # never remove the whole line
        return flagged
    return stray[ids]


def remove_outliers(
    points: np.ndarray,
    *,
    factor: float = SPIKE_FACTOR,
    min_jump: float = SPIKE_MIN_JUMP,
    return_ratio: float = SPIKE_RETURN,
    speed_ratio: float = SPIKE_SPEED_RATIO,
    isolated_max_points: int = ISOLATED_MAX_POINTS,
    isolated_distance: float = ISOLATED_DISTANCE,
) -> tuple[np.ndarray, int]:
    """Remove sensor glitches from absolute points ``[x, y, end_of_stroke]``; returns ``(points, n_removed)``.

    IAM-OnDB's ultrasonic pen tracker sometimes reports one sample far away from
    the pen, and the next sample is back on the line: drawn, it is a thin needle
    sticking out of a letter. Fast handwriting makes long steps too (the downstroke
    of an ``M``, a lead-out flick, the tip of a ``W``), so the rule is narrow. A point
    is a **spike** when all of these hold:

    1. both of its steps stay inside one stroke (first and last points of a stroke,
       and pen-up moves between strokes, are never judged);
    2. both steps are longer than ``max(factor * median step, min_jump)``, the median
       taken over the line's non-zero in-stroke steps;
    3. the pen comes back: the previous and the next point are closer to each other
       than ``return_ratio`` times the shorter step;
    4. the speed jumps: the steps just before and just after the excursion are at
       least ``speed_ratio`` times shorter than it (a hand accelerates smoothly
       into a fast stroke, a glitch appears out of nowhere).

    A **stray stroke**, of at most ``isolated_max_points`` points lying entirely more
    than ``isolated_distance`` line heights outside the line's bulk (line height:
    5th to 95th percentile of y; bulk: x from its 1st to 99th percentile, y from
    its 5th to 95th), is removed too; a line is never emptied by this rule.

    Points repeating the previous point of their stroke (zero-length steps) are
    dropped, before and after the rules above, because they only teach a model that
    the pen stands still. Strokes left empty disappear and the end-of-stroke flag
    moves to the last kept point of each stroke. ``n_removed`` counts every dropped
    point. The input's dtype is kept.
    """
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3), not {pts.shape}")
    n_in = len(pts)
    if n_in == 0:
        return pts.copy(), 0
    ends = pts[:, 2] != 0
    ends[-1] = True
    xy = pts[:, :2].astype(np.float64)
    work = pts
    dup = _duplicates(xy, ends)
    if dup.any():
        work = _keep_points(pts, ~dup)
        xy, ends = xy[~dup], work[:, 2] != 0
        ends[-1] = True
    drop = _spikes(xy, ends, factor, min_jump, return_ratio, speed_ratio)
    drop |= _isolated_strokes(xy, _stroke_ids(ends), isolated_max_points, isolated_distance)
    if drop.any():
        work = _keep_points(work, ~drop)
        xy = xy[~drop]
        dup = _duplicates(xy, work[:, 2] != 0)
        if dup.any():
            work = _keep_points(work, ~dup)
    work = work.copy() if work is pts else work
    if len(work):
        work[-1, 2] = 1
    return work, n_in - len(work)


# --------------------------------------------------------------------------- simplification


#: Ramer-Douglas-Peucker tolerance for samples given as points, in the dataset's units.
#: Measured on IAM-OnDB's full line set after outlier removal (median points per
#: character): eps 0: 21.2, 1: 16.9, 2: 13.9, 3: 11.7, 3.5: 10.9, 4: 10.2, 5: 9.0,
#: 6: 8.2, 8: 7.1, 10: 6.4. At 3.5 the points are halved (1.97x fewer) and letters
#: drawn at full size look unchanged; from about 6 on, round letters turn visibly polygonal.
DEFAULT_SIMPLIFY_EPS: float = 3.5


def simplify(points: np.ndarray, eps: float) -> np.ndarray:
    """Ramer-Douglas-Peucker simplification of every stroke with tolerance ``eps`` (data units).

    Why: tablets sample densely along slow, straight parts of a stroke; a sequence
    model trains faster and attends better when a character spans fewer, more
    informative points. Each stroke keeps its first and last point (so pen lifts
    and ``end_of_stroke`` flags stay where they were) and every point needed to stay
    within ``eps`` of the original path. The distance is to the chord *segment*,
    not the infinite line, so closed loops (an ``o`` ending where it began) keep
    their shape.

    Instead of recursing, every open segment of every stroke is split in one
    vectorized pass per recursion level, which gives the classic algorithm's
    result (the first farthest point on ties) with a few NumPy calls per level.
    Works on absolute points ``[x, y, end_of_stroke]`` of either y direction and
    keeps their dtype; ``eps <= 0`` returns a copy.
    """
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3), not {pts.shape}")
    if eps is None or eps <= 0 or len(pts) < 3:
        return pts.copy()
    ends = pts[:, 2] != 0
    ends[-1] = True
    keep = _rdp_keep(pts[:, :2].astype(np.float64), ends, float(eps))
    out = pts[keep].copy()
    out[-1, 2] = 1
    return out


def simplify_offsets(offsets: np.ndarray, eps: float) -> np.ndarray:
    """Offsets (y up, row 0 the origin) thinned by :func:`simplify` at ``eps``, as offsets again."""
    return points_to_offsets(simplify(offsets_to_points(offsets), eps), y_down=False)


def _rdp_keep(xy: np.ndarray, ends: np.ndarray, eps: float) -> np.ndarray:
    """Mask of the points that RDP keeps; a stroke ends where ``ends`` is set."""
    keep = ends.copy()
    keep[0] = True
    keep[1:] |= ends[:-1]  # the first point of every stroke
    # Segments between consecutive kept points of one stroke, as (start, stop) indices.
    kept = np.flatnonzero(keep)
    seg_start, seg_stop = kept[:-1], kept[1:]
    inside = ~ends[seg_start]  # a segment starting at a stroke end is a pen-up move
    seg_start, seg_stop = seg_start[inside], seg_stop[inside]
    while True:
        inner = seg_stop - seg_start - 1
        has_inner = inner > 0
        seg_start, seg_stop, inner = seg_start[has_inner], seg_stop[has_inner], inner[has_inner]
        if not len(seg_start):
            return keep
        # Every inner point of every open segment, flattened, with its segment number.
        first = np.zeros(len(inner), dtype=np.int64)
        np.cumsum(inner[:-1], out=first[1:])
        seg = np.repeat(np.arange(len(inner)), inner)
        idx = np.arange(int(first[-1] + inner[-1])) - first[seg] + seg_start[seg] + 1
        a, b, p = xy[seg_start[seg]], xy[seg_stop[seg]], xy[idx]
        ab, ap = b - a, p - a
        length2 = np.einsum("ij,ij->i", ab, ab)
        t = np.divide(np.einsum("ij,ij->i", ap, ab), length2, out=np.zeros(len(idx)), where=length2 > 0)
        np.clip(t, 0.0, 1.0, out=t)
        dist = np.hypot(*(ap - t[:, None] * ab).T)
        seg_max = np.maximum.reduceat(dist, first)
        # The first point reaching its segment's maximum.
        at_max = np.flatnonzero(dist == seg_max[seg])
        first_at_max = np.ones(len(at_max), dtype=bool)
        first_at_max[1:] = seg[at_max[1:]] != seg[at_max[:-1]]
        farthest = idx[at_max[first_at_max]]
        split = seg_max > eps
        mid = farthest[split]
        keep[mid] = True
        seg_start = np.concatenate([seg_start[split], mid])
        seg_stop = np.concatenate([mid, seg_stop[split]])


# --------------------------------------------------------------------------- checks and statistics


def validate_offsets(offsets: np.ndarray, min_points: int = 2) -> str | None:
    """Why ``offsets`` is not a usable line in the stroke format, or None if it is.

    Splitting skips broken samples with a counted, reported reason instead of
    failing later in training (one NaN turns every loss into NaN).
    """
    off = np.asarray(offsets)
    if off.ndim != 2 or off.shape[1] != 3:
        return "not a (T, 3) array"
    if len(off) == 0:
        return "empty"
    if not np.issubdtype(off.dtype, np.number) or not np.all(np.isfinite(off)):
        return "non-finite values"
    if len(off) < min_points:
        return "too few points"
    if off[0, 0] != 0 or off[0, 1] != 0:
        return "first point is not at the origin"
    if not np.all((off[:, 2] == 0) | (off[:, 2] == 1)):
        return "pen_up is not 0 or 1"
    if off[-1, 2] != 1:
        return "last point is not a pen lift"
    if not np.any(off[:, :2]):
        return "no pen movement"
    return None


def offsets_stats(offsets_list: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation, float64 ``(3,)`` each, of ``[dx, dy, pen_up]`` over all points.

    Every point weighs the same whatever its line's length. Two passes (mean, then
    squared deviations) accumulated in float64, so millions of float32 points give
    the figures of one big float64 concatenation without cancellation.
    """
    arrays = [np.asarray(o, dtype=np.float64).reshape(-1, 3) for o in offsets_list]
    count = sum(len(a) for a in arrays)
    if count == 0:
        raise ValueError("offsets_stats needs at least one point")
    mean = np.sum([a.sum(axis=0) for a in arrays], axis=0) / count
    var = np.sum([np.square(a - mean).sum(axis=0) for a in arrays], axis=0) / count
    return mean, np.sqrt(var)


# --------------------------------------------------------------------------- normalization


def normalize(offsets: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Scale ``dx, dy`` to zero mean and unit variance; the pen column is left as 0/1."""
    out = offsets.astype(np.float32, copy=True)
    out[:, :2] = (out[:, :2] - mean[:2]) / std[:2]
    return out


def denormalize(offsets: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalize`: back to the dataset's units."""
    out = offsets.astype(np.float32, copy=True)
    out[:, :2] = out[:, :2] * std[:2] + mean[:2]
    return out
