"""Pen plotters: G-code, HPGL and plotter-ready SVG of placed pages, and the one table of machine profiles.

A plotter draws lines, not curves, and pays for every move with the pen up. So every
stroke's smooth curve (:mod:`scribe.writing.curves`) is flattened to chords within
``tolerance`` mm, segments shorter than the machine executes are merged, ink off
the paper is cut away, and the strokes of a page are put in the order that cuts
pen-up travel (greedy nearest start, kept only when it beats the writing order;
each stroke keeps its direction, since the pen's direction shows in the ink).

Machines differ in how they lift the pen and where their origin is: a
:class:`PlotSettings` says it, :data:`PLOT_PROFILES` names the common ones, and a
TOML file can start from one and override any field (:func:`plot_settings`).
Written here rather than with vpype: a few hundred lines against a dependency
that needs Python 3.11 and pulls in shapely and scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from scribe.errors import ScribeError
from scribe.safeio import read_toml
from scribe.writing.curves import FLATTEN_TOLERANCE, drop_short_segments, flatten
from scribe.writing.layout import Page

MAX_PROFILE_BYTES = 16_384
HPGL_UNITS_PER_MM = 40  # one plotter unit is 0.025 mm
#: How scribe marks the files it writes (in a comment), so that it only ever removes its own stale pages.
WRITTEN_BY = "written by scribe"
PLOTTER_SVG_STROKE = 0.3  # mm: a preview of a fine pen; the machine's own pen sets the real width


@dataclass(frozen=True)
class PlotSettings:
    """How one machine plots: pen commands, speeds, where the paper lies, how pages are separated.

    Coordinates are millimetres. The paper's ``origin`` corner (``bottom-left`` or
    ``top-left``) sits at ``offset`` in machine coordinates, and the machine's y axis
    points ``up`` (away from you, as on most GRBL and HP plotters) or ``down``
    (AxiDraw). Pen commands may hold several G-code lines separated by newlines.
    """

    name: str = "grbl-servo"
    pen_up: str = "M5"
    pen_down: str = "M3 S1000"
    dwell: float = 0.15  # seconds to wait after the pen moves
    dwell_command: str = "G4 P"  # followed by the dwell in dwell_unit
    dwell_unit: str = "s"  # "s" (GRBL: G4 P is seconds) or "ms" (Marlin: G4 P is milliseconds)
    draw_feed: float = 3000.0  # mm/min with the pen down
    travel_feed: float = 0.0  # mm/min with the pen up; 0 means rapid moves (G0)
    origin: str = "bottom-left"
    y_axis: str = "up"
    offset: tuple[float, float] = (0.0, 0.0)
    pages: str = "files"  # "files": one file per page; "pause": one file, M0 between pages
    start: str = "G21\nG90"  # millimetres, absolute coordinates
    end: str = "M2"
    tolerance: float = FLATTEN_TOLERANCE  # mm a chord may stray from the curve
    shortest_segment: float = 0.05  # mm; shorter segments are merged
    reorder: bool = True  # order strokes to cut pen-up travel

    def validate(self) -> None:
        """Refuse settings a machine cannot use (they come from a user's TOML file)."""
        choices = {"dwell_unit": ("s", "ms"), "origin": ("bottom-left", "top-left"), "y_axis": ("up", "down"),
                   "pages": ("files", "pause")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ScribeError(f"plot setting {key} = {getattr(self, key)!r} is unknown; use {' or '.join(allowed)}")
        bounds = {"dwell": (0.0, 10.0), "draw_feed": (1.0, 1e6), "travel_feed": (0.0, 1e6), "tolerance": (0.001, 1.0),
                  "shortest_segment": (0.0, 1.0)}
        for key, (low, high) in bounds.items():
            value = getattr(self, key)
            if not math.isfinite(value) or not low <= value <= high:
                raise ScribeError(f"plot setting {key} = {value:g} is out of range; use {low:g} to {high:g}")
        if not all(math.isfinite(v) and abs(v) <= 10_000 for v in self.offset):
            raise ScribeError(f"plot setting offset = {list(self.offset)} must be two finite numbers of mm")


PLOT_PROFILES: dict[str, PlotSettings] = {
    profile.name: profile
    for profile in (
        PlotSettings(),  # GRBL with a servo pen lift on the spindle output
        PlotSettings(name="marlin-servo", pen_up="M400\nM280 P0 S90", pen_down="M400\nM280 P0 S30",
                     dwell_unit="ms", end="M84"),  # M400: Marlin moves the servo at once unless told to wait
        PlotSettings(name="z-axis", pen_up="G0 Z3", pen_down="G1 Z0 F600", dwell=0.0),
    )
}
DEFAULT_PLOT_PROFILE = "grbl-servo"


def plot_settings(value: str | Path | PlotSettings | None) -> PlotSettings:
    """Settings from a profile name, a TOML file (``profile = "NAME"`` plus any field), or as given."""
    if value is None:
        return PLOT_PROFILES[DEFAULT_PLOT_PROFILE]
    if isinstance(value, PlotSettings):
        value.validate()
        return value
    if isinstance(value, str) and value in PLOT_PROFILES:
        return PLOT_PROFILES[value]
    path = Path(value)
    if path.suffix.lower() != ".toml":
        raise ScribeError(f"unknown plot profile {str(value)!r}; use {', '.join(PLOT_PROFILES)} or a .toml file")
    return _settings_from_toml(path, read_toml(path, "the plot profile", MAX_PROFILE_BYTES))


def _settings_from_toml(path: Path, values: dict[str, Any]) -> PlotSettings:
    base_name = values.pop("profile", DEFAULT_PLOT_PROFILE)
    if base_name not in PLOT_PROFILES:
        raise ScribeError(f"{path}: profile {base_name!r} is unknown; use {', '.join(PLOT_PROFILES)}")
    kinds = {f.name: type(getattr(PLOT_PROFILES[base_name], f.name)) for f in fields(PlotSettings) if f.name != "name"}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in kinds:
            raise ScribeError(f"{path}: unknown plot setting {key!r}; use profile, {', '.join(kinds)}")
        changes[key] = _typed(path, key, value, kinds[key])
    settings = replace(PLOT_PROFILES[base_name], name=f"{base_name} with {path.name}", **changes)
    settings.validate()
    return settings


def _typed(path: Path, key: str, value: Any, kind: type) -> Any:
    """One TOML value as the setting's type, or a one-line error naming the key."""
    if kind is tuple:
        if isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value):
            return (float(value[0]), float(value[1]))
        raise ScribeError(f"{path}: {key} must be [x, y] in mm, like [10, 20]")
    if kind is float and _is_number(value):
        return float(value)
    if kind is not float and isinstance(value, kind):
        return value
    raise ScribeError(f"{path}: {key} must be {'a number' if kind is float else kind.__name__}, not {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- the plan


@dataclass
class PagePlot:
    """One page as a plotter draws it: pen-down polylines in plotting order (page mm, y down)."""

    width: float
    height: float
    paths: list[np.ndarray]
    travel: float  # pen-up travel in mm, from the origin corner through every path and back
    writing_order_travel: float  # the same in the order the strokes were written


def plan_page(page: Page, settings: PlotSettings) -> PagePlot:
    """Flatten, clip and order one page's strokes for ``settings``' machine."""
    paths = []
    for line in page.lines:
        for stroke in line.strokes:
            polyline = drop_short_segments(flatten(stroke, settings.tolerance)[0], settings.shortest_segment)
            paths.extend(_inside(polyline, page.width, page.height))
    home = np.array([0.0, page.height if settings.origin == "bottom-left" else 0.0])
    written = _travel(paths, home)
    if settings.reorder and paths:
        ordered = [paths[i] for i in _nearest_first(paths, home)]
        if (travel := _travel(ordered, home)) < written:
            return PagePlot(page.width, page.height, ordered, travel, written)
    return PagePlot(page.width, page.height, paths, written, written)


def _inside(polyline: np.ndarray, width: float, height: float) -> list[np.ndarray]:
    """The runs of ``polyline`` on the paper (a plotter must never draw on its bed)."""
    on_paper = (polyline[:, 0] >= 0) & (polyline[:, 0] <= width) & (polyline[:, 1] >= 0) & (polyline[:, 1] <= height)
    if on_paper.all():
        return [polyline]
    runs = np.split(np.arange(len(polyline)), np.flatnonzero(np.diff(on_paper.astype(np.int8))) + 1)
    return [polyline[run] for run in runs if on_paper[run[0]]]


def _nearest_first(paths: Sequence[np.ndarray], home: np.ndarray) -> list[int]:
    """A greedy tour: from where the pen is, the path whose start is nearest next."""
    starts = np.array([p[0] for p in paths])
    left = np.ones(len(paths), dtype=bool)
    position, order = home, []
    for _ in range(len(paths)):
        distance = np.where(left, np.hypot(*(starts - position).T), np.inf)
        chosen = int(np.argmin(distance))
        order.append(chosen)
        left[chosen] = False
        position = paths[chosen][-1]
    return order


def _travel(paths: Sequence[np.ndarray], home: np.ndarray) -> float:
    """Pen-up distance: home to the first path, the end of each path to the next start, the last end home."""
    if not paths:
        return 0.0
    froms = np.array([home] + [path[-1] for path in paths])
    tos = np.array([path[0] for path in paths] + [home])
    return float(np.hypot(*(tos - froms).T).sum())


def machine_xy(points: np.ndarray, height: float, settings: PlotSettings) -> np.ndarray:
    """Page millimetres (y down from the top edge) -> the machine's coordinates."""
    from_edge = height - points[:, 1] if settings.origin == "bottom-left" else points[:, 1]
    toward = 1.0 if (settings.origin == "bottom-left") == (settings.y_axis == "up") else -1.0
    x, y = settings.offset
    return np.column_stack([x + points[:, 0], y + toward * from_edge])


# --------------------------------------------------------------------------- G-code and HPGL


def _mm(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _summary(plots: Sequence[PagePlot], first: int) -> list[str]:
    return [
        f"page {first + n + 1}: {len(p.paths)} strokes, pen-up travel {p.travel:.0f} mm "
        f"({p.writing_order_travel:.0f} mm in writing order)"
        for n, p in enumerate(plots)
    ]


def gcode(plots: Sequence[PagePlot], settings: PlotSettings) -> list[bytes]:
    """G-code of the pages: one program per page, or one with an ``M0`` pause between pages."""
    groups = [list(plots)] if settings.pages == "pause" else [[p] for p in plots]
    files, first = [], 0
    for group in groups:
        lines = [f"; {WRITTEN_BY}, plot profile {settings.name}"]
        lines += [f"; {text}" for text in _summary(group, first)]
        lines += settings.start.splitlines() + _pen(settings.pen_up, settings)
        for number, plot in enumerate(group):
            if number:
                lines += [f"M0 ; page {first + number} is done: put in the next sheet and resume"]
            lines += _gcode_page(plot, settings)
        x, y = settings.offset
        lines += [f"G0 X{_mm(x)} Y{_mm(y)}"] + settings.end.splitlines()
        files.append(("\n".join(lines) + "\n").encode("ascii"))
        first += len(group)
    return files


def _pen(command: str, settings: PlotSettings) -> list[str]:
    lines = command.splitlines()
    if settings.dwell > 0:
        amount = settings.dwell * (1000 if settings.dwell_unit == "ms" else 1)
        lines.append(f"{settings.dwell_command}{amount:g}")
    return lines


def _gcode_page(plot: PagePlot, settings: PlotSettings) -> list[str]:
    travel = "G0" if settings.travel_feed == 0 else "G1"
    travel_feed = "" if settings.travel_feed == 0 else f" F{settings.travel_feed:g}"
    lines: list[str] = []
    for path in plot.paths:
        xy = machine_xy(path, plot.height, settings)
        lines.append(f"{travel} X{_mm(xy[0, 0])} Y{_mm(xy[0, 1])}{travel_feed}")
        lines += _pen(settings.pen_down, settings)
        draws = [f"G1 X{_mm(x)} Y{_mm(y)}" for x, y in xy[1:]] or [f"G1 X{_mm(xy[0, 0])} Y{_mm(xy[0, 1])}"]
        draws[0] += f" F{settings.draw_feed:g}"
        lines += draws
        lines += _pen(settings.pen_up, settings)
    return lines


def hpgl(plots: Sequence[PagePlot], settings: PlotSettings) -> list[bytes]:
    """HPGL (``IN``, ``SP``, ``PU``, ``PD``), one file per page, in plotter units of 0.025 mm."""
    files = []
    for plot in plots:
        commands = ["IN", "SP1"]
        for path in plot.paths:
            units = np.rint(machine_xy(path, plot.height, settings) * HPGL_UNITS_PER_MM).astype(np.int64)
            commands.append(f"PU{units[0, 0]},{units[0, 1]}")
            drawn = units[1:] if len(units) > 1 else units
            commands.append("PD" + ",".join(f"{x},{y}" for x, y in drawn))
        commands += ["PU", "SP0"]
        files.append((";".join(commands) + ";\n").encode("ascii"))  # no comment: HP-GL before HP-GL/2 has none
    return files


# --------------------------------------------------------------------------- plotter SVG


def plotter_svg(plots: Sequence[PagePlot], ink: str) -> list[bytes]:
    """Plotter-ready SVG, one file per page: polylines in mm, no fill, no transforms, one Inkscape layer.

    AxiDraw's software plots such a file as it is: every path is a single-line
    stroke, in plotting order, inside a layer named ``1 ink``.
    """
    return [_plotter_page(plot, number, ink).encode() for number, plot in enumerate(plots)]


def _plotter_page(plot: PagePlot, number: int, ink: str) -> str:
    w, h = _mm(plot.width), _mm(plot.height)
    paths = [
        "<path d=\"M" + " L".join(f"{_mm(x)} {_mm(y)}" for x, y in (p if len(p) > 1 else np.vstack([p, p]))) + '"/>'
        for p in plot.paths
    ]
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f"<!-- {WRITTEN_BY} -->",
            f"<!-- {_summary([plot], number)[0]} -->",
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
            f'width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}">',
            f'<g inkscape:groupmode="layer" inkscape:label="1 ink" id="layer1" fill="none" stroke="{ink}" '
            f'stroke-width="{PLOTTER_SVG_STROKE}" stroke-linecap="round" stroke-linejoin="round">',
            *paths,
            "</g>",
            "</svg>\n",
        ]
    )
