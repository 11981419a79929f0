"""Line metrics, page layout and vector output, on synthetic ink whose baseline and x-height are known.

(scribe.ink.metrics, scribe.writing.layout, scribe.writing.formats)
"""

from __future__ import annotations

import io
import math
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pypdf
import pytest

from helpers.basics import SHARED_DATA, needs_shared_data
from helpers.render import png_pixels, svg_to_png
from helpers.synthetic import written
from scribe.errors import ScribeError
from scribe.ink.metrics import ADVANCE_PER_X_HEIGHT, line_metrics
from scribe.ink.strokes import laid_end_to_end, points_to_offsets
from scribe.writing.colours import SVG_COLOURS
from scribe.writing.curves import bezier_controls
from scribe.writing.formats import page_png, page_svg, pages_pdf
from scribe.writing.layout import (
    LINE_SCALE_SPREAD,
    MAX_TILT_DEGREES,
    MIN_LINE_CLEARANCE,
    PAGE_SIZES,
    X_HEIGHT_PER_SPACING,
    Page,
    PageSetup,
    PlacedLine,
    estimated_line_width,
    fit_to_ink,
    layout,
    layout_page,
    line_clearance,
    parse_page_size,
    sized_by_its_letters,
)

SVG_NS = "{http://www.w3.org/2000/svg}"
SMALL = PageSetup(size=(100.0, 60.0), margin=10.0, line_spacing=10.0)  # 4 line slots, 80 mm of text width


def ink(line: PlacedLine) -> np.ndarray:
    """All points of a placed line, (n, 2) mm, y down."""
    return np.concatenate(line.strokes)


# --------------------------------------------------------------------------- page setup


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("a4", (210.0, 297.0)),
        ("Letter", (215.9, 279.4)),
        (" LEGAL ", (215.9, 355.6)),
        ("a5", (148.0, 210.0)),
        ("120x80", (120.0, 80.0)),
        ("120.5x80", (120.5, 80.0)),
        ("90 X 60.25", (90.0, 60.25)),
    ],
)
def test_parse_page_size(value: str, size: tuple[float, float]) -> None:
    assert parse_page_size(value) == size


@pytest.mark.parametrize("value", ["b5", "", "120x", "x80", "120x80x3", "-120x80", "0x80", "120x0", "axb", "120,80"])
def test_parse_page_size_rejects_nonsense(value: str) -> None:
    with pytest.raises(ScribeError, match="120x80") as error:
        parse_page_size(value)
    assert "\n" not in str(error.value)


def test_default_setup() -> None:
    setup = PageSetup()
    setup.validate()
    assert setup.size == PAGE_SIZES["a4"]
    assert setup.text_width == 170
    assert setup.lines_per_page == 25
    assert setup.x_height_mm == pytest.approx(2.2)
    assert [setup.baseline_y(0), setup.baseline_y(24)] == [30, 270]
    assert SMALL.lines_per_page == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"margin": 105.0}, "margins"),
        ({"margin": -1.0}, "negative"),
        ({"line_spacing": 0.0}, "spacing"),
        ({"line_spacing": 300.0}, "margins"),
        ({"x_height": 0.0}, "x-height"),
        ({"x_height": 12.0}, "x-height"),
        ({"align": "right"}, "left"),
        ({"pen_width": 0.0}, "pen width"),
        ({"ink": "bleu"}, "colour"),
        ({"ink": 'red" onload="x'}, "colour"),
        ({"background": "#12"}, "colour"),
        ({"size": (0.0, 297.0)}, "page size"),
        ({"margin": float("nan")}, "finite"),
    ],
)
def test_page_setup_rejects_nonsense(change: dict[str, object], message: str) -> None:
    setup = PageSetup(**change)
    with pytest.raises(ScribeError, match=message):
        setup.validate()
    with pytest.raises(ScribeError):
        layout([], setup)


def test_page_setup_accepts_colours() -> None:
    for colour in ("navy", "#000", "#1B2A6B", "rgb(10, 20, 30)", "LightGoldenrodYellow"):
        PageSetup(ink=colour, background=colour).validate()


def test_colour_names_are_svgs_and_cairo_draws_each() -> None:
    """The names are checked without cairo; each must be one cairosvg draws, and ink must show."""
    from cairosvg.colors import COLORS

    assert len(SVG_COLOURS) == 147 and SVG_COLOURS.keys() <= set(COLORS)
    for unseen in ("none", "transparent", "activeborder", "windowtext"):  # invisible ink, or the desktop theme's
        with pytest.raises(ScribeError, match="colour"):
            PageSetup(ink=unseen).validate()
    probe = ("import sys\nfrom scribe.writing.layout import PageSetup\nPageSetup(ink='navy').validate()\n"
             "print(sorted(name for name in sys.modules if name.startswith('cairo')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr  # writing an SVG never loads cairo


def test_estimated_line_width_follows_the_x_height() -> None:
    assert estimated_line_width(10, PageSetup(x_height=4.0)) == pytest.approx(10 * ADVANCE_PER_X_HEIGHT * 4.0)
    assert estimated_line_width(10, PageSetup()) == pytest.approx(10 * ADVANCE_PER_X_HEIGHT * X_HEIGHT_PER_SPACING * 10.0)


# --------------------------------------------------------------------------- layout


def test_layout_puts_baselines_on_slots_and_scales_to_the_x_height() -> None:
    setup = PageSetup(x_height=4.0)
    lines = [written("nnnn nnn", x_height=40.0), written("nnn nnnnn nn", x_height=44.0)]
    (page,) = layout(lines, setup)
    assert (page.width, page.height) == PAGE_SIZES["a4"]
    for slot, line in enumerate(page.lines):
        points = ink(line)
        assert points[:, 1].max() == pytest.approx(setup.baseline_y(slot), abs=0.01)
        assert points[:, 1].min() == pytest.approx(setup.baseline_y(slot) - 4.0, abs=0.05)
        assert points[:, 0].min() == pytest.approx(setup.margin)
    assert all(s.dtype == np.float64 and s.shape[1] == 2 for line in page.lines for s in line.strokes)


def test_layout_default_x_height_is_a_share_of_the_spacing() -> None:
    (page,) = layout([written("nnn nnn")], PageSetup(line_spacing=12.0))
    assert np.ptp(ink(page.lines[0])[:, 1]) == pytest.approx(X_HEIGHT_PER_SPACING * 12.0, abs=0.05)


def test_layout_overflows_onto_new_pages() -> None:
    pages = layout([written("nn nn")] * 9, SMALL)
    assert [len(p.lines) for p in pages] == [4, 4, 1]
    assert ink(pages[2].lines[0])[:, 1].max() == pytest.approx(SMALL.baseline_y(0), abs=0.01)


def test_blank_lines_take_a_slot_but_never_start_a_page() -> None:
    line = written("nn nn")
    pages = layout([None, line, None, line, None, None, line, np.zeros((0, 3), np.float32), line], SMALL)
    assert [len(p.lines) for p in pages] == [2, 2]
    bottoms = [[ink(placed)[:, 1].max() for placed in page.lines] for page in pages]
    assert bottoms[0] == pytest.approx([SMALL.baseline_y(1), SMALL.baseline_y(3)], abs=0.01)
    assert bottoms[1] == pytest.approx([SMALL.baseline_y(0), SMALL.baseline_y(2)], abs=0.01)


def test_blank_lines_only_give_one_empty_page() -> None:
    assert [len(p.lines) for p in layout([], SMALL)] == [0]
    assert [len(p.lines) for p in layout([None] * 9, SMALL)] == [0]


def test_centred_lines() -> None:
    setup = PageSetup(align="center")
    (page,) = layout([written("nnn n"), written("nnnnnnn nnnnnnn")], setup)
    for line in page.lines:
        xs = ink(line)[:, 0]
        assert (xs.min() + xs.max()) / 2 == pytest.approx(setup.size[0] / 2)
        assert xs.min() > setup.margin + 1


def test_over_wide_line_is_scaled_down_to_run_at_most_half_into_the_right_margin() -> None:
    setup = PageSetup(x_height=5.0)
    (page,) = layout([written(" ".join(["nnnnnnnn"] * 12)), written("nnnn")], setup)
    wide, normal = (ink(line) for line in page.lines)
    assert wide[:, 0].min() == pytest.approx(setup.margin)
    assert wide[:, 0].max() == pytest.approx(setup.size[0] - setup.margin / 2)
    assert np.ptp(wide[:, 1]) < 0.5 * np.ptp(normal[:, 1])
    assert wide[:, 1].max() == pytest.approx(setup.baseline_y(0), abs=0.01)


@pytest.mark.parametrize(
    ("tilt", "kept"), [(1.0, 1.0), (-1.5, -1.5), (9.0, MAX_TILT_DEGREES), (-12.0, -MAX_TILT_DEGREES)]
)
def test_gross_tilt_is_removed_but_natural_drift_kept(tilt: float, kept: float) -> None:
    setup = PageSetup()
    (page,) = layout([written("nnnnnn nnnnnn nnnnnnn nnnnnn", tilt_degrees=tilt)], setup)
    # Every word starts and ends on the baseline.
    on_baseline = np.array([stroke[i] for stroke in page.lines[0].strokes for i in (0, -1)])
    baseline = np.polyfit(on_baseline[:, 0], on_baseline[:, 1], 1)
    assert -math.degrees(math.atan(baseline[0])) == pytest.approx(kept, abs=0.05)
    xs = ink(page.lines[0])[:, 0]
    assert np.polyval(baseline, (xs.min() + xs.max()) / 2) == pytest.approx(setup.baseline_y(0), abs=0.2)


def test_a_line_measured_far_off_the_page_size_stays_near_the_others() -> None:
    setup = PageSetup()
    sizes = [40.0, 40.0, 40.0, 200.0]
    (page,) = layout([written("nnnnn nnnnn", x_height=size) for size in sizes], setup)
    heights = [np.ptp(ink(line)[:, 1]) for line in page.lines]
    median_scale = setup.x_height_mm / 40.0
    assert heights[:3] == pytest.approx([setup.x_height_mm] * 3, abs=0.05)
    assert heights[3] == pytest.approx(200.0 * median_scale * (1 - LINE_SCALE_SPREAD), abs=0.05)


def test_line_with_too_few_letters_takes_the_scale_of_the_others() -> None:
    setup = PageSetup()
    (page,) = layout([written("nnnnn nnnnn", x_height=40.0), written("n", x_height=80.0)], setup)
    heights = [np.ptp(ink(line)[:, 1]) for line in page.lines]
    assert heights == pytest.approx([setup.x_height_mm, 2 * setup.x_height_mm], abs=0.05)


def test_a_line_of_digits_and_capitals_takes_the_scale_of_the_others() -> None:
    """Its tops are the digits': measured by them it would come out smaller than its neighbours."""
    setup = PageSetup()
    lines = [written("nnnnn nnnnn", x_height=40.0), written("nnnnn nnnnn", x_height=60.0)]
    texts = ["see you soon", "Total: $45.20 (15% off)"]
    for given, second in [(None, 40.0 / 60.0), (texts, 1.0)]:
        page = layout_page([(line, slot) for slot, line in enumerate(lines)], setup, [], given)
        heights = [np.ptp(ink(line)[:, 1]) for line in page.lines]
        assert heights == pytest.approx([setup.x_height_mm, setup.x_height_mm * 60.0 / 40.0 * second], abs=0.05)
    assert sized_by_its_letters("Call me on 0207 946 0321 before 14") and not sized_by_its_letters("Total: $45.20 (15% off)")
    assert not sized_by_its_letters("OK.") and sized_by_its_letters("the garden was quiet")
    assert sized_by_its_letters("With love,") and sized_by_its_letters("Anna")  # few letters, fewer capitals
    assert not sized_by_its_letters("March 2026.")  # few letters, more digits


def test_line_clearance_is_the_gap_from_the_lowest_ink_above_to_the_highest_below() -> None:
    upper = PlacedLine([np.array([[5.0, 10.0], [5.0, 14.0]]), np.array([[8.0, 12.0], [9.0, 12.0]])])
    # at x = 5 the slope below is 4 mm under the stroke above; within one column it climbs at most 0.5 mm
    assert 3.5 <= line_clearance(upper, PlacedLine([np.array([[4.0, 20.0], [6.0, 16.0]])])) <= 4.0
    assert line_clearance(upper, PlacedLine([np.array([[8.5, 11.0], [8.5, 19.0]])])) == pytest.approx(-1.0)
    assert line_clearance(upper, PlacedLine([np.array([[30.0, 11.0], [31.0, 11.0]])])) == math.inf


def test_descenders_meeting_the_next_lines_ascenders_are_shortened_until_they_clear() -> None:
    setup = PageSetup(x_height=4.0)  # 'g' dips 4 mm, 'l' rises 8.8 mm: 2.8 mm across each other at 10 mm spacing
    deep, tall = written("nnngnnngnnng"), written("nnnlnnnlnnnl")
    upper, lower = layout([deep, tall], setup)[0].lines
    alone_upper, alone_lower = layout([deep], setup)[0].lines[0], layout([None, tall], setup)[0].lines[0]
    assert line_clearance(alone_upper, alone_lower) < 0
    assert line_clearance(upper, lower) >= MIN_LINE_CLEARANCE * setup.x_height_mm
    assert line_clearance(upper, lower) < 2 * MIN_LINE_CLEARANCE * setup.x_height_mm  # shortened no more than needed
    baseline, top = setup.baseline_y(0), setup.baseline_y(1) - setup.x_height_mm
    for moved, kept, body in [(upper, alone_upper, lambda y: y <= baseline), (lower, alone_lower, lambda y: y >= top)]:
        assert [len(s) for s in moved.strokes] == [len(s) for s in kept.strokes]
        before, after = ink(kept), ink(moved)
        assert np.array_equal(before[:, 0], after[:, 0])
        assert np.array_equal(before[body(before[:, 1]), 1], after[body(before[:, 1]), 1])  # letter bodies as written
        assert np.abs(after[:, 1] - before[:, 1]).max() > 1.0


def test_a_line_a_little_wider_than_the_text_runs_into_the_margin_at_full_size() -> None:
    setup = PageSetup(x_height=5.0)
    letters = round(setup.text_width * 1.04 / (0.7 * setup.x_height_mm))  # 4% wider than the text width
    (page,) = layout([written("n" * letters)], setup)
    xs = ink(page.lines[0])[:, 0]
    assert setup.text_width < np.ptp(xs) <= setup.widest_line
    assert np.ptp(ink(page.lines[0])[:, 1]) == pytest.approx(setup.x_height_mm, abs=0.05)
    assert setup.wrap_width < setup.text_width  # text is wrapped with room to spare


# --------------------------------------------------------------------------- SVG, PNG, PDF


def sample_page(setup: PageSetup) -> Page:
    """One page of two written lines with dots."""
    (page,) = layout([written("nlnn. gnn"), written("nn. nnnn")], setup)
    return page


def test_page_svg_is_well_formed_with_one_path_per_line_and_a_subpath_per_stroke() -> None:
    setup = PageSetup()
    page = sample_page(setup)
    svg = page_svg(page, setup)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("210mm", "297mm", "0 0 210 297")
    assert root.find(f"{SVG_NS}rect").get("fill") == "white"
    (ink_group,) = root.findall(f"{SVG_NS}g")
    assert ink_group.get("stroke") == setup.ink and ink_group.get("stroke-width") == "0.5"
    assert ink_group.get("fill") == "none" and ink_group.get("stroke-linecap") == "round"
    paths = [p.get("d") for p in ink_group.findall(f"{SVG_NS}path")]
    assert [d.count("M") for d in paths] == [len(line.strokes) for line in page.lines]
    assert all("C" in d for d in paths)
    assert "l0 0" in paths[0]  # the dot
    numbers = re.findall(r"-?\d+(?:\.\d+)?", svg.split("?>", 1)[1])
    assert numbers and all(len(n.split(".")[1]) <= 2 for n in numbers if "." in n)


def test_page_svg_ruled_and_transparent() -> None:
    setup = PageSetup(ruled=True, background=None, margin=25.0)
    root = ET.fromstring(page_svg(sample_page(setup), setup))
    assert root.find(f"{SVG_NS}rect") is None
    rules = [p.get("d") for p in root.findall(f"{SVG_NS}path")]
    assert rules[0].count("L210 ") == setup.lines_per_page and "M0 35L210 35" in rules[0]
    assert rules[1] == "M25 0L25 297"


def test_strokes_are_smooth_curves_through_their_points() -> None:
    square = np.array([[10.0, 10.0], [20.0, 10.0], [20.0, 20.0], [10.0, 20.0]])
    svg = page_svg(Page(50.0, 50.0, [PlacedLine([square])]), PageSetup(size=(50.0, 50.0), margin=5.0))
    d = ET.fromstring(svg).find(f"{SVG_NS}g/{SVG_NS}path").get("d")
    start, curves = d[1:].split("C")
    values = np.array([float(v) for v in curves.split()]).reshape(-1, 6)
    assert start == "10 10"
    assert np.allclose(values[:, 4:], square[1:])  # every segment ends on the next point
    assert np.allclose(values[0, :2], [10 + 10 / 3, 10], atol=0.01)  # the first handle follows the first segment
    assert np.allclose(values[1, :2], [20 + 10 / 6, 10 + 10 / 6], atol=0.01)  # the corner is rounded


def test_controls_of_many_strokes_at_once_are_each_strokes_own() -> None:
    """A page's Beziers are computed in one pass (PNG, PDF): each stroke's, bit for bit, whatever its neighbours."""
    rng = np.random.default_rng(5)
    strokes = [rng.normal(size=(n, 2)) * 10 for n in (1, 2, 5, 1, 3, 12)]
    points, ends = laid_end_to_end(strokes)
    first, second = bezier_controls(points, ends)
    for stroke, end in zip(strokes, ends):
        own_first, own_second = bezier_controls(stroke)
        rows = slice(end - len(stroke), end - 1)
        assert np.array_equal(first[rows], own_first) and np.array_equal(second[rows], own_second)


def test_png_has_the_page_size_for_the_dpi_and_a_white_background() -> None:
    setup = PageSetup()
    png = page_png(sample_page(setup), setup, dpi=72)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height, pixels = png_pixels(png)
    assert (width, height) == (round(210 / 25.4 * 72), round(297 / 25.4 * 72))
    assert pixels[0, 0].tolist() == [255, 255, 255, 255]
    assert (pixels[..., :3] < 200).any()  # some ink


def test_transparent_png_keeps_alpha_and_dots_are_visible() -> None:
    setup = PageSetup(size=(40.0, 30.0), margin=5.0, background=None, pen_width=1.0)
    page = Page(40.0, 30.0, [PlacedLine([np.array([[20.0, 15.0]])])])
    width, height, pixels = png_pixels(page_png(page, setup, dpi=100))
    assert pixels[0, 0, 3] == 0
    assert pixels[height // 2, width // 2, 3] == 255


def test_pdf_has_one_vector_page_per_page_at_its_size() -> None:
    a4, a5 = PageSetup(), PageSetup(size=PAGE_SIZES["a5"])
    pdf = pages_pdf([sample_page(a4), fit_to_ink(sample_page(a4), 5.0), sample_page(a5)], a4)
    assert pdf.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    cropped = fit_to_ink(sample_page(a4), 5.0)
    expected = [595.28, 841.89, cropped.width * 72 / 25.4, cropped.height * 72 / 25.4, 419.53, 595.28]  # in points
    sizes = [float(side) for page in reader.pages for side in (page.mediabox.width, page.mediabox.height)]
    assert sizes == pytest.approx(expected, abs=0.01)
    assert b"/Image" not in pdf


def test_output_rejects_nonsense() -> None:
    with pytest.raises(ScribeError, match="page"):
        pages_pdf([], PageSetup())
    with pytest.raises(ScribeError, match="dpi"):
        page_png(Page(10.0, 10.0, []), PageSetup(size=(10.0, 10.0), margin=0.0), dpi=0)


@pytest.mark.parametrize("setup", [PageSetup(), PageSetup(ruled=True, ink="darkred", pen_width=0.8), PageSetup(background=None)])
def test_png_pages_are_drawn_as_their_svg_shows(setup: PageSetup) -> None:
    """PNG and PDF are drawn directly with cairo; cairosvg's rendering of the page's SVG is the reference."""
    page = sample_page(setup)
    page.lines[0].strokes.append(np.array([[150.0, 40.0]]))  # a dot
    page.lines[0].strokes.append(np.array([[120.0, 60.0], [140.0, 60.0], [140.0, 80.0], [120.0, 80.0]]))  # round corners
    drawn = png_pixels(page_png(page, setup, dpi=100))[2].astype(float)
    reference = png_pixels(svg_to_png(page_svg(page, setup), dpi=100))[2].astype(float)
    assert drawn.shape == reference.shape
    # The last row and column of pixels lie partly off the page: the SVG's background leaves them part see-through.
    drawn, reference = drawn[:-1, :-1], reference[:-1, :-1]
    weight = np.maximum(drawn[..., 3:], reference[..., 3:]) / 255  # colours of see-through pixels do not show
    difference = np.abs(drawn - reference) * np.concatenate([np.repeat(weight, 3, axis=-1), np.ones_like(weight)], axis=-1)
    assert difference.mean() < 0.1 and (difference.max(axis=-1) > 32).mean() < 1e-4  # SVG rounds to 0.01 mm: edges
    assert (np.abs(reference - reference[0, 0]).max(axis=-1) > 64).sum() > 300  # there is ink to compare


# --------------------------------------------------------------------------- real data


@needs_shared_data
def test_real_lines_match_the_measured_advance_and_sit_on_their_slots() -> None:
    with np.load(SHARED_DATA / "iam_ondb_lines_sample100.npz") as npz:
        points, bounds, texts = npz["points"], npz["line_offsets"], npz["texts"]
    lines = [points_to_offsets(points[bounds[i] : bounds[i + 1]]) for i in range(len(texts))]
    metrics = [line_metrics(offsets) for offsets in lines]
    advance = [(m.right - m.left) / len(text) / m.x_height for m, text in zip(metrics, texts, strict=True)]
    assert np.median(advance) == pytest.approx(ADVANCE_PER_X_HEIGHT, abs=0.01)
    setup = PageSetup()
    pages = layout(lines[:30], setup)
    assert [len(p.lines) for p in pages] == [25, 5]
    for slot, line in enumerate(pages[0].lines):
        ys = ink(line)[:, 1]
        assert setup.baseline_y(slot) - 1.5 * setup.x_height_mm < np.median(ys) < setup.baseline_y(slot)


def test_the_same_pages_give_byte_identical_pdfs() -> None:
    """cairo stamps each PDF with its creation time; scribe's must not carry it."""
    setup = PageSetup()
    pages = [sample_page(setup)] * 2
    first = pages_pdf(pages, setup)
    assert b"/CreationDate" not in first and b"/ModDate" not in first
    time.sleep(1.1)  # the creation date has whole seconds
    assert pages_pdf(pages, setup) == first
