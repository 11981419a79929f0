"""Page layout: paper and line grid (:class:`PageSetup`), and line inks placed on pages in millimetres.

The data flow is one-way. Each written line arrives as offsets in the stroke
format (:mod:`scribe.ink.strokes`: dataset units, y up). :func:`layout` measures every
line (:func:`scribe.ink.metrics.line_metrics`), normalizes its size, removes gross
tilt and places it on a line slot of a page, in millimetres with y pointing down as
in SVG. :mod:`scribe.writing.formats` draws the pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from scribe.errors import ScribeError
from scribe.ink.metrics import ADVANCE_PER_X_HEIGHT, LineMetrics, measure_strokes, median
from scribe.ink.strokes import flip_y, laid_end_to_end, split_strokes
from scribe.writing.colours import colour_rgba

#: Paper sizes in millimetres, width x height.
PAGE_SIZES: dict[str, tuple[float, float]] = {
    "a4": (210.0, 297.0),
    "a5": (148.0, 210.0),
    "a6": (105.0, 148.0),  # postcards and greeting cards
    "letter": (215.9, 279.4),
    "legal": (215.9, 355.6),
}
DEFAULT_PAGE = "a4"
MAX_PAGE_MM = 2000.0  # longest page side (A0 is 841 x 1189 mm)
MIN_X_HEIGHT_MM = 0.5  # smaller handwriting is not legible, on paper or on screen

#: Baseline tilt kept as natural drift; only the part of a line's slope beyond it is rotated away.
MAX_TILT_DEGREES = 2.0

#: Text is wrapped to this share of the text width, and a written line may run
#: :data:`OVERFLOW_SHARE` of the margin past it before it is shrunk to fit. The
#: model's lines differ in width from the wrapper's estimate: over 96 lines of a
#: letter (benchmarks/line_sizes.py, 8 seeds) the written width at the layout's
#: scale was 0.84x / 0.97x / 1.04x / 1.18x the estimate at the quartiles and the 95th
#: percentile. A line shrunk to fit the text width is visibly smaller than its
#: neighbours; with both allowances a line needs to be 1.11x its estimate (on A4)
#: before it shrinks, and then by a few per cent, as a writer squeezes a line's end.
WRAP_SHARE = 0.95
OVERFLOW_SHARE = 0.5

#: Default x-height as a fraction of the line spacing. IAM-OnDB hands reach about 2.4
#: x-heights above the baseline and 1.5 below, so at 0.22 the ascenders of one line
#: and the descenders of the line above rarely touch.
X_HEIGHT_PER_SPACING = 0.22

_PAGE_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*[x\u00d7]\s*(\d+(?:\.\d*)?|\.\d+)\s*$", re.IGNORECASE)


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


@dataclass
class PageSetup:
    """Paper, margins, line grid and pen: everything about a page except the ink itself.

    All lengths are in millimetres. Lines sit on a grid of baselines
    ``line_spacing`` apart, the first one ``line_spacing`` below the top margin,
    as on ruled paper.
    """

    size: tuple[float, float] = PAGE_SIZES[DEFAULT_PAGE]
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
        self._check_types()
        width, height = self.size
        lengths = (width, height, self.margin, self.line_spacing, self.pen_width, self.x_height_mm)
        if not all(math.isfinite(v) for v in lengths):
            raise ScribeError("page sizes, margins, spacing, x-height and pen width must be finite numbers of mm")
        if not (0 < width <= MAX_PAGE_MM and 0 < height <= MAX_PAGE_MM):
            raise ScribeError(
                f"page size {width:g}x{height:g} mm is out of range: each side must be above 0 and at most {MAX_PAGE_MM:g} mm"
            )
        if self.margin < 0:
            raise ScribeError(f"margin {self.margin} mm is negative: use 0 or more")
        if self.line_spacing <= 0:
            raise ScribeError(f"line spacing {self.line_spacing} mm must be positive, e.g. 10")
        if self.text_width <= 0 or self.lines_per_page < 1:
            raise ScribeError(
                f"margins of {self.margin} mm leave no room for a {self.line_spacing} mm line on a "
                f"{width}x{height} mm page: use smaller margins or line spacing"
            )
        if self.x_height is not None and not MIN_X_HEIGHT_MM <= self.x_height <= self.line_spacing:
            raise ScribeError(
                f"x-height {self.x_height:g} mm must be at least {MIN_X_HEIGHT_MM:g} mm and at most the line spacing "
                f"({self.line_spacing:g} mm)"
            )
        if self.align not in ("left", "center"):
            raise ScribeError(f"alignment {self.align!r} is unknown: use 'left' or 'center'")
        if not 0 < self.pen_width <= self.line_spacing:
            raise ScribeError(
                f"pen width {self.pen_width:g} mm must be above 0 and at most the line spacing "
                f"({self.line_spacing:g} mm), e.g. 0.5"
            )
        colour_rgba("ink", self.ink)  # refuses a colour that cairo would silently draw black
        if self.background is not None:
            colour_rgba("background", self.background)

    def _check_types(self) -> None:
        """Refuse values of the wrong kind (a string for a length, a number for a colour) in the API's terms."""
        size = self.size
        numbers: dict[str, object] = {"margin": self.margin, "line_spacing": self.line_spacing, "pen_width": self.pen_width}
        if self.x_height is not None:
            numbers["x_height"] = self.x_height
        if not isinstance(size, (tuple, list)) or len(size) != 2:
            raise ScribeError(f"`size` must be (width, height) in mm, not {size!r}")
        numbers.update(width=size[0], height=size[1])
        for name, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ScribeError(f"`{name}` must be a number of mm, not {value!r}")
        texts: dict[str, object] = {"align": self.align, "ink": self.ink, "background": self.background or ""}
        for name, value in texts.items():
            if not isinstance(value, str):
                raise ScribeError(f"`{name}` must be a string, not {value!r}")
        if not isinstance(self.ruled, bool):
            raise ScribeError(f"`ruled` must be True or False, not {self.ruled!r}")

    @property
    def text_width(self) -> float:
        """Width between the left and right margins, in mm."""
        return self.size[0] - 2 * self.margin

    @property
    def wrap_width(self) -> float:
        """Width in mm the text is wrapped to before it is written (:data:`WRAP_SHARE` of the text width)."""
        return self.text_width * WRAP_SHARE

    @property
    def widest_line(self) -> float:
        """Widest a written line may be before it is shrunk: it may run :data:`OVERFLOW_SHARE` into the margin."""
        return self.text_width + OVERFLOW_SHARE * self.margin

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


# --------------------------------------------------------------------------- layout


@dataclass
class PlacedLine:
    """One written line on a page: its strokes as ``(n, 2)`` float64 arrays in mm, y pointing down."""

    strokes: list[np.ndarray]


@dataclass(frozen=True)
class Label:
    """Printed text on a page, such as a style sheet's names: its baseline starts at ``x, y`` (mm, y down)."""

    x: float
    y: float
    text: str
    size: float  # the font's size, mm

    @property
    def box(self) -> np.ndarray:
        """Corners of a box the label surely fits in (a sans-serif letter is at most 0.7 of the size wide)."""
        return np.array([[self.x, self.y - self.size], [self.x + 0.7 * self.size * len(self.text), self.y + 0.3 * self.size]])


@dataclass
class Page:
    """One page of placed lines, in order; blank lines only leave their slot empty.

    ``origin`` is where the page's top-left corner lies on the paper the lines were
    placed on: (0, 0) for a whole sheet, elsewhere for a page cropped to its ink
    (:func:`fit_to_ink`), so that ruled lines can still be drawn where they were.
    """

    width: float
    height: float
    lines: list[PlacedLine]
    origin: tuple[float, float] = (0.0, 0.0)
    labels: list[Label] = field(default_factory=list)


def fit_to_ink(page: Page, margin: float) -> Page:
    """``page`` cropped to its ink and labels with ``margin`` mm around them (a one-line note is not an A4 sheet)."""
    points = [stroke for line in page.lines for stroke in line.strokes] + [label.box for label in page.labels]
    if not points:
        return page
    ink = np.concatenate(points)
    low, high = ink.min(axis=0) - margin, ink.max(axis=0) + margin
    moved = [PlacedLine([stroke - low for stroke in line.strokes]) for line in page.lines]
    origin = (page.origin[0] + float(low[0]), page.origin[1] + float(low[1]))
    labels = [replace(label, x=label.x - float(low[0]), y=label.y - float(low[1])) for label in page.labels]
    return Page(float(high[0] - low[0]), float(high[1] - low[1]), moved, origin, labels)


#: A line whose x-height rests on fewer letter tops than this (a lone dash, "OK.")
#: is scaled like the document's other lines (their median scale) rather than by
#: its own guess. Real lines have about 0.9 tops per character.
MIN_TOPS = 5

#: Letters whose tops are the x-height. Digits and capitals stand taller without an
#: ascender to tell them by, so a line with more of them than of these letters ("March
#: 2026.", "Total: $45.20 (15% off)"; twice as many, once it has MIN_TOPS of the
#: letters) has its tops at their height, and scaled by its own estimate it came out
#: smaller than the rest (15% under the page's median scale on a real-world letter);
#: it gets the median scale. A short line of letters ("With love,", "Anna") keeps its
#: own: the model often writes those much larger than the body.
X_HEIGHT_LETTERS = frozenset("acemnorsuvwxz")


def sized_by_its_letters(text: str) -> bool:
    """Whether a line of ``text`` shows its x-height in enough letters to be scaled by its own estimate."""
    letters = sum(char in X_HEIGHT_LETTERS for char in text)
    tall = sum(char.isdigit() or char.isupper() for char in text)
    return tall <= (2 if letters >= MIN_TOPS else 1) * letters


def own_size_trusted(metrics: LineMetrics, text: str | None) -> bool:
    """Whether a line's own x-height estimate can be believed: it rests on :data:`MIN_TOPS` letter
    tops or more, and the line's text, where known, is not mostly digits and capitals."""
    return metrics.tops >= MIN_TOPS and (text is None or sized_by_its_letters(text))


#: How far one line's scale may stray from the document's median scale: a bound on a
#: wild estimate, not a smoothing. The model does not write every line at one size:
#: on a letter (benchmarks/line_sizes.py, 8 seeds) its short lines ("Dear Margaret,",
#: "With love,", a signature) came out up to 1.9x the x-height of the body lines, by
#: the layout's estimate and by an independent one from the letters the attention
#: window was writing alike. A tight bound (0.15 once) left those lines 1.15x too big and
#: the page's x-heights 39% apart at the median page; trusting each line's own
#: estimate leaves them within a few per cent.
LINE_SCALE_SPREAD = 0.5


def layout(lines: Sequence[np.ndarray | None], setup: PageSetup) -> list[Page]:
    """Place line inks on pages; always returns at least one (possibly empty) page.

    Each item is one written line's offsets, or None (or no points at all) for a
    blank line: a paragraph break or an empty input line takes one line slot, but
    a page never starts with blank slots carried over from the previous one.
    Lines flow onto a new page when a page is full (:func:`page_slots`); each page
    is laid out by :func:`layout_page`.
    """
    setup.validate()
    places = page_slots([item is None or not len(item) for item in lines], setup.lines_per_page)
    scales: list[float] = []
    return [
        layout_page([(line, place[1]) for line, place in zip(lines, places) if place is not None and place[0] == page],
                    setup, scales)
        for page in range(page_count(places))
    ]


def layout_page(entries: Sequence[tuple[np.ndarray | None, int]], setup: PageSetup, scales: list[float],
                texts: Sequence[str | None] | None = None) -> Page:
    """One page: each line's offsets (None: blank) on its slot, from the top.

    Each line is scaled so its estimated x-height (:func:`line_metrics`) equals
    the setup's, within :data:`LINE_SCALE_SPREAD` of the median scale of the lines
    laid out so far, this page's included (``scales`` gathers them from page to page),
    so the pages look written by one hand at one size; a line whose own estimate
    cannot be believed (:func:`own_size_trusted`: too few letter tops, or a text,
    where ``texts`` gives it, mostly of digits and capitals) gets the median scale.
    Its baseline is put on the slot's baseline at the middle of the line, and the
    line starts at the left margin
    or is centred. A line still wider than the text width is shrunk to fit.
    Natural drift stays: only the part of the baseline's tilt beyond
    :data:`MAX_TILT_DEGREES` is rotated away. Descenders and ascenders of
    neighbouring lines are shortened until they clear (:func:`keep_apart`).
    """
    texts = texts if texts is not None else [None] * len(entries)
    measured = [(split_strokes(ink), slot, text) for (ink, slot), text in zip(entries, texts) if ink is not None and len(ink)]
    metrics = [measure_strokes(strokes) for strokes, _, _ in measured]
    trusted = [own_size_trusted(m, text) for (_, _, text), m in zip(measured, metrics)]
    scales.extend(setup.x_height_mm / m.x_height for m, believed in zip(metrics, trusted) if believed)
    typical = median(scales) if scales else None
    page = Page(*setup.size, lines=[])
    above: tuple[int, PlacedLine] | None = None  # the line placed last: slot, ink
    for (strokes, slot, _), m, believed in zip(measured, metrics, trusted):
        scale = _line_scale(setup.x_height_mm / m.x_height, believed, typical)
        line = _place(strokes, m, scale, setup.baseline_y(slot), setup)
        if above is not None and above[0] == slot - 1:
            above[1].strokes, line.strokes = keep_apart(above[1], line, setup.baseline_y(slot - 1), setup)
        page.lines.append(line)
        above = (slot, line)
    return page


#: Width in mm of the columns in which :func:`line_clearance` compares two lines' inks.
CLEARANCE_COLUMN_MM = 0.25


def _columns(line: PlacedLine) -> tuple[np.ndarray, np.ndarray]:
    """The line's ink resampled at most a column apart: (column index, y) of every point."""
    ink, ends = laid_end_to_end(line.strokes)
    segments = np.diff(ink, axis=0)
    counts = np.maximum(1, np.ceil(np.hypot(*segments.T) / CLEARANCE_COLUMN_MM)).astype(np.int64)
    counts[ends[:-1] - 1] = 1  # pen up between strokes: its start point only
    which = np.repeat(np.arange(len(segments)), counts)  # each new point's segment, `count` points apiece
    step = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts)  # 0 .. count - 1 within it
    points = np.concatenate([ink[which] + (step / counts[which])[:, None] * segments[which], ink[-1:]])
    return np.floor(points[:, 0] / CLEARANCE_COLUMN_MM).astype(np.int64), points[:, 1]


def line_clearance(upper: PlacedLine, lower: PlacedLine) -> float:
    """Smallest vertical gap in mm between the ink of ``upper`` and of the line below it (negative: they cross).

    Compared column by column (:data:`CLEARANCE_COLUMN_MM` wide): in each column
    both lines write in, the gap runs from the lowest point of the upper line
    (its descenders) to the highest point of the lower one (its ascenders).
    Infinite where the lines share no column.
    """
    up_columns, up_y = _columns(upper)
    low_columns, low_y = _columns(lower)
    start = min(up_columns.min(), low_columns.min())
    size = max(up_columns.max(), low_columns.max()) - start + 1
    lowest = np.full(size, -np.inf)
    np.maximum.at(lowest, up_columns - start, up_y)
    highest = np.full(size, np.inf)
    np.minimum.at(highest, low_columns - start, low_y)
    shared = np.isfinite(lowest) & np.isfinite(highest)
    return float((highest[shared] - lowest[shared]).min()) if shared.any() else math.inf


#: Least gap kept between the descenders of one line and the ascenders of the next, in x-heights.
MIN_LINE_CLEARANCE = 0.15

#: The smallest share of their length :func:`keep_apart` shortens descenders and ascenders to.
MIN_STRETCH = 0.5


def keep_apart(
    upper: PlacedLine, lower: PlacedLine, baseline: float, setup: PageSetup
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The strokes of two neighbouring lines (``upper``'s baseline at ``baseline``), kept from touching.

    Where the descenders of the upper line come within :data:`MIN_LINE_CLEARANCE`
    of the ascenders of the lower one, both are shortened, as a writer short of
    room does: the part of the upper line below its baseline and the part of the
    lower line above its x-height are scaled towards those lines by one factor,
    the largest (in steps of 5%, down to :data:`MIN_STRETCH`) that clears. The
    letters' bodies between baseline and x-height stay as written.
    """
    least = MIN_LINE_CLEARANCE * setup.x_height_mm
    if line_clearance(upper, lower) >= least:
        return upper.strokes, lower.strokes
    top = baseline + setup.line_spacing - setup.x_height_mm  # the lower line's x-height line (y down)
    for factor in np.arange(0.95, MIN_STRETCH - 1e-9, -0.05):
        shortened = (
            [_stretch_beyond(s, baseline, factor, below=True) for s in upper.strokes],
            [_stretch_beyond(s, top, factor, below=False) for s in lower.strokes],
        )
        if line_clearance(PlacedLine(shortened[0]), PlacedLine(shortened[1])) >= least:
            break
    return shortened


def _stretch_beyond(stroke: np.ndarray, level: float, factor: float, below: bool) -> np.ndarray:
    """``stroke`` with the part beyond ``level`` (below it, y down, or above it) scaled towards it by ``factor``."""
    out = stroke.copy()
    beyond = out[:, 1] > level if below else out[:, 1] < level
    out[beyond, 1] = level + (out[beyond, 1] - level) * factor
    return out


def page_slots(blanks: Sequence[bool], lines_per_page: int) -> list[tuple[int, int] | None]:
    """Where each line goes, as (page, slot); None for a blank line that would start a page (it is dropped).

    Known from the text alone, before any ink is sampled: :func:`page_count` tells how
    many pages a text fills.
    """
    places: list[tuple[int, int] | None] = []
    page = slot = 0
    for blank in blanks:
        if slot == lines_per_page:
            if blank:
                places.append(None)
                continue
            page, slot = page + 1, 0
        places.append((page, slot))
        slot += 1
    return places


def page_count(places: Sequence[tuple[int, int] | None]) -> int:
    """Pages the lines of :func:`page_slots` fill (at least one)."""
    return 1 + max((page for page, _ in filter(None, places)), default=0)


def _line_scale(own: float, trusted: bool, typical: float | None) -> float:
    """A line's scale: its own estimate kept near the page's median (:data:`LINE_SCALE_SPREAD`), or the median."""
    if typical is None:
        return own
    if not trusted:
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
    if width * scale > setup.widest_line:
        scale = setup.widest_line / width
    x0 = setup.margin + ((setup.text_width - width * scale) / 2 if setup.align == "center" else 0.0)
    origin = np.array([x0 - left * scale, baseline_y])  # where the line's baseline starts on the page (mm, y down)
    return PlacedLine([origin + flip_y(s) * scale for s in local])
