"""A small binding to the system's cairo library through ctypes: what PNG, PDF and GIF pages are drawn with.

Why not cairocffi: cffi parses cairo's C headers with pycparser at every start,
0.22-0.30 s of a note that should take 0.5 s in all; ctypes declares the few
functions used here (:data:`_SIGNATURES`) with nothing to parse. The library is
loaded on first use, so SVG and plotter output never need it.

A page's strokes go to cairo in one call: :func:`path_data` and :func:`strokes_path`
lay out cairo's own path format (``cairo_path_data_t``) in a NumPy array and
:meth:`Context.append_path` hands it over, instead of a call per segment. cairo replays it through its
``move_to``/``line_to``/``curve_to``, so the pixels are those of the calls one by one.

Surfaces and contexts live in ``with`` blocks that destroy them, and every status
cairo reports is checked: running out of memory (a huge page) is a
:class:`ScribeError`, anything else a bug, raised with cairo's own message.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from scribe.errors import ScribeError

#: Names the library has on Linux, macOS and Windows, tried first; then what find_library
#: finds for :data:`_SEARCH_NAMES` (it runs other programs, so only when those fail).
_NAMES = ("libcairo.so.2", "libcairo.2.dylib", "libcairo-2.dll")
_SEARCH_NAMES = ("cairo", "cairo-2", "libcairo-2")
_MISSING = (
    "PNG, PDF and GIF output need the cairo library, which was not found: install it (Debian/Ubuntu: "
    "apt install libcairo2; Fedora: dnf install cairo; macOS: brew install cairo); SVG and plotter output need no cairo"
)

FORMAT_ARGB32 = 0
LINE_CAP_ROUND = 1
FONT_SLANT_NORMAL = FONT_WEIGHT_NORMAL = 0
LINE_JOIN_ROUND = 1
MOVE_TO, LINE_TO, CURVE_TO = 0, 1, 2  # cairo_path_data_type_t
_SUCCESS, _NO_MEMORY, _READ_ERROR = 0, 1, 10
_INVALID_SIZE = 32
_PDF_CREATE_DATE = 5  # CAIRO_PDF_METADATA_CREATE_DATE

_P = ctypes.c_void_p
_D = ctypes.c_double
_INT = ctypes.c_int
_D_P = ctypes.POINTER(ctypes.c_double)
#: cairo_write_func_t and cairo_read_func_t: (closure, data, length) -> status
_STREAM_FUNC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint)


class _Path(ctypes.Structure):
    """cairo_path_t: a status, and ``num_data`` 16-byte elements at ``data``."""

    _fields_ = [("status", ctypes.c_int), ("data", ctypes.c_void_p), ("num_data", ctypes.c_int)]


#: Every function used, with its result and argument types (ctypes would otherwise pass doubles as ints).
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "cairo_status_to_string": (ctypes.c_char_p, [_INT]),
    "cairo_image_surface_create": (_P, [_INT, _INT, _INT]),
    "cairo_image_surface_create_from_png_stream": (_P, [_STREAM_FUNC, _P]),
    "cairo_image_surface_get_data": (_P, [_P]),
    "cairo_image_surface_get_width": (_INT, [_P]),
    "cairo_image_surface_get_height": (_INT, [_P]),
    "cairo_image_surface_get_stride": (_INT, [_P]),
    "cairo_pdf_surface_create_for_stream": (_P, [_STREAM_FUNC, _P, _D, _D]),
    "cairo_pdf_surface_set_size": (None, [_P, _D, _D]),
    "cairo_pdf_surface_set_metadata": (None, [_P, _INT, ctypes.c_char_p]),
    "cairo_surface_flush": (None, [_P]),
    "cairo_surface_finish": (None, [_P]),
    "cairo_surface_status": (_INT, [_P]),
    "cairo_surface_destroy": (None, [_P]),
    "cairo_create": (_P, [_P]),
    "cairo_status": (_INT, [_P]),
    "cairo_destroy": (None, [_P]),
    "cairo_scale": (None, [_P, _D, _D]),
    "cairo_set_source_rgba": (None, [_P, _D, _D, _D, _D]),
    "cairo_paint": (None, [_P]),
    "cairo_set_line_width": (None, [_P, _D]),
    "cairo_set_line_cap": (None, [_P, _INT]),
    "cairo_set_line_join": (None, [_P, _INT]),
    "cairo_append_path": (None, [_P, ctypes.POINTER(_Path)]),
    "cairo_stroke": (None, [_P]),
    "cairo_stroke_extents": (None, [_P, _D_P, _D_P, _D_P, _D_P]),
    "cairo_user_to_device": (None, [_P, _D_P, _D_P]),
    "cairo_show_page": (None, [_P]),
    "cairo_select_font_face": (None, [_P, ctypes.c_char_p, _INT, _INT]),
    "cairo_set_font_size": (None, [_P, _D]),
    "cairo_move_to": (None, [_P, _D, _D]),
    "cairo_show_text": (None, [_P, ctypes.c_char_p]),
}


@functools.cache
def _cairo() -> Any:
    """The cairo library with every function of :data:`_SIGNATURES` declared, loaded once, on first use."""
    library = _load()
    for name, (result, arguments) in _SIGNATURES.items():
        function = getattr(library, name, None)
        if function is None:  # cairo_pdf_surface_set_metadata came with 1.16
            raise ScribeError(f"the cairo library found lacks {name}: PNG, PDF and GIF output need cairo 1.16 or newer")
        function.restype, function.argtypes = result, arguments
    return library


def _load() -> ctypes.CDLL:
    """The first cairo library that loads, by its usual names, then by a search; or the error saying how to get one."""
    for name in _NAMES:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    from ctypes.util import find_library

    for name in _SEARCH_NAMES:
        found = find_library(name)
        try:
            if found:
                return ctypes.CDLL(found)
        except OSError:
            continue
    raise ScribeError(_MISSING)


def _check(status: int) -> None:
    """Raise cairo's error, if any: out of memory is the user's (a page too large), the rest is a bug here."""
    if status == _SUCCESS:
        return
    message = _cairo().cairo_status_to_string(status).decode()
    if status in (_NO_MEMORY, _INVALID_SIZE):
        raise ScribeError(f"cairo could not draw the page: {message}; use a lower `dpi` or a smaller page")
    raise RuntimeError(f"cairo failed: {message}")


class _Stream:
    """Bytes going to cairo (a PNG it reads) or coming from it (a PDF it writes), through C callbacks.

    An exception cannot cross cairo's C code (ctypes would print it and go on), so
    the callbacks only fail by returning a status. Each callback object must live as
    long as cairo may call it: the stream is kept by the call or the surface using it.
    """

    def __init__(self, source: bytes = b"") -> None:
        self.source, self.position = source, 0
        self.chunks: list[bytes] = []
        self.read = _STREAM_FUNC(self._read)
        self.write = _STREAM_FUNC(self._write)

    def _read(self, _closure: int | None, data: int, length: int) -> int:
        chunk = self.source[self.position:self.position + length]
        self.position += length
        if len(chunk) < length:
            return _READ_ERROR
        ctypes.memmove(data, chunk, length)
        return _SUCCESS

    def _write(self, _closure: int | None, data: int, length: int) -> int:
        try:
            self.chunks.append(ctypes.string_at(data, length))
        except MemoryError:
            return _NO_MEMORY
        return _SUCCESS

    def written(self) -> bytes:
        """Everything cairo wrote."""
        return b"".join(self.chunks)


class Surface:
    """A cairo surface, to draw on with a :func:`context`; its ``with`` block (:func:`image_surface`, ...) destroys it."""

    def __init__(self, pointer: int) -> None:
        self.pointer = pointer
        self._lib = _cairo()


class ImageSurface(Surface):
    """An image in memory: ARGB pixels, premultiplied by their alpha."""

    def pixels(self) -> np.ndarray:
        """An image's pixels, (height, width, 4) premultiplied BGRA bytes: a view, valid while the surface lives."""
        lib, pointer = self._lib, self.pointer
        lib.cairo_surface_flush(pointer)
        height, width, stride = (getattr(lib, f"cairo_image_surface_get_{what}")(pointer)
                                 for what in ("height", "width", "stride"))
        memory = (ctypes.c_uint8 * (height * stride)).from_address(lib.cairo_image_surface_get_data(pointer))
        return np.frombuffer(memory, np.uint8).reshape(height, stride)[:, :4 * width].reshape(height, width, 4)


class PdfSurface(Surface):
    """A PDF being drawn page by page; :meth:`finish` gives its bytes.

    cairo stamps a PDF with the time it was made. An empty creation date (not a
    date, so cairo keeps none) leaves it out, and the same pages give the same bytes.
    """

    def __init__(self, pointer: int, stream: _Stream) -> None:
        super().__init__(pointer)
        self._stream = stream  # cairo writes through it until the surface is finished
        self._lib.cairo_pdf_surface_set_metadata(pointer, _PDF_CREATE_DATE, b"")

    def set_size(self, width: float, height: float) -> None:
        """The size of the next page, in points."""
        self._lib.cairo_pdf_surface_set_size(self.pointer, width, height)
        _check(self._lib.cairo_surface_status(self.pointer))

    def finish(self) -> bytes:
        """The document's bytes, once every page is shown: cairo writes the document's end here."""
        self._lib.cairo_surface_finish(self.pointer)
        _check(self._lib.cairo_surface_status(self.pointer))
        return self._stream.written()


@contextmanager
def _owned(pointer: int) -> Iterator[int]:
    """A new surface, checked (cairo returns an inert surface carrying the error), destroyed when the block ends."""
    lib = _cairo()
    try:
        _check(lib.cairo_surface_status(pointer))
        yield pointer
    finally:
        lib.cairo_surface_destroy(pointer)


@contextmanager
def image_surface(width: int, height: int) -> Iterator[ImageSurface]:
    """A transparent ARGB image of ``width`` x ``height`` pixels."""
    with _owned(_cairo().cairo_image_surface_create(FORMAT_ARGB32, width, height)) as pointer:
        yield ImageSurface(pointer)


@contextmanager
def png_surface(png: bytes) -> Iterator[ImageSurface]:
    """An image holding the pixels of the PNG file ``png``."""
    stream = _Stream(png)
    with _owned(_cairo().cairo_image_surface_create_from_png_stream(stream.read, None)) as pointer:
        yield ImageSurface(pointer)


@contextmanager
def pdf_surface(width: float, height: float) -> Iterator[PdfSurface]:
    """A PDF whose first page is ``width`` x ``height`` points."""
    stream = _Stream()
    with _owned(_cairo().cairo_pdf_surface_create_for_stream(stream.write, None, width, height)) as pointer:
        yield PdfSurface(pointer, stream)


@contextmanager
def context(surface: Surface) -> Iterator[Context]:
    """A drawing context on ``surface``; an error in the drawing (cairo keeps the first) is raised at the end."""
    lib = _cairo()
    pointer = lib.cairo_create(surface.pointer)
    try:
        _check(lib.cairo_status(pointer))
        yield Context(pointer)
        _check(lib.cairo_status(pointer))
    finally:
        lib.cairo_destroy(pointer)


class Context:
    """cairo's drawing calls that pages need, by their cairo names (``cairo_stroke`` -> :meth:`stroke`)."""

    def __init__(self, pointer: int) -> None:
        self._pointer = pointer
        self._lib = _cairo()

    def scale(self, x: float, y: float) -> None:
        self._lib.cairo_scale(self._pointer, x, y)

    def set_source_rgba(self, red: float, green: float, blue: float, alpha: float) -> None:
        self._lib.cairo_set_source_rgba(self._pointer, red, green, blue, alpha)

    def paint(self) -> None:
        self._lib.cairo_paint(self._pointer)

    def set_pen(self, width: float, round_ends: bool = False) -> None:
        """The line width; with ``round_ends``, round caps and joins too (a pen's tip; cairo's own ends are flat)."""
        self._lib.cairo_set_line_width(self._pointer, width)
        if round_ends:
            self._lib.cairo_set_line_cap(self._pointer, LINE_CAP_ROUND)
            self._lib.cairo_set_line_join(self._pointer, LINE_JOIN_ROUND)

    def append_path(self, data: np.ndarray) -> None:
        """Add the elements of ``data`` (:func:`path_data`'s rows) to the current path, in one call."""
        data = np.ascontiguousarray(data, dtype=np.float64)
        path = _Path(_SUCCESS, data.ctypes.data, len(data))  # cairo copies the elements before it returns
        self._lib.cairo_append_path(self._pointer, ctypes.byref(path))

    def stroke(self) -> None:
        self._lib.cairo_stroke(self._pointer)

    def stroke_extents(self) -> tuple[float, float, float, float]:
        """Left, top, right and bottom of what :meth:`stroke` would cover, in user units."""
        box = [ctypes.c_double() for _ in range(4)]
        self._lib.cairo_stroke_extents(self._pointer, *(ctypes.byref(side) for side in box))
        return box[0].value, box[1].value, box[2].value, box[3].value

    def user_to_device(self, x: float, y: float) -> tuple[float, float]:
        """A point in user units (mm here) in device units (pixels)."""
        dx, dy = ctypes.c_double(x), ctypes.c_double(y)
        self._lib.cairo_user_to_device(self._pointer, ctypes.byref(dx), ctypes.byref(dy))
        return dx.value, dy.value

    def show_page(self) -> None:
        self._lib.cairo_show_page(self._pointer)

    def show_text(self, x: float, y: float, text: str, size: float, family: str) -> None:
        """``text`` in the system's ``family`` font (cairo's "toy" text), ``size`` high, its baseline starting at x, y."""
        self._lib.cairo_select_font_face(self._pointer, family.encode(), FONT_SLANT_NORMAL, FONT_WEIGHT_NORMAL)
        self._lib.cairo_set_font_size(self._pointer, size)
        self._lib.cairo_move_to(self._pointer, x, y)
        self._lib.cairo_show_text(self._pointer, text.encode())


# --------------------------------------------------------------------------- paths as arrays


def _header(kind: int, points: int) -> np.ndarray:
    """The header row of a path element of ``points`` points: ``int type, int length`` (in rows), then padding."""
    return np.array([kind, points + 1, 0, 0], np.int32).view(np.float64)


def path_data(*elements: tuple[int, np.ndarray]) -> np.ndarray:
    """cairo_path_data_t elements as (n, 2) float64 rows, for :meth:`Context.append_path`.

    Each ``(kind, points)`` gives ``len(points)`` elements of ``kind`` with ``k``
    points each (``points`` is (count, k, 2)); the pairs interleave, element ``i``
    of each after element ``i`` of the one before, so ``(MOVE_TO, starts), (LINE_TO,
    ends)`` makes separate segments. An element is a 16-byte header row, then a row per point.
    """
    blocks = []
    for kind, points in elements:
        count, size = points.shape[:2]
        block = np.empty((count, size + 1, 2))
        block[:, 0] = _header(kind, size)
        block[:, 1:] = points
        blocks.append(block)
    return np.concatenate(blocks, axis=1).reshape(-1, 2)


def strokes_path(points: np.ndarray, ends: np.ndarray, first: np.ndarray, second: np.ndarray,
                 dots: np.ndarray) -> np.ndarray:
    """Path data of strokes laid one after another in ``points`` (each ends one before its entry of ``ends``).

    Each stroke is a move to its first point and a Bezier to each next one, with the
    control points ``first[j]`` and ``second[j]`` for the curve from point ``j``
    (:func:`scribe.writing.curves.bezier_controls`); where ``dots`` is set, a move
    and a line to that same point, which round caps draw as a dot (a one-point stroke
    must be one: unmarked, it is a lone move and draws nothing). The same rows as
    :func:`path_data` of each element in turn, in one array at once: a page has hundreds of strokes.
    """
    sizes = np.diff(ends, prepend=0)
    starts = ends - sizes
    curves = np.where(dots, 0, sizes - 1)
    rows = 2 + np.where(dots, 2, 4 * curves)
    top = np.cumsum(rows) - rows  # each stroke's first row
    data = np.empty((int(rows.sum()), 2))
    data[top], data[top + 1] = _header(MOVE_TO, 1), points[starts]
    data[top[dots] + 2], data[top[dots] + 3] = _header(LINE_TO, 1), points[starts[dots]]
    owner = np.repeat(np.arange(len(ends)), curves)
    step = np.arange(len(owner)) - np.repeat(np.cumsum(curves) - curves, curves)  # a curve's place in its stroke
    row, start = top[owner] + 2 + 4 * step, starts[owner] + step
    data[row], data[row + 1], data[row + 2], data[row + 3] = _header(CURVE_TO, 3), first[start], second[start], points[start + 1]
    return data


def polylines_path(polylines: Iterable[np.ndarray]) -> np.ndarray:
    """Path data of polylines ((n, 2) points each, n >= 2): a move to the first point, a line to each next one."""
    pieces = [np.concatenate([path_data((MOVE_TO, line[None, :1])), path_data((LINE_TO, line[1:, None]))])
              for line in polylines]
    return np.concatenate(pieces) if pieces else np.empty((0, 2))
