"""Reading a sample of the user's handwriting (``--style-file``) for the model to continue in.

Accepted files, each one line of handwriting:

- ``.svg``: single-line strokes, one stroke per subpath of ``<path>`` (straight and
  Bezier segments), ``<polyline>`` or ``<line>``; ``transform`` attributes are applied.
- ``.json``: ``{"text": "what it says", "strokes": [[[x, y], ...], ...]}``, y down
  as on a screen, in any unit.
- ``.npz``: ``offsets`` in scribe's stroke format (:mod:`scribe.ink.strokes`) and
  optionally ``text`` - a sample written by ``scribe split`` works as it is.
- ``.xml``: an IAM-OnDB ``lineStrokes`` file.

The ink is rescaled so that its x-height matches the model's training data and
thinned like the training data (:func:`scribe.ink.strokes.simplify`), then returned as
offsets in the model's units with the text it shows.

The file comes from outside, so everything in it is checked before it costs
anything: its size (:data:`MAX_STYLE_FILE_BYTES`), its number of points
(:data:`MAX_STYLE_POINTS`: priming runs every point through the network), and its
coordinates (finite, within :data:`MAX_COORDINATE`); attributes that are not
numbers, NaN in JSON and Python objects in an ``.npz`` are refused, never guessed at.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib import format as npy_format

from scribe.errors import ScribeError, reason
from scribe.ink.metrics import ADVANCE_PER_X_HEIGHT, line_metrics
from scribe.ink.strokes import (
    offsets_to_points,
    points_to_offsets,
    simplify_offsets,
    strokes_to_offsets,
    validate_offsets,
)
from scribe.ink.text import fit_to_alphabet
from scribe.safeio import checked_array, parse_xml_safely, read_npz_safely, require_keys
from scribe.writing.network import InferenceModel

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

CURVE_SAMPLES = 8  # points per Bezier segment
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_SEPARATORS = re.compile(r"[\s,]*")
_COMMAND = re.compile(r"([MmLlHhVvCcSsQqTtAaZz])([^MmLlHhVvCcSsQqTtAaZz]*)")
_PATH_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}
_TRANSFORM = re.compile(r"(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)")
_TRANSFORM_ARGS = {"matrix": (6,), "translate": (1, 2), "scale": (1, 2), "rotate": (1, 3), "skewX": (1,), "skewY": (1,)}
_SVG_NS = "{http://www.w3.org/2000/svg}"
_JSON_SHAPE = '{"text": ..., "strokes": [[[x, y], ...], ...]}'
_NPZ_WHAT = "stroke .npz"
MAX_STYLE_FILE_BYTES = 2_000_000  # a line of handwriting is a few kilobytes in any of the formats
#: Most points a style sample may have, as read (before thinning). A line of IAM-OnDB has about
#: 600 (at most 1,940); priming feeds every point through the network: 20,000 take about 12 s.
MAX_STYLE_POINTS = 20_000
#: Longest text a style sample may say it shows: one line of handwriting, and priming encodes all of it.
MAX_STYLE_TEXT_CHARS = 300
#: Largest coordinate (or, in an ``.npz``, step) accepted, in the file's own unit: far beyond any
#: drawing of one line, and small enough that no difference or rescaling can overflow.
MAX_COORDINATE = 1e9
# An .npz array is read whole before its points are counted: this bounds what that costs
# (20,000 float64 points take 480 kB; a 2 MB file of zeros could inflate to 2 GB).
_MAX_NPZ_ARRAY_BYTES = 16_000_000


def read_style_file(path: Path, style_text: str | None, model: InferenceModel) -> tuple[np.ndarray, str]:
    """The handwriting in ``path`` as offsets in the model's units, and the text it shows."""
    path = Path(path)
    if path.suffix.lower() not in READERS:
        raise ScribeError(f"style sample {path}: unknown kind of file; use {style_file_kinds()}")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_STYLE_FILE_BYTES + 1)
    except OSError as exc:
        raise ScribeError(f"cannot read the style sample {path}: {exc.strerror or reason(exc)}; check the path") from exc
    return read_style_bytes(data, path.suffix.lower(), str(path), style_text, model)


def read_style_bytes(data: bytes, kind: str, source: str, style_text: str | None,
                     model: InferenceModel) -> tuple[np.ndarray, str]:
    """A style sample's bytes, of the ``kind`` an extension names (``".json"``...), as :func:`read_style_file` reads them.

    ``source`` names the sample in errors (a path, or what a web page sent).
    """
    if len(data) > MAX_STYLE_FILE_BYTES:
        raise ScribeError(f"style sample {source} is over {MAX_STYLE_FILE_BYTES:,} bytes; one line of handwriting is far less")
    offsets, file_text = READERS[kind][1](data, source)
    if offsets is None:
        raise ScribeError(f"style sample {source} holds no strokes; it must show one line of handwriting")
    problem = validate_offsets(offsets)
    if problem is not None:
        raise ScribeError(f"style sample {source} is not a usable line ({problem}); it must show one line of handwriting")
    text = _style_text(style_text, file_text, source, model)
    return _to_model_units(offsets, model, source), text


def _style_text(style_text: str | None, file_text: str | None, source: str, model: InferenceModel) -> str:
    """The text the sample shows, fitted to the model's alphabet; it must keep something the model can write."""
    words = style_text if style_text is not None else file_text
    if not words or not words.strip():
        raise ScribeError(f"style sample {source} does not say what it shows; give its `style_text`")
    if len(words) > MAX_STYLE_TEXT_CHARS:
        raise ScribeError(f"the style text of {source} has {len(words):,} characters; one line of handwriting has "
                          f"at most {MAX_STYLE_TEXT_CHARS}: give the text of the one line the sample shows")
    words = " ".join(words.split())
    fitted, _ = fit_to_alphabet(words, model.alphabet)
    if not fitted.strip():
        shown = words if len(words) <= 40 else words[:40].rsplit(" ", 1)[0] + " ..."
        raise ScribeError(
            f"the style text {shown!r} of {source} has no character the model can write; "
            "give the `style_text` the sample shows, in letters, digits or punctuation"
        )
    return fitted


def _to_model_units(offsets: np.ndarray, model: InferenceModel, source: str) -> np.ndarray:
    """Offsets in any unit -> offsets whose x-height is the training data's, thinned as it was.

    The ink is first brought to a unit extent, so that measuring it sees ordinary
    numbers whatever the file's unit (ink a millionth of a unit tall would underflow
    on the way). Every step lies inside the ink's bounding box, so none grows past 1.
    """
    scaled = offsets.astype(np.float64)
    scaled[:, :2] /= np.ptp(offsets_to_points(scaled)[:, :2], axis=0).max()  # > 0: validate_offsets saw movement
    height = line_metrics(scaled).x_height
    if not height > 0:
        raise ScribeError(f"the ink of style sample {source} has no height; it must show a line of handwriting")
    target = model.char_width / ADVANCE_PER_X_HEIGHT
    scaled[:, :2] *= target / height
    return simplify_offsets(scaled, model.simplified_at)  # thinned as the model's training ink was


def _check_count(count: int, source: str) -> None:
    """Refuse a sample of more than :data:`MAX_STYLE_POINTS` points, before anything costs more."""
    if count > MAX_STYLE_POINTS:
        raise ScribeError(
            f"style sample {source} has over {MAX_STYLE_POINTS:,} points; one line of handwriting needs far fewer: "
            "give a single line, drawn with fewer points"
        )


def _check_coordinates(values: np.ndarray, source: str) -> None:
    """Refuse NaN, infinity and coordinates beyond :data:`MAX_COORDINATE` (their differences could overflow)."""
    if not np.all(np.isfinite(values)):
        raise ScribeError(f"style sample {source} has NaN or infinite coordinates; every coordinate must be a finite number")
    if values.size and np.abs(values).max() > MAX_COORDINATE:
        raise ScribeError(
            f"style sample {source} has coordinates beyond ±{MAX_COORDINATE:,.0f}; "
            "one line of handwriting spans far less: rescale it"
        )


def _from_strokes(strokes: list[np.ndarray], source: str) -> np.ndarray | None:
    """Offsets of y-down strokes (screens, SVG, tablets), or None when there is no point."""
    kept = [stroke for stroke in strokes if len(stroke)]
    if not kept:
        return None
    _check_count(sum(len(stroke) for stroke in kept), source)
    _check_coordinates(np.concatenate(kept), source)
    return strokes_to_offsets(kept)


def _read_json(data: bytes, source: str) -> tuple[np.ndarray | None, str | None]:
    """A style JSON's strokes and text; NaN and Infinity, which Python's json would accept, are refused."""
    try:
        content = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ScribeError(f"{source} is not a scribe style JSON ({reason(exc)}); expected {_JSON_SHAPE}") from None
    strokes = content.get("strokes") if isinstance(content, dict) else None
    if not isinstance(strokes, list):
        raise ScribeError(f'{source} is not a scribe style JSON (no "strokes" list); expected {_JSON_SHAPE}')
    arrays = [_json_stroke(stroke, source) for stroke in strokes]
    text = content.get("text")
    return _from_strokes(arrays, source), text if isinstance(text, str) else None


def _refuse_constant(name: str) -> float:
    """Python's json reads NaN and Infinity, which JSON does not have; a coordinate must be a number."""
    raise ValueError(f"{name} is not a number")


def _json_stroke(stroke: object, source: str) -> np.ndarray:
    """One JSON stroke as an (n, 2) array; anything but a list of [x, y] number pairs is refused."""
    try:
        array = np.asarray(stroke, dtype=np.float64)
        pairs = isinstance(stroke, list) and (array.size == 0 or (array.ndim == 2 and array.shape[1] == 2))
        pairs = pairs and not _holds_bool(stroke)  # json's true is a Python int, but not a coordinate
    except (TypeError, ValueError, OverflowError):
        pairs = False
    if not pairs:
        raise ScribeError(f"{source} is not a scribe style JSON (a stroke is not a list of [x, y] pairs); expected {_JSON_SHAPE}")
    return array.reshape(-1, 2)


def _holds_bool(value: object) -> bool:
    return isinstance(value, bool) or (isinstance(value, list) and any(_holds_bool(item) for item in value))


def _read_npz(data: bytes, source: str) -> tuple[np.ndarray | None, str | None]:
    """A stroke ``.npz``'s offsets and text, read without pickle and with its declared sizes checked first."""
    if data.startswith(npy_format.MAGIC_PREFIX):
        raise ScribeError(f"{source} is one .npy array, not an .npz; save it with numpy.savez(file, offsets=..., text=...)")
    arrays = read_npz_safely(
        io.BytesIO(data), _NPZ_WHAT, source=source, keys=("offsets", "text"), objects=False, max_bytes=_MAX_NPZ_ARRAY_BYTES
    )
    require_keys(arrays, ("offsets",), Path(source), _NPZ_WHAT)
    offsets = checked_array(arrays["offsets"], "iuf", f"{source}: offsets", _NPZ_WHAT, ndim=2)
    if offsets.shape[1] != 3:
        raise ScribeError(f"{source}: offsets have shape {offsets.shape}, expected (T, 3) [dx, dy, pen_up]")
    _check_count(len(offsets), source)
    offsets = offsets.astype(np.float64)
    _check_coordinates(offsets, source)
    text = str(checked_array(arrays["text"], "U", f"{source}: text", _NPZ_WHAT, ndim=0)) if "text" in arrays else None
    return (offsets if len(offsets) else None), text


def _read_xml(data: bytes, source: str) -> tuple[np.ndarray | None, str | None]:
    """An IAM-OnDB line file's points as offsets; such files never say what they show."""
    # Imported here: the dataset package loads every dataset's reader, which writing in a style never needs.
    from scribe.datasets.iam_ondb import read_iam_ondb_xml

    points = read_iam_ondb_xml(data, source)  # whole int32 numbers: their differences cannot overflow
    _check_count(len(points), source)
    return (points_to_offsets(points) if len(points) else None), None


# --------------------------------------------------------------------------- SVG


def _read_svg(data: bytes, source: str) -> tuple[np.ndarray | None, str | None]:
    """The strokes of every shape, walked with a stack (documents may nest deeper than Python recurses).

    Transforms can scale finite coordinates past float64; such points come out
    infinite, quietly, and are refused with the others by :func:`_from_strokes`.
    """
    # A plain DOCTYPE (as SVG editors write) only names a DTD, never fetched: accepted.
    # Entity declarations and external entities are refused by parse_xml_safely.
    root = parse_xml_safely(data, source, "an SVG drawing", allow_doctype=True)
    strokes: list[np.ndarray] = []
    count = 0
    stack = [(root, np.eye(3))]
    with np.errstate(over="ignore", invalid="ignore"):
        while stack:
            element, matrix = stack.pop()
            if "transform" in element.attrib:
                matrix = matrix @ _transform(element.attrib["transform"], source)
            for shape in _shapes(element, source):
                strokes.append((np.column_stack([shape, np.ones(len(shape))]) @ matrix.T)[:, :2])
                count += len(shape)
            _check_count(count, source)
            stack.extend((child, matrix) for child in reversed(element))
    return _from_strokes(strokes, source), None


def _shapes(element: ET.Element, source: str) -> list[np.ndarray]:
    """The point arrays one element draws (none for groups and everything that is not a line shape)."""
    tag = element.tag.removeprefix(_SVG_NS)
    if tag == "path":
        return _path_strokes(element.get("d", ""), source)
    if tag in ("polyline", "polygon"):
        values = _numbers(element.get("points", ""), f"the points of a <{tag}>", source)
        shape = np.array(values[: len(values) // 2 * 2]).reshape(-1, 2)
        return [np.vstack([shape, shape[:1]]) if tag == "polygon" and len(shape) else shape]
    if tag == "line":
        coords = [_numbers(element.get(key, "0"), f"the {key} attribute of a <line>", source) for key in ("x1", "y1", "x2", "y2")]
        if any(len(value) != 1 for value in coords):
            raise ScribeError(f"style sample {source}: a <line> has an x1, y1, x2 or y2 that is not one number; fix it")
        return [np.array(coords).reshape(2, 2)]
    return []


def _numbers(text: str, what: str, source: str) -> list[float]:
    """The numbers of an SVG attribute, separated by spaces or commas; anything else in it is refused."""
    values = [float(value) for value in _NUMBER.findall(text)]
    if not _SEPARATORS.fullmatch(_NUMBER.sub(" ", text)) or not all(math.isfinite(value) for value in values):
        raise ScribeError(f"style sample {source}: {what} is not a list of finite numbers; fix it or export the drawing again")
    return values


def _transform(value: str, source: str) -> np.ndarray:
    """An SVG ``transform`` attribute as a 3x3 matrix; unknown or malformed functions are refused."""
    calls = _TRANSFORM.findall(value)
    if not _SEPARATORS.fullmatch(_TRANSFORM.sub(" ", value)):
        raise ScribeError(f"style sample {source}: a transform attribute is not a list of SVG transform functions; fix it")
    matrix = np.eye(3)
    for name, args in calls:
        v = _numbers(args, f"a transform attribute's {name}()", source)
        if len(v) not in _TRANSFORM_ARGS[name]:
            raise ScribeError(f"style sample {source}: a transform attribute's {name}() has {len(v)} numbers; fix it")
        matrix = matrix @ _transform_step(name, v)
    return matrix


def _transform_step(name: str, v: list[float]) -> np.ndarray:
    """One transform function, its arguments' count already checked, as a 3x3 matrix."""
    if name == "matrix":
        return np.array([[v[0], v[2], v[4]], [v[1], v[3], v[5]], [0, 0, 1]])
    if name == "translate":
        return np.array([[1, 0, v[0]], [0, 1, v[1] if len(v) > 1 else 0], [0, 0, 1]])
    if name == "scale":
        return np.diag([v[0], v[-1], 1.0])
    if name in ("skewX", "skewY"):
        step = np.eye(3)
        step[(0, 1) if name == "skewX" else (1, 0)] = math.tan(math.radians(v[0]))
        return step
    a = math.radians(v[0])
    cx, cy = (v[1], v[2]) if len(v) == 3 else (0.0, 0.0)
    rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    return np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]]) @ rot @ np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])


def _bezier(points: np.ndarray) -> np.ndarray:
    """Points along a quadratic or cubic Bezier (control points ``points``), without the start."""
    t = np.linspace(0, 1, CURVE_SAMPLES + 1)[1:, None]
    if len(points) == 3:
        return (1 - t) ** 2 * points[0] + 2 * (1 - t) * t * points[1] + t**2 * points[2]
    return (1 - t) ** 3 * points[0] + 3 * (1 - t) ** 2 * t * points[1] + 3 * (1 - t) * t**2 * points[2] + t**3 * points[3]


def _path_strokes(d: str, source: str) -> list[np.ndarray]:
    """The subpaths of a path's ``d`` as point arrays (arcs drawn as straight segments).

    Anything that is not a command with whole sets of numbers is refused, and a
    path is counted as it is read, so a huge one stops at :data:`MAX_STYLE_POINTS`.
    """
    if not _SEPARATORS.fullmatch(_COMMAND.sub("", d)):
        raise ScribeError(f"style sample {source}: the d attribute of a <path> does not start with a command; fix it")
    strokes: list[list[np.ndarray]] = []
    current = start = np.zeros(2)
    last_control: np.ndarray | None = None
    count = 0
    for command, args in _COMMAND.findall(d):
        kind, relative = command.upper(), command.islower()
        values, size = _numbers(args, "the d attribute of a <path>", source), _PATH_ARGS[kind]
        if len(values) % max(size, 1) or bool(values) != bool(size):
            expected = f"sets of {size}" if size else "none"
            raise ScribeError(
                f"style sample {source}: a <path> command {command} is followed by {len(values)} numbers, expected {expected}"
            )
        count += len(values) // size * (CURVE_SAMPLES if kind in "CSQ" else 1) if size else 1
        _check_count(count, source)
        if kind == "Z":
            if strokes:
                strokes[-1].append(start.copy())
            current, last_control = start.copy(), None
        for index in range(0, len(values), max(size, 1)):
            v = np.array(values[index : index + size])
            base = current if relative else np.zeros(2)
            if kind == "M" and index == 0:
                current = start = base + v
                strokes.append([current.copy()])
                last_control = None
                continue
            if not strokes:
                strokes.append([current.copy()])
            new, last_control = _segment(kind, v, current, base, last_control)
            strokes[-1].extend(new)
            current = np.asarray(new[-1], dtype=np.float64)
    return [np.array(points) for points in strokes]


def _segment(
    kind: str, v: np.ndarray, current: np.ndarray, base: np.ndarray, last_control: np.ndarray | None
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The points one path segment adds after ``current``, and its last control point (for a following ``S``).

    ``base`` is ``current`` for a relative command and the origin for an absolute one.
    """
    if kind in ("M", "L", "T"):
        return [base + v], None
    if kind == "H":
        return [np.array([base[0] + v[0], current[1]])], None
    if kind == "V":
        return [np.array([current[0], base[1] + v[0]])], None
    if kind == "A":
        return [base + v[5:7]], None
    controls = base + v.reshape(-1, 2)
    if kind == "S":
        controls = np.vstack([2 * current - last_control if last_control is not None else current, controls])
    curve = np.vstack([current, controls])
    return list(_bezier(curve)), (curve[-2] if kind in ("C", "S") else None)


Reader = Callable[[bytes, str], tuple[np.ndarray | None, str | None]]
#: Each kind of style sample: its suffix, what it is, and how it is read.
READERS: dict[str, tuple[str, Reader]] = {
    ".svg": ("an SVG of single-line strokes", _read_svg),
    ".json": ('a JSON {"text", "strokes"}', _read_json),
    ".npz": ("a stroke .npz", _read_npz),
    ".xml": ("an IAM-OnDB line .xml", _read_xml),
}


def style_file_kinds() -> str:
    """The accepted kinds of style sample, for help and messages."""
    kinds = [description for description, _ in READERS.values()]
    return ", ".join(kinds[:-1]) + " or " + kinds[-1]
