"""Output formats: placed pages -> SVG text -> PNG, PDF or GIF; plotter files; and the one table of formats.

:func:`page_svg` writes one page as a standalone SVG document; PNG and PDF are
rendered from that SVG by cairosvg's public API, so they show exactly what the SVG
shows. A PDF holds every page: cairosvg writes one page per PDF, and pypdf joins
them (and leaves out cairo's creation date, so the same input gives the same bytes).
Animations come from :mod:`scribe.writing.animation`, plotter files from
:mod:`scribe.writing.plotter`. Adding a format is one row of :data:`FORMATS`.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from scribe.errors import ScribeError
from scribe.writing.animation import animated_ink, check_speed, page_gif
from scribe.writing.curves import svg_number, svg_path
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
MAX_PNG_PIXELS = 32_767  # cairo's largest image side
DPI_RANGE = (10.0, 1200.0)  # an A4 page at 1200 dpi is 10,000 x 14,000 pixels
_RULE_COLOUR = "#9fbfe6"
_MARGIN_RULE_COLOUR = "#e6a0a0"
_RULE_WIDTH = 0.2  # mm
#: How scribe marks the files it writes, so that it only ever removes its own (stale pages).
SVG_MARK = f"<!-- {WRITTEN_BY} -->"
PNG_MARK = b"Software\x00scribe"  # a PNG tEXt chunk's keyword and text

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
    if setup.ruled:
        left, top = page.origin  # a page cropped to its ink keeps the rules where the paper had them
        rows = [setup.baseline_y(slot) - top for slot in range(setup.lines_per_page)]
        parts.append(_rule("".join(f"M0 {svg_number(y)}H{w}" for y in rows if 0 <= y <= page.height), _RULE_COLOUR))
        if 0 < setup.margin - left <= page.width:
            parts.append(_rule(f"M{svg_number(setup.margin - left)} 0V{h}", _MARGIN_RULE_COLOUR))
    parts.append(
        f'<g fill="none" stroke="{setup.ink}" stroke-width="{svg_number(setup.pen_width)}" '
        'stroke-linecap="round" stroke-linejoin="round">'
    )
    if ink is None:
        ink = [f'<path d="{"".join(svg_path(s) for s in line.strokes)}"/>' for line in page.lines]
    parts.extend(ink)
    parts.append("</g>\n</svg>\n")
    return "\n".join(parts)


def _rule(path: str, colour: str) -> str:
    """A thin printed line of ruled paper."""
    return f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="{svg_number(_RULE_WIDTH)}"/>'


# --------------------------------------------------------------------------- PNG and PDF


def svg_to_png(svg: str, dpi: float = DEFAULT_DPI) -> bytes:
    """Rasterize an SVG page at ``dpi`` pixels per inch; a page without background stays transparent."""
    import cairosvg

    check_dpi(dpi)
    return _with_mark(cairosvg.svg2png(bytestring=svg.encode("utf-8"), dpi=dpi))


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


def _with_mark(png: bytes) -> bytes:
    """``png`` with a tEXt chunk naming scribe as its software, right after the IHDR chunk."""
    after_header = 8 + 8 + 13 + 4  # signature, IHDR length and type, IHDR data, CRC
    chunk = struct.pack(">I", len(PNG_MARK)) + b"tEXt" + PNG_MARK + struct.pack(">I", zlib.crc32(b"tEXt" + PNG_MARK))
    return png[:after_header] + chunk + png[after_header:]


def written_by_scribe(path: Path) -> bool:
    """Whether the file at ``path`` is a page scribe wrote (its mark is near the start)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    return WRITTEN_BY.encode() in head or b"tEXt" + PNG_MARK in head


def svgs_to_pdf(svgs: Sequence[str]) -> bytes:
    """One vector PDF with one page per SVG, in order, each page keeping its size in mm."""
    import cairosvg
    import pypdf

    if not svgs:
        raise ScribeError("there is no page to write: give at least one line of text")
    joined = pypdf.PdfWriter()
    for svg in svgs:
        joined.append(io.BytesIO(cairosvg.svg2pdf(bytestring=svg.encode("utf-8"))))
    output = io.BytesIO()
    joined.write(output)
    return output.getvalue()


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


def _svg(pages: Sequence[Page], setup: PageSetup, options: RenderOptions) -> list[bytes]:
    animate = options.animate
    return [page_svg(p, setup, animated_ink(p, setup, options.speed, options.loop) if animate else None).encode()
            for p in pages]


def _png(pages: Sequence[Page], setup: PageSetup, options: RenderOptions) -> list[bytes]:
    return [svg_to_png(page_svg(p, setup), options.dpi) for p in pages]


def _pdf(pages: Sequence[Page], setup: PageSetup, options: RenderOptions) -> list[bytes]:
    return [svgs_to_pdf([page_svg(p, setup) for p in pages])]


def _gif(pages: Sequence[Page], setup: PageSetup, options: RenderOptions) -> list[bytes]:
    return [page_gif(page_svg(Page(p.width, p.height, []), setup), page_svg(p, setup), p, setup, options.dpi,
                     options.speed, options.loop) for p in pages]


def _plans(pages: Sequence[Page], options: RenderOptions) -> list[PagePlot]:
    return [plan_page(page, options.plot) for page in pages]


Render = Callable[[Sequence[Page], PageSetup, RenderOptions], list[bytes]]


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
