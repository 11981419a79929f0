"""scribe's own cairo binding and colour parser: what PNG, PDF and GIF pages are drawn with, without cairocffi.

(scribe.writing.cairo, scribe.writing.colours)
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from helpers.render import png_pixels
from scribe.errors import ScribeError
from scribe.ink.strokes import laid_end_to_end
from scribe.writing import cairo
from scribe.writing.colours import SVG_COLOURS, colour_rgba
from scribe.writing.document import Document
from scribe.writing.formats import page_png, pages_pdf, png_image
from scribe.writing.layout import Page, PageSetup, PlacedLine


def small_page() -> Page:
    """A 40 x 30 mm page with a curve, a corner and a dot."""
    curve = np.array([[5.0, 20.0], [10.0, 8.0], [15.0, 20.0], [25.0, 10.0], [30.0, 22.0]])
    return Page(40.0, 30.0, [PlacedLine([curve, np.array([[20.0, 5.0]])])])


def test_without_the_cairo_library_raster_and_pdf_output_say_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    setup = PageSetup(size=(40.0, 30.0), margin=5.0)
    monkeypatch.setattr(cairo, "_NAMES", ("libno-such-cairo.so.2",))
    monkeypatch.setattr(cairo, "_SEARCH_NAMES", ("no-such-cairo-scribe",))
    cairo._cairo.cache_clear()
    try:
        for render in (lambda: page_png(small_page(), setup), lambda: pages_pdf([small_page()], setup)):
            with pytest.raises(ScribeError, match="cairo library, which was not found") as error:
                render()
            message = str(error.value)
            assert "\n" not in message and "apt install libcairo2" in message and "brew install cairo" in message
            assert "SVG and plotter output need no cairo" in message
        assert Document([small_page()], setup, lines=[]).to_svg().startswith("<?xml")  # SVG still writes
    finally:
        monkeypatch.undo()
        cairo._cairo.cache_clear()
    assert page_png(small_page(), setup).startswith(b"\x89PNG")


def test_every_colour_gives_cairosvgs_values() -> None:
    """The PNG, PDF and GIF take their colours from scribe's table and parser; cairosvg's are the reference."""
    from cairosvg.colors import COLORS, color

    assert len(SVG_COLOURS) == 147 and SVG_COLOURS.keys() <= set(COLORS)
    for name in SVG_COLOURS:
        assert colour_rgba("ink", name) == color(name), name
        assert colour_rgba("ink", f" {name.upper()} ") == color(name), name
    codes = ["#000", "#fff", "#abc", "#1B2A6B", "#9fbfe6", "#e6a0a0", "rgb(10, 20, 30)", " RGB( 1 , 2 , 3 ) ",
             "rgb(10%, 20%,30.5%)", "rgb(0,0,300)", "rgb(5 %, 100, .5)", "rgba(10,20,30,0.1)", "rgba(255, 0, 0, 1)"]
    for code in codes:
        assert colour_rgba("ink", code) == pytest.approx(color(code), abs=1e-15), code
    # cairosvg scales an alpha in per cent by 255 (127.5 here, drawn opaque); a browser shows the SVG half see-through
    assert colour_rgba("ink", "rgba(0, 0, 0, 50%)") == (0.0, 0.0, 0.0, 0.5)


@pytest.mark.parametrize("value", ["bleu", "", "#12", "#12345g", "rgb(1, 2)", "rgba(1, 2, 3)", "rgb(1.2.3, 0, 0)",
                                   "rgb(1, 2, 3, 4)", "rgb(,,)", "rgb(1 0, 2, 3)", "none", "transparent", "windowtext"])
def test_a_colour_cairo_would_draw_black_is_refused(value: str) -> None:
    with pytest.raises(ScribeError, match=re.escape(f"ink colour {value!r} is not understood")) as error:
        colour_rgba("ink", value)
    assert "\n" not in str(error.value)


def test_a_png_read_back_has_the_pixels_it_was_drawn_with() -> None:
    with cairo.image_surface(60, 40) as surface:
        with cairo.context(surface) as pen:  # on see-through paper: the antialiased edges are part transparent
            pen.set_source_rgba(*colour_rgba("ink", "darkred"))
            pen.set_pen(4.0, round_ends=True)
            pen.append_path(cairo.polylines_path([np.array([[5.0, 5.0], [50.0, 30.0], [20.0, 35.0]])]))
            pen.stroke()
        drawn = surface.pixels().copy()
    png = png_image(drawn)
    assert drawn.shape == (40, 60, 4) and 0 < (drawn[..., 3] == 255).sum() < (drawn[..., 3] > 0).sum()
    assert np.array_equal(png_pixels(png)[2], drawn)  # unpremultiplied as cairo does, so cairo reads back what it drew
    image = np.asarray(Image.open(io.BytesIO(png)))  # an independent reader: straight RGBA
    assert image.shape == (40, 60, 4) and np.array_equal(image[..., 3], drawn[..., 3])
    solid = drawn[..., 3] == 255
    assert np.array_equal(image[solid][:, :3], drawn[solid][:, 2::-1])
    paper = np.full((2, 3, 4), 255, np.uint8)
    paper[0, 0, :3] = 10  # opaque everywhere: written as RGB
    assert np.asarray(Image.open(io.BytesIO(png_image(paper)))).tolist() == [[[10] * 3, [255] * 3, [255] * 3], [[255] * 3] * 3]
    with cairo.image_surface(3, 2) as surface, cairo.context(surface) as pen:
        pen.set_source_rgba(*colour_rgba("ink", "#336699"))
        pen.paint()
        assert surface.pixels().tolist() == [[[0x99, 0x66, 0x33, 255]] * 3] * 2  # blue, green, red, alpha


def test_cairo_errors_are_raised_with_cairos_message() -> None:
    with pytest.raises(ScribeError, match="cairo could not draw the page: invalid value .*; use a lower `dpi`"):
        with cairo.image_surface(40_000, 10):
            pass
    png = page_png(small_page(), PageSetup(size=(40.0, 30.0), margin=5.0), dpi=50)
    with pytest.raises(RuntimeError, match="cairo failed: error while reading from input stream"):
        with cairo.png_surface(png[: len(png) // 2]):
            pass


def test_path_data_is_cairos_layout() -> None:
    """A header element is {int type, int length} padded to 16 bytes, then its points: one append, many segments."""
    starts, ends = np.array([[[1.0, 2.0]], [[5.0, 6.0]]]), np.array([[[3.0, 4.0]], [[7.0, 8.0]]])
    data = cairo.path_data((cairo.MOVE_TO, starts), (cairo.LINE_TO, ends))
    assert data.shape == (8, 2) and data.dtype == np.float64
    headers = data[::2].view(np.int32)
    assert headers[:, :2].tolist() == [[cairo.MOVE_TO, 2], [cairo.LINE_TO, 2]] * 2
    assert data[1::2].tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]
    assert np.array_equal(cairo.polylines_path([np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0], [7.0, 8.0]])]),
                          data)
    # Strokes side by side: a curve, a dot (one point), a curve, a stroke that never moves (a dot too).
    strokes = [np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]), np.array([[9.0, 9.0]]),
               np.array([[3.0, 3.0], [4.0, 5.0]]), np.array([[7.0, 7.0], [7.0, 7.0]])]
    (points, ends), dots = laid_end_to_end(strokes), np.array([False, True, False, True])
    first, second = points[:-1] + 0.25, points[1:] - 0.5
    one_by_one, start = [], 0
    for stroke, end, dot in zip(strokes, ends, dots):
        if dot:
            one_by_one.append(cairo.path_data((cairo.MOVE_TO, stroke[None, :1]), (cairo.LINE_TO, stroke[None, :1])))
        else:
            controls = np.stack([first[start : end - 1], second[start : end - 1], stroke[1:]], axis=1)
            one_by_one += [cairo.path_data((cairo.MOVE_TO, stroke[None, :1])), cairo.path_data((cairo.CURVE_TO, controls))]
        start = end
    assert np.array_equal(cairo.strokes_path(points, ends, first, second, dots), np.concatenate(one_by_one))
