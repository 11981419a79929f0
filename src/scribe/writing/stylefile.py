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
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from scribe.datasets.iam_ondb import read_iam_ondb_xml
from scribe.datasets.split import DEFAULT_SIMPLIFY_EPS  # the training data was thinned as split thins it
from scribe.errors import ScribeError
from scribe.ink.metrics import ADVANCE_PER_X_HEIGHT, line_metrics
from scribe.ink.strokes import offsets_to_points, points_to_offsets, simplify, strokes_to_offsets
from scribe.ink.text import fit_to_alphabet
from scribe.safeio import parse_xml_safely
from scribe.writing.network import InferenceModel

CURVE_SAMPLES = 8  # points per Bezier segment
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_COMMAND = re.compile(r"([MmLlHhVvCcSsQqTtAaZz])([^MmLlHhVvCcSsQqTtAaZz]*)")
_TRANSFORM = re.compile(r"(matrix|translate|scale|rotate)\s*\(([^)]*)\)")
_SVG_NS = "{http://www.w3.org/2000/svg}"
MAX_STYLE_FILE_BYTES = 2_000_000  # a line of handwriting is a few kilobytes in any of the formats


def read_style_file(path: Path, style_text: str | None, model: InferenceModel) -> tuple[np.ndarray, str]:
    """The handwriting in ``path`` as offsets in the model's units, and the text it shows."""
    path = Path(path)
    if path.suffix.lower() not in READERS:
        raise ScribeError(f"style sample {path}: unknown kind of file; use {style_file_kinds()}")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_STYLE_FILE_BYTES + 1)
    except OSError as exc:
        raise ScribeError(f"cannot read the style sample {path}: {exc.strerror}; check the path") from exc
    if len(data) > MAX_STYLE_FILE_BYTES:
        raise ScribeError(f"style sample {path} is over {MAX_STYLE_FILE_BYTES:,} bytes; one line of handwriting is far less")
    offsets, file_text = READERS[path.suffix.lower()][1](data, str(path))
    if offsets is None:
        raise ScribeError(f"style sample {path} holds no strokes; it must show one line of handwriting")
    words = style_text if style_text is not None else file_text
    if not words or not words.strip():
        raise ScribeError(f"style sample {path} does not say what it shows; give its `style_text`")
    fitted, _ = fit_to_alphabet(" ".join(words.split()), model.alphabet)
    return _to_model_units(offsets, model), fitted


def _to_model_units(offsets: np.ndarray, model: InferenceModel) -> np.ndarray:
    """Offsets in any unit -> offsets whose x-height is the training data's, thinned as it was."""
    height = line_metrics(offsets).x_height
    if not height > 0:
        raise ScribeError("the style sample's ink has no height; it must show a line of handwriting")
    target = model.points_per_char * float(model.mean[0]) / ADVANCE_PER_X_HEIGHT
    scaled = offsets.astype(np.float64)
    scaled[:, :2] *= target / height
    return points_to_offsets(simplify(offsets_to_points(scaled), DEFAULT_SIMPLIFY_EPS), y_down=False)


def _from_strokes(strokes: list[np.ndarray]) -> np.ndarray | None:
    """Offsets of y-down strokes (screens, SVG, tablets), or None when there is no point."""
    return strokes_to_offsets(strokes) if any(len(stroke) for stroke in strokes) else None


def _read_json(data: bytes, source: str) -> tuple[np.ndarray | None, str | None]:
    try:
        content = json.loads(data.decode("utf-8"))
        strokes = [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in content["strokes"]]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ScribeError(
            f'{source} is not a scribe style JSON ({exc}); expected {{"text": ..., "strokes": [[[x, y], ...], ...]}}'
        ) from None
    text = content.get("text")
    return _from_strokes(strokes), text if isinstance(text, str) else None


def _read_npz(data: bytes, source: str) -> tuple[np.ndarray | None, str | None]:
    import io

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            offsets = np.asarray(npz["offsets"], dtype=np.float64)
            text = str(npz["text"]) if "text" in npz.files else None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ScribeError(f"{source} is not a stroke .npz ({exc}); it needs an `offsets` array (T, 3)") from None
    if offsets.ndim != 2 or offsets.shape[1] != 3:
        raise ScribeError(f"{source}: offsets have shape {offsets.shape}, expected (T, 3) [dx, dy, pen_up]")
    return (offsets if len(offsets) else None), text


def _read_xml(data: bytes, source: str) -> tuple[np.ndarray | None, str | None]:
    points = read_iam_ondb_xml(data, source)
    return (points_to_offsets(points) if len(points) else None), None


# --------------------------------------------------------------------------- SVG


def _read_svg(data: bytes, source: str) -> tuple[np.ndarray | None, str | None]:
    # A plain DOCTYPE (as SVG editors write) only names a DTD, never fetched: accepted.
    # Entity declarations and external entities are refused by parse_xml_safely.
    root = parse_xml_safely(data, source, "an SVG drawing", allow_doctype=True)
    strokes: list[np.ndarray] = []
    _walk(root, np.eye(3), strokes)
    return _from_strokes(strokes), None


def _walk(element: ET.Element, parent: np.ndarray, strokes: list[np.ndarray]) -> None:
    matrix = parent @ _transform(element.get("transform", ""))
    tag = element.tag.removeprefix(_SVG_NS)
    shapes = []
    if tag == "path":
        shapes = _path_strokes(element.get("d", ""))
    elif tag in ("polyline", "polygon"):
        values = [float(v) for v in _NUMBER.findall(element.get("points", ""))]
        shape = np.array(values[: len(values) // 2 * 2]).reshape(-1, 2)
        shapes = [np.vstack([shape, shape[:1]]) if tag == "polygon" and len(shape) else shape]
    elif tag == "line":
        coords = [float(element.get(k, "0")) for k in ("x1", "y1", "x2", "y2")]
        shapes = [np.array(coords).reshape(2, 2)]
    for shape in shapes:
        if len(shape):
            strokes.append((np.column_stack([shape, np.ones(len(shape))]) @ matrix.T)[:, :2])
    for child in element:
        _walk(child, matrix, strokes)


def _transform(value: str) -> np.ndarray:
    """An SVG ``transform`` attribute as a 3x3 matrix."""
    matrix = np.eye(3)
    for name, args in _TRANSFORM.findall(value):
        v = [float(x) for x in _NUMBER.findall(args)]
        if name == "matrix" and len(v) == 6:
            step = np.array([[v[0], v[2], v[4]], [v[1], v[3], v[5]], [0, 0, 1]])
        elif name == "translate" and v:
            step = np.array([[1, 0, v[0]], [0, 1, v[1] if len(v) > 1 else 0], [0, 0, 1]])
        elif name == "scale" and v:
            step = np.diag([v[0], v[1] if len(v) > 1 else v[0], 1])
        elif name == "rotate" and v:
            a = math.radians(v[0])
            cx, cy = (v[1], v[2]) if len(v) == 3 else (0.0, 0.0)
            rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
            step = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]]) @ rot @ np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
        else:
            continue
        matrix = matrix @ step
    return matrix


def _bezier(points: np.ndarray) -> np.ndarray:
    """Points along a quadratic or cubic Bezier (control points ``points``), without the start."""
    t = np.linspace(0, 1, CURVE_SAMPLES + 1)[1:, None]
    if len(points) == 3:
        return (1 - t) ** 2 * points[0] + 2 * (1 - t) * t * points[1] + t**2 * points[2]
    return (1 - t) ** 3 * points[0] + 3 * (1 - t) ** 2 * t * points[1] + 3 * (1 - t) * t**2 * points[2] + t**3 * points[3]


def _path_strokes(d: str) -> list[np.ndarray]:
    """The subpaths of a path's ``d`` as point arrays (arcs drawn as straight segments)."""
    strokes: list[list[np.ndarray]] = []
    current = np.zeros(2)
    start = np.zeros(2)
    last_control: np.ndarray | None = None
    for command, args in _COMMAND.findall(d):
        values = [float(v) for v in _NUMBER.findall(args)]
        relative = command.islower()
        kind = command.upper()
        if kind == "Z":
            if strokes:
                strokes[-1].append(start.copy())
            current, last_control = start.copy(), None
            continue
        size = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7}[kind]
        for index in range(0, len(values) - size + 1, size):
            v = np.array(values[index : index + size])
            base = current if relative else np.zeros(2)
            if kind == "M" and index == 0:
                current = base + v
                start = current.copy()
                strokes.append([current.copy()])
                last_control = None
                continue
            if not strokes:
                strokes.append([current.copy()])
            if kind in ("M", "L", "T"):
                new = [base + v]
            elif kind == "H":
                new = [np.array([v[0] + (current[0] if relative else 0), current[1]])]
            elif kind == "V":
                new = [np.array([current[0], v[0] + (current[1] if relative else 0)])]
            elif kind == "A":
                new = [base + v[5:7]]
            else:
                controls = (base + v.reshape(-1, 2)).tolist()
                if kind in ("S",):
                    reflected = 2 * current - last_control if last_control is not None else current
                    controls = [reflected.tolist(), *controls]
                curve = np.array([current.tolist(), *controls])
                new = list(_bezier(curve))
                last_control = curve[-2]
            strokes[-1].extend(new)
            current = np.asarray(new[-1], dtype=np.float64)
            if kind not in ("C", "S"):
                last_control = None
    return [np.array(points) for points in strokes]


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
