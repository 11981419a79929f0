"""Small interpreters of G-code and HPGL that record what the pen draws, and hand-made pages to plot.

They read the files as a machine would, so the tests compare what would be drawn
with the document's strokes rather than the writer's own numbers.
"""

from __future__ import annotations

import re

import numpy as np

from scribe.writing.layout import Page, PlacedLine
from scribe.writing.plotter import HPGL_UNITS_PER_MM, PlotSettings

_WORD = re.compile(r"([GXYZFMSP])(-?\d+(?:\.\d*)?)")


def sample_page(width: float = 120.0, height: float = 80.0) -> Page:
    """Two lines of wavy strokes, a dot, a round loop of few points and a stroke written right to left, on the page."""
    t = np.linspace(0.0, 1.0, 14)
    strokes_one = [np.column_stack([10 + 6 * k + 5 * t, 20 - 3 * np.sin(np.pi * t * (1 + k % 3))]) for k in range(6)]
    strokes_one.append(np.array([[52.0, 14.0]]))  # the dot of an i
    angles = np.linspace(0.0, 2 * np.pi, 7)
    strokes_one.append(np.column_stack([62 + 3 * np.cos(angles), 18 + 3 * np.sin(angles)]))  # an o of sparse points
    backwards = np.column_stack([100 - 40 * t, 45 + np.cos(3 * t)])  # a bar drawn leftwards
    strokes_two = [np.column_stack([15 + 8 * k + 6 * t, 40 - 2.5 * np.sin(2 * np.pi * t)]) for k in range(5)]
    return Page(width, height, [PlacedLine(strokes_one), PlacedLine([*strokes_two, backwards])])


def run_gcode(text: str, settings: PlotSettings) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(pen-down paths, pen-up moves) in machine coordinates, by executing the program line by line."""
    down_lines = set(settings.pen_down.splitlines()) - set(settings.pen_up.splitlines())
    up_lines = set(settings.pen_up.splitlines()) - set(settings.pen_down.splitlines())
    position, pen_down = np.zeros(2), False
    drawn: list[list[np.ndarray]] = []
    travel: list[np.ndarray] = []
    for raw in text.splitlines():
        line = raw.split(";")[0].strip()
        if line in down_lines:
            pen_down = True
            drawn.append([position.copy()])
            continue
        if line in up_lines:
            pen_down = False
            continue
        words = dict(_WORD.findall(line))
        if words.get("G") in ("0", "1") and ("X" in words or "Y" in words):
            target = np.array([float(words.get("X", position[0])), float(words.get("Y", position[1]))])
            assert not (pen_down and words["G"] == "0"), f"a rapid move with the pen down: {raw}"
            (drawn[-1].append(target) if pen_down else travel.append(np.array([position, target])))
            position = target
    return [np.array(path) for path in drawn], travel


def run_hpgl(text: str) -> list[np.ndarray]:
    """Pen-down paths in millimetres (machine coordinates) of an HPGL program."""
    paths, position = [], np.zeros(2)
    for command in filter(None, (c.strip() for c in text.split(";"))):
        op, numbers = command[:2], [float(v) for v in command[2:].split(",") if v]
        if op not in ("PU", "PD"):
            continue
        points = np.array(numbers).reshape(-1, 2) / HPGL_UNITS_PER_MM if numbers else np.empty((0, 2))
        if op == "PU" and len(points):
            position = points[-1]
        elif op == "PD":
            paths.append(np.vstack([position, points]))
            position = paths[-1][-1]
    return paths


def distances_to_polyline(points: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    """Each point's distance to the nearest segment of ``polyline`` (or to its point, for one point)."""
    if len(polyline) == 1:
        return np.hypot(*(points - polyline[0]).T)
    a, b = polyline[:-1], polyline[1:]
    ab = b - a
    t = np.clip(((points[:, None, :] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    nearest = a + t[..., None] * ab
    return np.hypot(*(points[:, None, :] - nearest).transpose(2, 0, 1)).min(axis=1)


def to_page(points: np.ndarray, height: float, settings: PlotSettings) -> np.ndarray:
    """Machine coordinates back to page millimetres (y down from the top edge), written out case by case."""
    x, y = points[:, 0] - settings.offset[0], points[:, 1] - settings.offset[1]
    if settings.origin == "bottom-left":
        from_bottom = y if settings.y_axis == "up" else -y
        return np.column_stack([x, height - from_bottom])
    from_top = y if settings.y_axis == "down" else -y
    return np.column_stack([x, from_top])
