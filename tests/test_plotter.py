"""Pen-plotter output read back as a machine would: G-code, HPGL and plotter SVG draw the document's strokes.

(scribe.writing.plotter, scribe.writing.curves)
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helpers.plotters import distances_to_polyline, run_gcode, run_hpgl, sample_page, to_page
from scribe.errors import ScribeError
from scribe.writing.curves import flatten
from scribe.writing.document import Document
from scribe.writing.layout import Page, PageSetup, PlacedLine
from scribe.writing.plotter import PLOT_PROFILES, PlotSettings, plan_page, plot_settings

SETUP = PageSetup(size=(120.0, 80.0), margin=10.0)
ROUNDING = 0.001  # G-code has three decimals


def document(*pages: Page) -> Document:
    return Document(list(pages), SETUP, lines=[])


def reference_curves(page: Page) -> list[np.ndarray]:
    """Every stroke's smooth curve, finely flattened: what the screen shows."""
    return [flatten(stroke, 0.001)[0] for line in page.lines for stroke in line.strokes]


def assert_draws(paths: list[np.ndarray], page: Page, settings: PlotSettings, slack: float = ROUNDING) -> None:
    """Each stroke drawn once, in its own direction, every drawn point near its curve and every curve point near the drawing."""
    curves = reference_curves(page)
    assert len(paths) == len(curves)
    tolerance = settings.tolerance + settings.shortest_segment + slack
    unmatched = list(range(len(curves)))
    for path in paths:
        starts = [np.hypot(*(curves[i][0] - path[0])) + np.hypot(*(curves[i][-1] - path[-1])) for i in unmatched]
        curve = curves[unmatched.pop(int(np.argmin(starts)))]
        assert np.hypot(*(curve[0] - path[0])) <= slack * 2  # starts where the stroke starts: direction kept
        assert distances_to_polyline(path, curve).max() <= tolerance
        assert distances_to_polyline(curve, path).max() <= tolerance
        assert (path >= -slack).all() and (path[:, 0] <= page.width + slack).all() and (path[:, 1] <= page.height + slack).all()


PROFILE_CASES = [*PLOT_PROFILES.values(), replace(PLOT_PROFILES["grbl-servo"], origin="top-left", y_axis="down",
                                                   offset=(15.0, 30.0), travel_feed=8000.0)]


@pytest.mark.parametrize("settings", PROFILE_CASES, ids=lambda s: f"{s.name}-{s.origin}-{s.y_axis}")
def test_gcode_draws_every_stroke_within_tolerance_and_nothing_with_the_pen_up(settings: PlotSettings) -> None:
    page = sample_page()
    program = document(page).render("gcode", plot=settings)[0].decode()
    assert program.startswith("; written by scribe")
    drawn, travel = run_gcode(program, settings)
    assert_draws([to_page(path, page.height, settings) for path in drawn], page, settings)
    # Every pen-up move ends where the next stroke starts (or at home): nothing is drawn between strokes.
    starts = [tuple(np.round(path[0], 3)) for path in drawn]
    assert all(tuple(np.round(move[1], 3)) in starts for move in travel[:-1])
    assert np.allclose(travel[-1][1], settings.offset)  # back to the paper's corner at the end
    if settings.travel_feed:
        assert f"F{settings.travel_feed:g}" in program


def test_hpgl_draws_every_stroke_in_plotter_units() -> None:
    page, settings = sample_page(), PLOT_PROFILES["grbl-servo"]
    program = document(page).render("hpgl")[0].decode()
    assert program.startswith("IN;SP1;") and program.rstrip().endswith("PU;SP0;")
    paths = [to_page(path, page.height, settings) for path in run_hpgl(program)]
    assert_draws(paths, page, settings, slack=0.5 / 40 * 1.5)


def test_plotter_svg_is_single_line_strokes_in_millimetres_in_one_layer() -> None:
    page = sample_page()
    svg = document(page).render("plotter-svg")[0].decode()
    root = ET.fromstring(svg)
    assert root.get("width") == "120mm" and root.get("viewBox") == "0 0 120 80"
    assert "transform" not in svg and "<rect" not in svg
    (layer,) = root.findall("{http://www.w3.org/2000/svg}g")
    assert layer.get("{http://www.inkscape.org/namespaces/inkscape}groupmode") == "layer"
    assert layer.get("fill") == "none"
    paths = []
    for element in layer:
        d = element.get("d")
        assert re.fullmatch(r"M[-\d. ]+( L[-\d. ]+)*", d), d  # straight segments only
        paths.append(np.array([float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]).reshape(-1, 2))
    assert_draws(paths, page, PLOT_PROFILES["grbl-servo"])


def test_reordering_never_adds_travel_and_keeps_every_stroke_and_its_direction() -> None:
    rng = np.random.default_rng(3)
    for trial in range(20):
        strokes = [np.cumsum(rng.normal(0, 1.0, (rng.integers(1, 6), 2)), axis=0) + rng.uniform(5, 75, 2)
                   for _ in range(rng.integers(1, 40))]
        page = Page(80.0, 80.0, [PlacedLine(strokes)])
        plan = plan_page(page, PLOT_PROFILES["grbl-servo"])
        assert plan.travel <= plan.writing_order_travel + 1e-9
        kept = sorted(tuple(np.round(p[0], 6)) + tuple(np.round(p[-1], 6)) for p in plan.paths)
        written = sorted(tuple(np.round(s[0], 6)) + tuple(np.round(s[-1], 6)) for s in strokes)
        assert kept == written, trial


def test_reordering_cuts_the_travel_of_a_zigzag() -> None:
    left, right = (np.array([[x, y], [x + 2.0, y]]) for x, y in ((10.0, 10.0), (90.0, 10.0)))
    strokes = [left + [0, k] if k % 2 == 0 else right + [0, k] for k in range(10)]
    plan = plan_page(Page(100.0, 40.0, [PlacedLine(strokes)]), PLOT_PROFILES["grbl-servo"])
    assert plan.travel < 0.5 * plan.writing_order_travel
    unordered = plan_page(Page(100.0, 40.0, [PlacedLine(strokes)]), replace(PLOT_PROFILES["grbl-servo"], reorder=False))
    assert unordered.travel == unordered.writing_order_travel


def test_ink_off_the_paper_is_cut_away_and_short_segments_merged() -> None:
    t = np.linspace(0, 1, 400)
    crossing = np.column_stack([90 + 60 * t, 30 + 0.01 * np.sin(40 * t)])  # runs off the right edge
    page = Page(120.0, 80.0, [PlacedLine([crossing])])
    settings = PLOT_PROFILES["grbl-servo"]
    (path,) = plan_page(page, settings).paths
    assert path[:, 0].max() <= 120.0 and path[-1, 0] > 119.0
    segments = np.hypot(*np.diff(path, axis=0).T)
    assert segments.min() >= settings.shortest_segment


def test_pages_are_separate_programs_or_one_with_pauses() -> None:
    pages = (sample_page(), sample_page())
    assert len(document(*pages).render("gcode")) == 2
    (paused,) = document(*pages).render("gcode", plot=replace(PLOT_PROFILES["grbl-servo"], pages="pause"))
    assert paused.decode().count("\nM0 ") == 1
    assert len(document(*pages).render("hpgl")) == 2 and len(document(*pages).render("plotter-svg")) == 2


def test_a_toml_profile_starts_from_a_named_one_and_overrides_fields(tmp_path: Path) -> None:
    path = tmp_path / "axidraw.toml"
    path.write_text('profile = "z-axis"\norigin = "top-left"\ny_axis = "down"\noffset = [5, 7.5]\ndraw_feed = 1200\n')
    settings = plot_settings(path)
    assert settings.pen_up == PLOT_PROFILES["z-axis"].pen_up
    assert (settings.origin, settings.y_axis, settings.offset, settings.draw_feed) == ("top-left", "down", (5.0, 7.5), 1200.0)
    assert "F1200" in document(sample_page()).render("gcode", plot=path)[0].decode()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("pen_lift = 'M5'", "unknown plot setting 'pen_lift'"),
        ("profile = 'axidraw'", "profile 'axidraw' is unknown"),
        ("draw_feed = 'fast'", "draw_feed must be a number"),
        ("offset = [1]", "offset must be [x, y]"),
        ("origin = 'centre'", "origin = 'centre' is unknown"),
        ("tolerance = 0", "tolerance = 0 is out of range"),
        ("reorder = 1", "reorder must be bool"),
        ("pages = [", "is not valid TOML"),
    ],
)
def test_a_bad_profile_file_is_refused_in_one_line(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml + "\n")
    with pytest.raises(ScribeError, match=re.escape(message)) as caught:
        plot_settings(path)
    assert "\n" not in str(caught.value)


def test_unknown_profiles_and_files_are_refused() -> None:
    with pytest.raises(ScribeError, match="unknown plot profile 'axidraw'"):
        plot_settings("axidraw")
    with pytest.raises(ScribeError, match="cannot read the plot profile"):
        plot_settings("missing.toml")
