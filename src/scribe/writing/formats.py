"""Output formats: placed pages -> SVG text -> PNG or PDF, and the one table of formats.

:func:`page_svg` writes one page as a standalone SVG document; PNG and PDF are
rendered from that SVG by cairosvg's public API, so they show exactly what the SVG
shows. A PDF holds every page: cairosvg writes one page per PDF, and pypdf joins
them (and leaves out cairo's creation date, so the same input gives the same bytes).
Adding a format is one row of :data:`FORMATS`.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scribe.errors import ScribeError
from scribe.writing.layout import Page, PageSetup

DEFAULT_DPI = 150.0  # PNG resolution, pixels per inch
MAX_PNG_PIXELS = 32_767  # cairo's largest image side
DPI_RANGE = (10.0, 1200.0)  # an A4 page at 1200 dpi is 10,000 x 14,000 pixels
_RULE_COLOUR = "#9fbfe6"
_MARGIN_RULE_COLOUR = "#e6a0a0"
_RULE_WIDTH = 0.2  # mm
#: How scribe marks the files it writes, so that it only ever removes its own (stale pages).
SVG_MARK = "<!-- written by scribe -->"
PNG_MARK = b"Software\x00scribe"  # a PNG tEXt chunk's keyword and text

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
        SVG_MARK,
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
    return SVG_MARK.encode() in head or b"tEXt" + PNG_MARK in head


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
class OutputFormat:
    """One output format: ``render`` turns a document's SVG pages into the bytes of each file it writes.

    A format that holds every page in one file (PDF) returns one item; the others
    return one per page (saved as ``name-1.png``, ``name-2.png``, ...).
    """

    name: str
    render: Callable[[Sequence[str], float], list[bytes]]  # (page SVGs, dpi) -> one bytes per file


FORMATS: dict[str, OutputFormat] = {
    fmt.name: fmt
    for fmt in (
        OutputFormat("svg", lambda svgs, dpi: [svg.encode("utf-8") for svg in svgs]),
        OutputFormat("png", lambda svgs, dpi: [svg_to_png(svg, dpi) for svg in svgs]),
        OutputFormat("pdf", lambda svgs, dpi: [svgs_to_pdf(svgs)]),
    )
}


def output_format(name: str | None, path: Path | None = None) -> OutputFormat:
    """The format called ``name``, or the one ``path``'s extension names."""
    if name is not None and not isinstance(name, str):
        raise ScribeError(f"`format` must be a name like {', '.join(FORMATS)}, not {name!r}")
    if name is not None and not name.strip():
        raise ScribeError(f"`format` is empty; use {', '.join(FORMATS)}")
    chosen = (name or (path.suffix.lstrip(".") if path is not None else "")).lower()
    if chosen not in FORMATS:
        given = f"`format` {name!r}" if name else f"extension {path.suffix or '(none)'} of {path}" if path else "no format"
        extensions = ", ".join(f".{fmt}" for fmt in FORMATS)
        raise ScribeError(f"unknown output format ({given}); use {extensions}, or name the `format`")
    return FORMATS[chosen]
