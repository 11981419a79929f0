"""Output formats: placed pages -> SVG, PNG, PDF or GIF; plotter files; and the one table of formats.

:func:`page_svg` writes one page as a standalone SVG document; PNG and PDF pages
are drawn with cairo (:mod:`scribe.writing.cairo`) from the same paper, rules and
Beziers (:func:`page_png`, :func:`pages_pdf`), checked against cairosvg's rendering
of the SVG. A PDF holds every page, without cairo's creation date, so the same
input gives the same bytes.
Animations come from :mod:`scribe.writing.animation`, plotter files from
:mod:`scribe.writing.plotter`. Adding a format is one row of :data:`FORMATS`.
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from scribe.errors import ScribeError
from scribe.ink.strokes import laid_end_to_end, step_lengths
from scribe.writing import cairo
from scribe.writing.animation import animated_ink, check_speed, page_gif
from scribe.writing.colours import colour_rgba
from scribe.writing.curves import bezier_controls, svg_number, svg_path
from scribe.writing.layout import Page, PageSetup, fit_to_ink
from scribe.writing.plotter import (
    DEFAULT_PLOT_PROFILE,
    PLOT_PROFILES,
    WRITTEN_BY,
    PagePlot,
    PlotSettings,
    gcode,
    hpgl,
    plan_page,
    plotter_svg,
)

DEFAULT_DPI = 150.0  # PNG resolution, pixels per inch
MM_PER_INCH = 25.4
POINTS_PER_MM = 72 / MM_PER_INCH  # PDF's unit is the point
MAX_PNG_PIXELS = 32_767  # cairo's largest image side
DPI_RANGE = (10.0, 1200.0)  # an A4 page at 1200 dpi is 10,000 x 14,000 pixels
_RULE_COLOUR = "#9fbfe6"
_MARGIN_RULE_COLOUR = "#e6a0a0"
_RULE_WIDTH = 0.2  # mm
LABEL_FONT, LABEL_COLOUR = "sans-serif", "#5f6368"  # printed labels (a style sheet's names)
#: How scribe marks the files it writes, so that it only ever removes its own (stale pages).
SVG_MARK = f"<!-- {WRITTEN_BY} -->"
PNG_MARK = b"Software\x00scribe"  # a PNG tEXt chunk's keyword and text
PNG_LEVEL = 3  # zlib's: a page in 15-20 ms (6 took 35-50); an A4 page 248 KB (cairo's 330), a note 47 KB (31)

# --------------------------------------------------------------------------- SVG


def page_svg(page: Page, setup: PageSetup, ink: list[str] | None = None) -> str:
    """One page as a standalone SVG document, in millimetres.

    Strokes are smoothed with Catmull-Rom splines written as cubic Beziers, so
    the sparse points of a model's output draw as round letters, and rounded to
    0.01 mm, far below what a pen or printer resolves, to keep files small.
    One ``<path>`` per line holds one subpath per stroke; a single-point stroke
    (the dot of an i) is a zero-length segment that round caps turn into a dot.
    ``ink`` replaces those paths (the animation's one path per stroke).
    """
    setup.validate()
    w, h = svg_number(page.width), svg_number(page.height)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        SVG_MARK,
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}">',
    ]
    if setup.background is not None:
        parts.append(f'<rect x="0" y="0" width="{w}" height="{h}" fill="{setup.background}"/>')
    for colour, rules in paper_rules(page, setup):
        parts.append(_rule("".join(f"M{svg_number(x0)} {svg_number(y0)}L{svg_number(x1)} {svg_number(y1)}"
                                   for x0, y0, x1, y1 in rules), colour))
    parts.append(
        f'<g fill="none" stroke="{setup.ink}" stroke-width="{svg_number(setup.pen_width)}" '
        'stroke-linecap="round" stroke-linejoin="round">'
    )
    if ink is None:
        ink = [f'<path d="{"".join(svg_path(s) for s in line.strokes)}"/>' for line in page.lines]
    parts.extend(ink)
    parts.append("</g>")
    parts.extend(
        f'<text x="{svg_number(label.x)}" y="{svg_number(label.y)}" font-family="{LABEL_FONT}" '
        f'font-size="{svg_number(label.size)}" fill="{LABEL_COLOUR}">{_xml_text(label.text)}</text>'
        for label in page.labels
    )
    parts.append("</svg>\n")
    return "\n".join(parts)


def _xml_text(text: str) -> str:
    """``text`` as the content of an XML element (xml.sax.saxutils would load a parser package for it)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def paper_rules(page: Page, setup: PageSetup) -> list[tuple[str, list[tuple[float, float, float, float]]]]:
    """Ruled paper's lines on ``page`` (mm, y down), by colour: one under every line slot, and the margin's."""
    if not setup.ruled:
        return []
    left, top = page.origin  # a page cropped to its ink keeps the rules where the paper had them
    rows = [setup.baseline_y(slot) - top for slot in range(setup.lines_per_page)]
    rules = [(_RULE_COLOUR, [(0.0, y, page.width, y) for y in rows if 0 <= y <= page.height])]
    if 0 < setup.margin - left <= page.width:
        rules.append((_MARGIN_RULE_COLOUR, [(setup.margin - left, 0.0, setup.margin - left, page.height)]))
    return rules


def _rule(path: str, colour: str) -> str:
    """A thin printed line of ruled paper."""
    return f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="{svg_number(_RULE_WIDTH)}"/>'


# --------------------------------------------------------------------------- PNG and PDF


def check_dpi(dpi: float) -> None:
    """Refuse a resolution that makes no image or an absurdly large one (checked before any work)."""
    low, high = DPI_RANGE
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)):
        raise ScribeError(f"`dpi` must be a number, not {dpi!r}")
    if not (math.isfinite(dpi) and low <= dpi <= high):
        raise ScribeError(f"resolution {dpi} dpi is out of range; use {low:g} to {high:g}, e.g. {DEFAULT_DPI:g}")


def check_png_size(page_mm: tuple[float, float], dpi: float) -> None:
    """Refuse a PNG larger than cairo can draw (32,767 pixels a side) before any work."""
    pixels = [round(side / 25.4 * dpi) for side in page_mm]
    if max(pixels) > MAX_PNG_PIXELS:
        raise ScribeError(
            f"a {page_mm[0]:g}x{page_mm[1]:g} mm page at {dpi:g} dpi is {pixels[0]:,}x{pixels[1]:,} pixels, over the "
            f"{MAX_PNG_PIXELS:,} a PNG side can have; lower the resolution or write PDF or SVG"
        )


def png_image(pixels: np.ndarray) -> bytes:
    """A PNG file of cairo's pixels ((height, width, 4) premultiplied BGRA bytes), marked as scribe's.

    RGB where every pixel is opaque (paper), else RGBA with the colours divided by
    their alpha as cairo does; rows unfiltered, deflated at :data:`PNG_LEVEL`. cairo's
    own PNG writer took 80-150 ms of a page that samples in a second, for files of
    about the same size. The mark is a tEXt chunk naming scribe (:func:`written_by_scribe`).
    """
    height, width = pixels.shape[:2]
    alpha = pixels[..., 3:]
    opaque = bool((alpha == 255).all())
    colour_type, channels = (2, 3) if opaque else (6, 4)
    rows = np.zeros((height, 1 + width * channels), np.uint8)  # each row: filter type 0 (none), then bytes
    image = rows[:, 1:].reshape(height, width, channels)
    if opaque:
        for rgb in range(3):  # channel by channel: a reversed view of BGR copied at once took 6 times as long
            image[..., rgb] = pixels[..., 2 - rgb]
    else:
        wide = alpha.astype(np.uint32)
        image[..., :3] = (pixels[..., 2::-1] * np.uint32(255) + wide // 2) // np.maximum(wide, 1)  # 0 where alpha is 0
        image[..., 3] = alpha[..., 0]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join([b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", header), _png_chunk(b"tEXt", PNG_MARK),
                     _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_LEVEL)), _png_chunk(b"IEND", b"")])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and the CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def written_by_scribe(path: Path) -> bool:
    """Whether the file at ``path`` is a page scribe wrote (its mark is near the start)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    return WRITTEN_BY.encode() in head or b"tEXt" + PNG_MARK in head


def page_png(page: Page, setup: PageSetup, dpi: float = DEFAULT_DPI) -> bytes:
    """``page`` as a PNG image at ``dpi`` pixels per inch (a page without background stays transparent)."""
    check_dpi(dpi)
    width, height = (round(side / MM_PER_INCH * dpi) for side in (page.width, page.height))  # as cairosvg sizes an SVG
    with cairo.image_surface(width, height) as surface:
        with cairo.context(surface) as pen:
            _draw_page(pen, page, setup, dpi / MM_PER_INCH)
        return png_image(surface.pixels())


def pages_pdf(pages: Iterable[Page], setup: PageSetup) -> bytes:
    """One vector PDF of the pages, in order, each keeping its size in mm (the same pages give the same bytes).

    Each page is drawn as it comes: a long text's pages go into the PDF while its
    later pages are still being written.
    """
    pages = iter(pages)
    first = next(pages, None)
    if first is None:
        raise ScribeError("there is no page to write: give at least one line of text")
    with cairo.pdf_surface(first.width * POINTS_PER_MM, first.height * POINTS_PER_MM) as surface:
        for page in itertools.chain([first], pages):
            surface.set_size(page.width * POINTS_PER_MM, page.height * POINTS_PER_MM)
            with cairo.context(surface) as pen:
                _draw_page(pen, page, setup, POINTS_PER_MM)
                pen.show_page()
        return surface.finish()


def _draw_page(pen: cairo.Context, page: Page, setup: PageSetup, units_per_mm: float) -> None:
    """Paper, rules and ink of ``page`` drawn on a cairo context, exactly as :func:`page_svg` writes them.

    Drawing the pages directly instead of rendering their SVG skips cairosvg's parser,
    which took 40% of a page's PNG time and 80% of a PDF page's; a test compares the two.
    """
    pen.scale(units_per_mm, units_per_mm)
    if setup.background is not None:
        pen.set_source_rgba(*colour_rgba("background", setup.background))
        pen.paint()
    pen.set_pen(_RULE_WIDTH)
    for colour, rules in paper_rules(page, setup):
        pen.set_source_rgba(*colour_rgba("rule", colour))
        pen.append_path(cairo.polylines_path(np.reshape(rules, (-1, 2, 2))))
        pen.stroke()
    pen.set_source_rgba(*colour_rgba("ink", setup.ink))
    pen.set_pen(setup.pen_width, round_ends=True)
    pen.append_path(_ink_path(page))
    pen.stroke()
    pen.set_source_rgba(*colour_rgba("label", LABEL_COLOUR))
    for label in page.labels:
        pen.show_text(label.x, label.y, label.text, label.size, LABEL_FONT)


def _ink_path(page: Page) -> np.ndarray:
    """Every stroke of ``page`` as cairo path data: a Bezier per segment, as :func:`svg_path` writes it.

    A one-point stroke, or one that never moves, is a zero-length line that round caps draw as a dot.
    """
    strokes = [stroke for line in page.lines for stroke in line.strokes]
    if not strokes:
        return np.empty((0, 2))
    points, ends = laid_end_to_end(strokes)
    moves = step_lengths(points, ends) > 0  # the pen's travel between strokes is no move
    dots = np.add.reduceat(np.append(moves, False), ends - np.diff(ends, prepend=0)) == 0
    return cairo.strokes_path(points, ends, *bezier_controls(points, ends), dots)


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class RenderOptions:
    """How pages become files beyond the page itself: resolution, motion and the plotter's machine."""

    dpi: float = DEFAULT_DPI  # PNG and GIF pixels per inch
    animate: bool = False  # SVG that writes itself
    speed: float = 1.0  # animation pace, times the human pen's
    loop: bool = True  # an animation starts again after a pause at the end
    fit: bool = False  # a one-page document's page is cropped to its ink plus the setup's margin (not for plotters)
    plot: PlotSettings = PLOT_PROFILES[DEFAULT_PLOT_PROFILE]

    def check(self, fmt: OutputFormat, page_mm: Sequence[tuple[float, float]], setup: PageSetup) -> None:
        """Refuse, before any drawing, options that ``fmt`` cannot honour or pages too large to draw."""
        check_dpi(self.dpi)
        check_speed(self.speed)
        for name in ("animate", "loop", "fit"):
            if not isinstance(getattr(self, name), bool):
                raise ScribeError(f"`{name}` must be True or False, not {getattr(self, name)!r}")
        if not isinstance(self.plot, PlotSettings):
            raise ScribeError(f"`plot` must be PlotSettings or a profile name, not {self.plot!r}")
        self.plot.validate()
        if self.animate and fmt.name != "svg":
            raise ScribeError(f"{fmt.name.upper()} pages cannot move; animate an SVG, or write a GIF")
        if fmt.name == "gif" and setup.background is None:
            raise ScribeError("a GIF cannot have a see-through background; leave out `transparent` or write an SVG")
        if fmt.raster:
            for size in page_mm:
                check_png_size(size, self.dpi)

    def pages(self, fmt: OutputFormat, pages: Sequence[Page], setup: PageSetup) -> Sequence[Page]:
        """The pages as ``fmt`` draws them: cropped to the ink when asked and there is one (plotters keep the paper)."""
        if self.fit and len(pages) == 1 and not fmt.plotter:
            return [fit_to_ink(pages[0], setup.margin)]
        return pages


def _svg(pages: Iterable[Page], setup: PageSetup, options: RenderOptions) -> list[bytes]:
    animate = options.animate
    return [page_svg(p, setup, animated_ink(p, setup, options.speed, options.loop) if animate else None).encode()
            for p in pages]


def _png(pages: Iterable[Page], setup: PageSetup, options: RenderOptions) -> list[bytes]:
    return [page_png(p, setup, options.dpi) for p in pages]


def _pdf(pages: Iterable[Page], setup: PageSetup, options: RenderOptions) -> list[bytes]:
    return [pages_pdf(pages, setup)]


def _gif(pages: Iterable[Page], setup: PageSetup, options: RenderOptions) -> list[bytes]:
    return [page_gif(page_png(replace(p, lines=[]), setup, options.dpi), p, setup, options.dpi, options.speed,
                     options.loop) for p in pages]


def _plans(pages: Iterable[Page], options: RenderOptions) -> list[PagePlot]:
    return [plan_page(page, options.plot) for page in pages]


Render = Callable[[Iterable[Page], PageSetup, RenderOptions], list[bytes]]  # pages may come one by one


@dataclass(frozen=True)
class OutputFormat:
    """One output format: ``render`` turns a document's pages into the bytes of each file it writes.

    A format that holds every page in one file (PDF; G-code with pauses between
    pages) returns one item; the others return one per page (saved as
    ``name-1.png``, ``name-2.png``, ...).
    """

    name: str
    extensions: tuple[str, ...]  # the first is the one scribe suggests
    description: str
    render: Render
    one_file: Callable[[RenderOptions], bool] = lambda options: False
    raster: bool = False  # drawn in pixels: `dpi` sets its size
    fit_by_default: bool = False  # the command line crops a one-page document to its ink unless a paper is named
    plotter: bool = False  # single-line strokes for a pen plotter: no pen width, background or rules


FORMATS: dict[str, OutputFormat] = {
    fmt.name: fmt
    for fmt in (
        OutputFormat("svg", ("svg",), "vector pages (animated with `animate`)", _svg, fit_by_default=True),
        OutputFormat("png", ("png",), "images", _png, raster=True, fit_by_default=True),
        OutputFormat("pdf", ("pdf",), "one vector document", _pdf, one_file=lambda options: True),
        OutputFormat("gif", ("gif",), "animated images", _gif, raster=True, fit_by_default=True),
        OutputFormat("gcode", ("gcode", "nc", "gc", "ngc"), "G-code for pen plotters",
                     lambda pages, setup, o: gcode(_plans(pages, o), o.plot),
                     one_file=lambda options: options.plot.pages == "pause", plotter=True),
        OutputFormat("hpgl", ("hpgl", "plt", "hpg"), "HPGL for HP-style plotters",
                     lambda pages, setup, o: hpgl(_plans(pages, o), o.plot), plotter=True),
        OutputFormat("plotter-svg", (), "single-line SVG for AxiDraw and other plotters",
                     lambda pages, setup, o: plotter_svg(_plans(pages, o), setup.ink), plotter=True),
    )
}
_BY_EXTENSION = {extension: fmt for fmt in FORMATS.values() for extension in fmt.extensions}


def output_format(name: str | None, path: Path | None = None) -> OutputFormat:
    """The format called ``name``, or the one ``path``'s extension names."""
    if name is not None and not isinstance(name, str):
        raise ScribeError(f"`format` must be a name like {', '.join(FORMATS)}, not {name!r}")
    if name is not None and not name.strip():
        raise ScribeError(f"`format` is empty; use {', '.join(FORMATS)}")
    if name is not None:
        if name.lower() not in FORMATS:
            raise ScribeError(f"unknown output format `format` {name!r}; use {', '.join(FORMATS)}")
        return FORMATS[name.lower()]
    extension = path.suffix.lstrip(".").lower() if path is not None else ""
    if extension not in _BY_EXTENSION:
        given = f"extension {path.suffix or '(none)'} of {path}" if path is not None else "no format"
        extensions = ", ".join(f".{ext}" for ext in _BY_EXTENSION)
        raise ScribeError(f"unknown output format ({given}); use {extensions}, or name the `format`")
    return _BY_EXTENSION[extension]
