"""The smooth curve drawn through a stroke's points, as Beziers and as line segments.

Every output draws a stroke the same way: a Catmull-Rom spline through its points,
written as one cubic Bezier per pair of neighbouring points (:func:`bezier_controls`).
SVG, PNG and PDF keep the Beziers; pen plotters and the animations need straight
segments, so :func:`flatten` cuts each Bezier into chords that stay within a stated
distance of it. One module keeps both, so a plotted letter is the letter on screen.
"""

from __future__ import annotations

import numpy as np

from scribe.ink.strokes import step_lengths

#: Default distance (mm) a chord may stray from the smooth curve when it is flattened.
FLATTEN_TOLERANCE = 0.05


def bezier_controls(points: np.ndarray, ends: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The two inner control points of the Bezier between each pair of neighbouring points.

    Tangents are central differences divided by chord length (not the uniform
    parameter), so a short step next to a long one cannot overshoot into a loop:
    each handle is at most a third of its segment. Returns ``(c1, c2)``, each of
    shape ``(len(points) - 1, 2)``. ``points`` may hold many strokes one after
    another, each ending one before its entry of ``ends`` (default: one stroke); the
    rows between two strokes are then no curve, and each stroke's are what it alone gives.
    """
    if not len(points):
        return points[:0], points[:0]
    ends = np.array([len(points)]) if ends is None else ends
    seg = step_lengths(points, ends)  # from one stroke's last point to the next one's first: no chord
    first, last = np.concatenate([[0], ends[:-1]]), ends - 1
    before, after = np.concatenate([points[:1], points[:-1]]), np.concatenate([points[1:], points[-1:]])
    before[first], after[last] = points[first], points[last]  # a stroke's ends are their own neighbours
    chord = np.concatenate([[0.0], seg, [0.0]])
    span = chord[:-1] + chord[1:]
    tangent = (after - before) / np.where(span > 0, span, 1.0)[:, None]
    handle = seg[:, None] / 3
    return points[:-1] + tangent[:-1] * handle, points[1:] - tangent[1:] * handle


def flatten(points: np.ndarray, tolerance: float = FLATTEN_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """The smoothed stroke as a polyline within ``tolerance`` of its Beziers.

    Each Bezier is cut into ``n`` equal parameter steps, with ``n`` from the
    classic bound on a cubic's deviation from its chords: at most
    ``max|B''| / (8 n^2)``, and ``max|B''| <= 6 max(|p0 - 2 c1 + c2|, |c1 - 2 c2 + p3|)``.
    Returns the polyline's points and, for every input point, its index in the
    polyline (the original points are kept exactly, so timing can follow them).
    A single-point stroke stays one point.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return points.copy(), np.zeros(len(points), dtype=np.int64)
    c1, c2 = bezier_controls(points)
    p0, p3 = points[:-1], points[1:]
    bend = np.maximum(np.hypot(*(p0 - 2 * c1 + c2).T), np.hypot(*(c1 - 2 * c2 + p3).T))
    steps = np.maximum(1, np.ceil(np.sqrt(0.75 * bend / tolerance))).astype(np.int64)
    pieces = [points[:1]]
    for a, b, c, d, n in zip(p0, c1, c2, p3, steps):
        t = (np.arange(1, n + 1) / n)[:, None]
        s = 1 - t
        pieces.append(s**3 * a + 3 * s**2 * t * b + 3 * s * t**2 * c + t**3 * d)
    index = np.concatenate([[0], np.cumsum(steps)])
    return np.concatenate(pieces), index


def drop_short_segments(polyline: np.ndarray, shortest: float) -> np.ndarray:
    """``polyline`` without the points closer than ``shortest`` to the previous kept one.

    A machine cannot execute a segment below its resolution (and its planner slows
    to a crawl on many of them). The first and last points always stay, so a stroke
    starts and ends where it did; the drawn path moves by less than ``shortest``.
    """
    if len(polyline) < 3 or shortest <= 0:
        return polyline
    kept = [polyline[0]]
    for point in polyline[1:-1]:
        if np.hypot(*(point - kept[-1])) >= shortest:
            kept.append(point)
    if len(kept) > 1 and np.hypot(*(polyline[-1] - kept[-1])) < shortest:
        kept.pop()  # the end point replaces a kept point too close to it
    kept.append(polyline[-1])
    return np.array(kept)


def polyline_length(polyline: np.ndarray) -> float:
    """Total length of a polyline."""
    return float(np.hypot(*np.diff(polyline, axis=0).T).sum()) if len(polyline) > 1 else 0.0


def svg_number(value: float) -> str:
    """An SVG coordinate with at most two decimals and no trailing zeros (``12.5``, ``3``, never ``-0``)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def svg_path(points: np.ndarray) -> str:
    """SVG path data of one stroke: its Catmull-Rom spline (:mod:`scribe.writing.curves`) as cubic Beziers."""
    start = f"M{svg_number(points[0, 0])} {svg_number(points[0, 1])}"
    if len(points) == 1 or not np.diff(points, axis=0).any():
        return start + "l0 0"
    c1, c2 = bezier_controls(points)
    curves = " ".join(
        f"{svg_number(a)} {svg_number(b)} {svg_number(c)} {svg_number(d)} {svg_number(e)} {svg_number(f)}"
        for a, b, c, d, e, f in np.column_stack([c1, c2, points[1:]])
    )
    return f"{start}C{curves}"
