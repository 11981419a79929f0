"""Page layout and vector output: line inks -> pages in millimetres -> SVG -> PNG / PDF.

The data flow is one-way. Each written line arrives as offsets in the stroke
format (:mod:`scribe.ink.strokes`: dataset units, y up). :func:`layout` measures every
line (:func:`line_metrics`), normalizes its size, removes gross tilt and places it
on a line slot of a page, in millimetres with y pointing down as in SVG.
:func:`page_svg` writes one page as a standalone SVG document, and
:func:`svg_to_png` / :func:`svgs_to_pdf` hand SVG text to cairosvg, so the PNG and
the PDF show exactly what the SVG shows.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import cairocffi
import cairosvg
import cairosvg.colors
import cairosvg.parser
import cairosvg.surface
import numpy as np

from scribe.errors import ScribeError
from scribe.ink.strokes import split_strokes

#: Paper sizes in millimetres, width x height.
PAGE_SIZES: dict[str, tuple[float, float]] = {
    "a4": (210.0, 297.0),
    "a5": (148.0, 210.0),
    "letter": (215.9, 279.4),
    "legal": (215.9, 355.6),
}

#: Typical horizontal advance of one character (spaces included) divided by the
#: x-height that :func:`line_metrics` estimates, for wrapping text before it is
#: written. Measured on real handwriting: for each of the 100 lines of
#: iam_ondb_lines_sample100.npz (IAM-OnDB, about 20 writers), ink width / number
#: of characters of its text / x-height, median 1.749 (quartiles 1.52 and 2.12).
#: 1,000 random lines of the full IAM-OnDB give a median of 1.56 (quartiles 1.29
#: and 1.91): writers differ a lot, and the larger figure wraps a little early
#: rather than making :func:`layout` shrink over-long lines.
ADVANCE_PER_X_HEIGHT: float = 1.75

#: Baseline tilt kept as natural drift; only the part of a line's slope beyond it is rotated away.
MAX_TILT_DEGREES = 2.0

#: Default x-height as a fraction of the line spacing. IAM-OnDB hands reach about 2.4
#: x-heights above the baseline and 1.5 below, so at 0.22 the ascenders of one line
#: and the descenders of the line above rarely touch.
X_HEIGHT_PER_SPACING = 0.22

_RULE_COLOUR = "#9fbfe6"
_MARGIN_RULE_COLOUR = "#e6a0a0"
_RULE_WIDTH = 0.2  # mm
_PAGE_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*[x\u00d7]\s*(\d+(?:\.\d*)?|\.\d+)\s*$", re.IGNORECASE)
_COLOUR = re.compile(r"^(#[0-9a-f]{3}|#[0-9a-f]{6}|rgba?\(\s*[0-9.%\s,]+\))$", re.IGNORECASE)


# --------------------------------------------------------------------------- page setup


def parse_page_size(value: str) -> tuple[float, float]:
    """``'a4'``, ``'Letter'`` (names are case-insensitive) or custom ``'WxH'`` in mm like ``'120x80'``.

    A user types page sizes on the command line, so every mistake becomes a
    :class:`ScribeError` naming the accepted forms.
    """
    name = value.strip().lower()
    if name in PAGE_SIZES:
        return PAGE_SIZES[name]
    match = _PAGE_SIZE.match(name)
    if not match:
        names = ", ".join(PAGE_SIZES)
        raise ScribeError(f"unknown page size {value!r}: use one of {names} or WIDTHxHEIGHT in mm, like 120x80")
    width, height = float(match.group(1)), float(match.group(2))
    if width <= 0 or height <= 0:
        raise ScribeError(f"page size {value!r} has a zero side: give both width and height in mm, like 120x80")
    return width, height


def _check_colour(what: str, value: str) -> None:
    """Refuse a colour that cairosvg would silently draw black (and anything that could break the SVG)."""
    if value.strip().lower() not in cairosvg.colors.COLORS and not _COLOUR.match(value.strip()):
        raise ScribeError(f"{what} colour {value!r} is not understood: use a name like 'navy' or a code like '#1b2a6b'")


@dataclass
class PageSetup:
    """Paper, margins, line grid and pen: everything about a page except the ink itself.

    All lengths are in millimetres. Lines sit on a grid of baselines
    ``line_spacing`` apart, the first one ``line_spacing`` below the top margin,
    as on ruled paper.
    """

    size: tuple[float, float] = PAGE_SIZES["a4"]
    margin: float = 20.0
    line_spacing: float = 10.0
    x_height: float | None = None
    align: str = "left"
    ink: str = "#1b2a6b"
    pen_width: float = 0.5
    ruled: bool = False
    background: str | None = "white"

    def validate(self) -> None:
        """Raise :class:`ScribeError` when the values cannot make a page (they usually come from the CLI)."""
        width, height = self.size
        lengths = (width, height, self.margin, self.line_spacing, self.pen_width, self.x_height_mm)
        if not all(math.isfinite(v) for v in lengths):
            raise ScribeError("page sizes, margins, spacing, x-height and pen width must be finite numbers of mm")
        if width <= 0 or height <= 0:
            raise ScribeError(f"page size {width}x{height} mm is empty: give a positive width and height")
        if self.margin < 0:
            raise ScribeError(f"margin {self.margin} mm is negative: use 0 or more")
        if self.line_spacing <= 0:
            raise ScribeError(f"line spacing {self.line_spacing} mm must be positive, e.g. 10")
        if self.text_width <= 0 or self.lines_per_page < 1:
            raise ScribeError(
                f"margins of {self.margin} mm leave no room for a {self.line_spacing} mm line on a "
                f"{width}x{height} mm page: use smaller margins or line spacing"
            )
        if self.x_height is not None and not 0 < self.x_height <= self.line_spacing:
            raise ScribeError(
                f"x-height {self.x_height} mm must be positive and at most the line spacing ({self.line_spacing} mm)"
            )
        if self.align not in ("left", "center"):
            raise ScribeError(f"alignment {self.align!r} is unknown: use 'left' or 'center'")
        if self.pen_width <= 0:
            raise ScribeError(f"pen width {self.pen_width} mm must be positive, e.g. 0.5")
        _check_colour("ink", self.ink)
        if self.background is not None:
            _check_colour("background", self.background)

    @property
    def text_width(self) -> float:
        """Width between the left and right margins, in mm."""
        return self.size[0] - 2 * self.margin

    @property
    def lines_per_page(self) -> int:
        """How many baselines fit between the top and bottom margins."""
        return max(0, math.floor((self.size[1] - 2 * self.margin) / self.line_spacing + 1e-9))

    @property
    def x_height_mm(self) -> float:
        """The x-height every line is scaled to, in mm (``x_height`` or a fixed share of the spacing)."""
        return self.x_height if self.x_height is not None else X_HEIGHT_PER_SPACING * self.line_spacing

    def baseline_y(self, slot: int) -> float:
        """y (mm, down) of the baseline of line slot ``slot`` (0 = the first line of a page)."""
        return self.margin + (slot + 1) * self.line_spacing


def estimated_line_width(chars: int, setup: PageSetup, advance: float = ADVANCE_PER_X_HEIGHT) -> float:
    """Expected width in mm of ``chars`` handwritten characters at the setup's x-height.

    Text is wrapped before the model writes it, so the wrapper needs a width
    estimate that matches what :func:`layout` will produce. ``advance`` is the
    hand's width per character in x-heights: a model file measures it for each of
    its styles (:func:`scribe.writing.document.measure_style_advances`); the dataset's
    average, :data:`ADVANCE_PER_X_HEIGHT`, stands in otherwise.
    """
    return chars * advance * setup.x_height_mm


# --------------------------------------------------------------------------- measuring a line


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
    return _measure(split_strokes(offsets))


# line_metrics' tuning, in units of the line's scale (the median down-stroke length).
_TURN_DELTA = 0.15  # a turning point needs the stroke to come back by this much
_MODE_BANDWIDTH = 0.2  # kernel width when looking for the most common baseline level
_BASELINE_BAND = 0.4  # minima this close to the baseline refit it
_X_HEIGHT_WINDOW = (0.5, 1.6)  # maxima this high above the baseline are lowercase tops
_PROFILE_BIN = 0.1  # bin height of the projection profile
_MIN_TILT_WIDTH = 10.0  # narrower ink (a word or two) is too short to show a tilt in its projection
_SLOPE_SEARCH_DEGREES = 15.0
_SLOPE_STEP_DEGREES = 0.5


def _measure(strokes: list[np.ndarray]) -> LineMetrics:
    """:func:`line_metrics` on a line already split into strokes."""
    points = np.concatenate(strokes)
    (left, bottom), (right, top) = points.min(axis=0), points.max(axis=0)
    extent = {"left": float(left), "right": float(right), "bottom": float(bottom), "top": float(top)}
    weights = np.concatenate([_ink_lengths(s) for s in strokes])
    q1, q3 = _weighted_quantiles(points[:, 1], weights, [0.25, 0.75])
    scale = q3 - q1
    turns: list[np.ndarray] = []
    for _ in range(2):
        if scale <= 0:
            break
        turns = _turning_points(strokes, _TURN_DELTA * scale)
        rises = np.concatenate([np.abs(np.diff(t[:, 1])) for t in turns]) if turns else np.empty(0)
        scale = float(np.median(rises)) if len(rises) else scale
    if scale <= 0 or not turns:  # flat ink or no letters: no levels to find
        size = max(float(top - bottom), float(right - left) / 4, 1e-6)
        base = float(_weighted_quantiles(points[:, 1], weights, [0.1])[0])
        return LineMetrics(baseline=base, slope=0.0, x_height=size, tops=0, **extent)
    slope = _dominant_slope(points, weights, scale) if right - left > _MIN_TILT_WIDTH * scale else 0.0
    turn_points = np.concatenate(turns)
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
    x_height = float(np.median(tops)) if len(tops) else scale
    return LineMetrics(baseline=base, slope=slope, x_height=x_height, tops=len(tops), **extent)


def _ink_lengths(stroke: np.ndarray) -> np.ndarray:
    """Length of ink each point stands for (half of each neighbouring segment): density follows ink, not pen speed."""
    seg = np.hypot(*np.diff(stroke, axis=0).T)
    lengths = np.zeros(len(stroke))
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
    rows = np.arange(len(angles))[:, None] * n_bins
    hist = np.bincount((bins + rows).ravel(), np.broadcast_to(weights, bins.shape).ravel(), len(angles) * n_bins)
    p = hist.reshape(len(angles), n_bins) / max(float(weights.sum()), 1e-12)
    entropy = -np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=1)
    return float(np.tan(angles[np.argmin(entropy)]))


def _turning_points(strokes: list[np.ndarray], delta: float) -> list[np.ndarray]:
    """Per stroke with any, its turning points in order as ``(k, 3)`` rows ``[x, y, +1 max / -1 min]``.

    A turning point counts once the stroke has come back from it by more than
    ``delta`` (hysteresis), so sensor jitter is not a letter. A stroke's first and
    last points count when the stroke leaves or reaches them that way: strokes
    often start or end on the baseline.
    """
    found = []
    for stroke in strokes:
        y = stroke[:, 1]
        turns: list[tuple[int, int]] = []
        lo = hi = 0
        looking = 0  # +1: for a maximum, -1: for a minimum, 0: not known yet
        for i in range(1, len(y)):
            if y[i] > y[hi]:
                hi = i
            if y[i] < y[lo]:
                lo = i
            if looking >= 0 and y[i] < y[hi] - delta:
                turns.append((hi, 1))
                lo, looking = i, -1
            elif looking <= 0 and y[i] > y[lo] + delta:
                turns.append((lo, -1))
                hi, looking = i, 1
        if looking:
            turns.append((hi, 1) if looking > 0 else (lo, -1))
        if turns:
            index, kind = np.array(turns).T
            found.append(np.column_stack([stroke[index], kind]))
    return found


def _mode(values: np.ndarray, bandwidth: float) -> float:
    """The most common value: the peak of a Gaussian kernel density estimate."""
    grid = np.linspace(values.min(), values.max(), 200)
    density = np.exp(-0.5 * ((grid[:, None] - values[None, :]) / bandwidth) ** 2).sum(axis=1)
    return float(grid[np.argmax(density)])


# --------------------------------------------------------------------------- layout


@dataclass
class PlacedLine:
    """One written line on a page: its strokes as ``(n, 2)`` float64 arrays in mm, y pointing down."""

    strokes: list[np.ndarray]


@dataclass
class Page:
    """One page of placed lines, in order; blank lines only leave their slot empty."""

    width: float
    height: float
    lines: list[PlacedLine]


#: A line whose x-height rests on fewer letter tops than this (a lone dash, "OK.")
#: is scaled like the document's other lines (their median scale) rather than by
#: its own guess. Real lines have about 0.9 tops per character.
MIN_TOPS = 5

#: How far one line's scale may stray from the page's median scale. The lines of a
#: page come from one hand (one model and style), so they share one size; a line's
#: own x-height estimate is noisy (a line of "lazy dog" has few plain x-height
#: letters), and trusting it fully makes single lines jump in size.
LINE_SCALE_SPREAD = 0.15


def layout(lines: Sequence[np.ndarray | None], setup: PageSetup) -> list[Page]:
    """Place line inks on pages; always returns at least one (possibly empty) page.

    Each item is one written line's offsets, or None (or no points at all) for a
    blank line: a paragraph break or an empty input line takes one line slot, but
    a page never starts with blank slots carried over from the previous one.
    Lines flow onto a new page when a page is full.

    Each line is scaled so its estimated x-height (:func:`line_metrics`) equals
    the setup's, within :data:`LINE_SCALE_SPREAD` of the median scale of the
    page's lines, so the page looks written by one hand at one size; a line with
    too few letters to tell (:data:`MIN_TOPS`) gets the median scale. Its baseline is put on the slot's
    baseline at the middle of the line, and the line starts at the left margin
    or is centred. A line still wider than the text width is shrunk to fit.
    Natural drift stays: only the part of the baseline's tilt beyond
    :data:`MAX_TILT_DEGREES` is rotated away.
    """
    setup.validate()
    inks = [split_strokes(item) if item is not None and len(item) else None for item in lines]
    measured = [(strokes, _measure(strokes)) if strokes is not None else None for strokes in inks]
    trusted = [setup.x_height_mm / e[1].x_height for e in measured if e is not None and e[1].tops >= MIN_TOPS]
    typical = float(np.median(trusted)) if trusted else None
    pages = [Page(*setup.size, lines=[])]
    slot = 0
    for entry in measured:
        if slot == setup.lines_per_page:
            if entry is None:
                continue
            pages.append(Page(*setup.size, lines=[]))
            slot = 0
        if entry is not None:
            strokes, m = entry
            scale = _line_scale(setup.x_height_mm / m.x_height, m.tops, typical)
            pages[-1].lines.append(_place(strokes, m, scale, setup.baseline_y(slot), setup))
        slot += 1
    return pages


def _line_scale(own: float, tops: int, typical: float | None) -> float:
    """A line's scale: its own estimate kept near the page's median (:data:`LINE_SCALE_SPREAD`)."""
    if typical is None:
        return own
    if tops < MIN_TOPS:
        return typical
    return min(max(own, typical * (1 - LINE_SCALE_SPREAD)), typical * (1 + LINE_SCALE_SPREAD))


def _place(strokes: list[np.ndarray], m: LineMetrics, scale: float, baseline_y: float, setup: PageSetup) -> PlacedLine:
    """Untilt, scale and move one line's strokes onto the baseline at ``baseline_y`` (mm, down)."""
    tilt = math.atan(m.slope)
    excess = math.copysign(max(0.0, abs(tilt) - math.radians(MAX_TILT_DEGREES)), tilt)
    centre_x = (m.left + m.right) / 2
    pivot = np.array([centre_x, m.baseline_at(centre_x)])
    cos, sin = math.cos(excess), math.sin(excess)
    untilt = np.array([[cos, -sin], [sin, cos]])  # rotates by -excess (row vectors times this matrix)
    local = [(s - pivot) @ untilt for s in strokes]
    xs = np.concatenate([s[:, 0] for s in local])
    left, width = float(xs.min()), float(np.ptp(xs))
    if width * scale > setup.text_width:
        scale = setup.text_width / width
    x0 = setup.margin + ((setup.text_width - width * scale) / 2 if setup.align == "center" else 0.0)
    return PlacedLine([np.column_stack([x0 + (s[:, 0] - left) * scale, baseline_y - s[:, 1] * scale]) for s in local])


# --------------------------------------------------------------------------- SVG


def page_svg(page: Page, setup: PageSetup) -> str:
    """One page as a standalone SVG document, in millimetres.

    Strokes are smoothed with Catmull-Rom splines written as cubic Beziers, so
    the sparse points of a model's output draw as round letters, and rounded to
    0.01 mm, far below what a pen or printer resolves, to keep files small.
    One ``<path>`` per line holds one subpath per stroke; a single-point stroke
    (the dot of an i) is a zero-length segment that round caps turn into a dot.
    """
    setup.validate()
    w, h = _num(page.width), _num(page.height)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}">',
    ]
    if setup.background is not None:
        parts.append(f'<rect x="0" y="0" width="{w}" height="{h}" fill="{setup.background}"/>')
    if setup.ruled:
        baselines = "".join(f"M0 {_num(setup.baseline_y(slot))}H{w}" for slot in range(setup.lines_per_page))
        parts.append(_rule(baselines, _RULE_COLOUR))
        if setup.margin > 0:
            parts.append(_rule(f"M{_num(setup.margin)} 0V{h}", _MARGIN_RULE_COLOUR))
    parts.append(
        f'<g fill="none" stroke="{setup.ink}" stroke-width="{_num(setup.pen_width)}" '
        'stroke-linecap="round" stroke-linejoin="round">'
    )
    parts.extend(f'<path d="{"".join(_stroke_path(s) for s in line.strokes)}"/>' for line in page.lines)
    parts.append("</g>\n</svg>\n")
    return "\n".join(parts)


def _rule(path: str, colour: str) -> str:
    """A thin printed line of ruled paper."""
    return f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="{_num(_RULE_WIDTH)}"/>'


def _num(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros (``12.5``, ``3``, never ``-0``)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _stroke_path(points: np.ndarray) -> str:
    """SVG path data of one stroke: a Catmull-Rom spline through its points as cubic Beziers.

    Tangents are central differences divided by chord length (not the uniform
    parameter), so a short step next to a long one cannot overshoot into a loop:
    each Bezier handle is at most a third of its segment.
    """
    start = f"M{_num(points[0, 0])} {_num(points[0, 1])}"
    seg = np.hypot(*np.diff(points, axis=0).T)
    if len(points) == 1 or not seg.any():
        return start + "l0 0"
    padded = np.concatenate([points[:1], points, points[-1:]])
    chord = np.concatenate([[0.0], seg, [0.0]])
    span = chord[:-1] + chord[1:]
    tangent = (padded[2:] - padded[:-2]) / np.where(span > 0, span, 1.0)[:, None]
    handle = seg[:, None] / 3
    c1 = points[:-1] + tangent[:-1] * handle
    c2 = points[1:] - tangent[1:] * handle
    curves = " ".join(
        f"{_num(a)} {_num(b)} {_num(c)} {_num(d)} {_num(e)} {_num(f)}"
        for a, b, c, d, e, f in np.column_stack([c1, c2, points[1:]])
    )
    return f"{start}C{curves}"


# --------------------------------------------------------------------------- PNG and PDF


def svg_to_png(svg: str, dpi: float = 150) -> bytes:
    """Rasterize an SVG page at ``dpi`` pixels per inch; a page without background stays transparent."""
    if not (math.isfinite(dpi) and dpi > 0):
        raise ScribeError(f"resolution {dpi} dpi must be positive, e.g. 150")
    return cairosvg.svg2png(bytestring=svg.encode("utf-8"), dpi=dpi)


def svgs_to_pdf(svgs: Sequence[str]) -> bytes:
    """One vector PDF with one page per SVG, in order, each page keeping its size in mm.

    cairosvg writes one SVG per PDF; :class:`_PdfPage` makes it draw each SVG
    onto the next page of one shared cairo PDF surface instead.
    """
    if not svgs:
        raise ScribeError("there is no page to write: give at least one line of text")
    output = io.BytesIO()
    target = cairocffi.PDFSurface(output, 1, 1)
    for svg in svgs:
        _PdfPage(cairosvg.parser.Tree(bytestring=svg.encode("utf-8")), target)
        target.show_page()
    target.finish()
    return output.getvalue()


class _PdfPage(cairosvg.surface.PDFSurface):
    """cairosvg's PDF surface drawing one SVG onto the current page of a shared cairo PDF surface.

    cairosvg creates its cairo surface in ``_create_surface`` once it knows the
    SVG's size; handing back the shared surface, resized, keeps everything else
    of cairosvg's drawing (units, viewBox, styles) unchanged.
    """

    def __init__(self, tree: cairosvg.parser.Tree, target: cairocffi.PDFSurface) -> None:
        self._target = target
        super().__init__(tree, output=None, dpi=96)

    def _create_surface(self, width: float, height: float) -> tuple[cairocffi.PDFSurface, float, float]:
        self._target.set_size(width, height)
        return self._target, width, height
