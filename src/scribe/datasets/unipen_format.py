"""The UNIPEN 1.0 format (Guyon 1994, ``unipen.def``): data files, their includes, pen components and segments.

A UNIPEN data file is a stream of keyword statements: a line starting with a dot
in the first column opens one (``.SEGMENT``, ``.PEN_DOWN``, ``.X_POINTS_PER_MM``, ...)
and the following lines up to the next keyword are its arguments. Ink lives in
files pulled in with ``.INCLUDE`` (paths relative to the release's ``include/``
folder, nested includes allowed); the labels are ``.SEGMENT`` statements that
delineate *components* (``.PEN_DOWN`` and ``.PEN_UP`` blocks), numbered from zero
in order of appearance, **not counting empty ones**, restarting with every file and
every ``.START_SET``.

This module reads the format and nothing more: :func:`read_data_file` returns a
:class:`DataSet` per set with its components, segments and declarations, and
:func:`segment_strokes` cuts a segment's pen-down ink out of its set, in the units
that :func:`resolution` converts to millimetres. What becomes
a training sample, and how it is normalized, is :mod:`scribe.datasets.unipen`'s.
A file that cannot be used raises :class:`Unusable` with a short reason, which the
reader counts; nothing here prints or exits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

#: The largest file read: the biggest of the release is 4 MB; a bigger one is not UNIPEN.
MAX_FILE_BYTES = 64_000_000
#: Includes nest one or two deep in the release; deeper is a loop the cycle check missed or a hostile tree.
MAX_INCLUDE_DEPTH = 8
#: Coordinates beyond this are not a tablet's (a 30-digit number would overflow everything after).
MAX_COORDINATE = 1e7

_KEYWORD = re.compile(r"^\.([A-Z_]+)[^\S\n]*", re.MULTILINE)
_LABEL = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPES = {"n": " ", "t": " "}  # unipen.def: new-lines and tabulations inside a label count as spaces
_BOUND = re.compile(r"^(\d+)(?::(\d+))?$")
_PEN = {"PEN_DOWN": True, "PEN_UP": False}
#: Declarations a reader of the ink needs, kept per set (the last value wins).
DECLARATIONS = frozenset(
    {
        "COORD",
        "X_POINTS_PER_INCH",
        "Y_POINTS_PER_INCH",
        "X_POINTS_PER_MM",
        "Y_POINTS_PER_MM",
        "POINTS_PER_SECOND",
        "WRITER_ID",
        "DATA_SOURCE",
        "STYLE",
        "HAND",
    }
)
_MM_PER_INCH = 25.4


class Unusable(Exception):
    """A data file, include or segment that cannot become ink; ``str(exc)`` is the reason, counted by the reader."""


@dataclass(frozen=True)
class Component:
    """One non-empty ``.PEN_DOWN`` or ``.PEN_UP`` block, its numbers parsed when a segment first asks.

    Most components of a release are never cut into a sample (an ink file serves
    every category, and a reader keeps only some), and one ink file is read by
    several data files: parsing lazily, through a cache keyed by the (shared) text
    of the block, reads each block's numbers at most once.
    """

    pen_down: bool
    text: str
    columns: int

    @property
    def points(self) -> np.ndarray:
        """float64 (n, columns of ``.COORD``); a ragged or absurd block is :class:`Unusable`."""
        return _cached_points(self.text, self.columns)


@dataclass(frozen=True)
class Segment:
    """One ``.SEGMENT``: type (``CHARACTER``, ``WORD``, ``TEXT``...), delineation, quality and label (unescaped)."""

    kind: str
    delineation: str
    quality: str
    label: str


@dataclass
class DataSet:
    """One set of a data file: its components in order, its segments, and the declarations in force."""

    name: str
    components: list[Component] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    declarations: dict[str, str] = field(default_factory=dict)


Statement = tuple[str, str]  # (keyword without the dot, its argument text)
FileReader = Callable[[Path], list[Statement]]


def statements(text: str) -> list[Statement]:
    """The keyword statements of a UNIPEN file, in order; text before the first keyword is ignored."""
    matches = list(_KEYWORD.finditer(text))
    return [
        (match[1], text[match.end() : matches[i + 1].start() if i + 1 < len(matches) else len(text)])
        for i, match in enumerate(matches)
    ]


def read_statements(path: Path) -> list[Statement]:
    """The statements of one file on disk, size-checked first; non-ASCII bytes are read as latin-1."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise Unusable(f"a file over {MAX_FILE_BYTES // 1_000_000} MB")
        return statements(path.read_bytes().decode("latin-1"))
    except OSError as exc:
        raise Unusable("unreadable file") from exc


def unescape_label(raw: str) -> str:
    """A label's text: ``\\"`` is a quote, ``\\\\`` a backslash, ``\\n``/``\\t`` and raw whitespace a space."""
    out, escaped = [], False
    for char in raw:
        if escaped:
            out.append(_ESCAPES.get(char, char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(" " if char in "\n\t\r" else char)
    return "".join(out)


def parse_segment(argument: str) -> Segment:
    """``TYPE [delineation [quality ["label"]]]``; a missing delineation or quality is ``?``."""
    match = _LABEL.search(argument)
    label = unescape_label(match[1]) if match else ""
    words = (argument[: match.start()] if match else argument).split()
    if not words:
        raise Unusable("a .SEGMENT without a type")
    return Segment(
        kind=words[0].upper(),
        delineation=words[1] if len(words) > 1 else "?",
        quality=words[2].upper() if len(words) > 2 else "?",
        label=label,
    )


def parse_points(argument: str, columns: int) -> np.ndarray:
    """The numbers of a pen block as (n, ``columns``) float64; a ragged or absurd block is :class:`Unusable`."""
    if not argument.strip():
        return np.empty((0, columns))
    try:
        values = np.array(argument.split(), dtype=np.float64)
    except ValueError:
        raise Unusable("a pen block holds something other than numbers") from None
    if len(values) % columns:
        raise Unusable("a pen block's numbers do not fill the columns of .COORD")
    if not np.isfinite(values).all() or np.abs(values).max() > MAX_COORDINATE:
        raise Unusable("a pen block holds non-finite or absurd coordinates")
    return values.reshape(-1, columns)


@functools.lru_cache(maxsize=100_000)
def _cached_points(text: str, columns: int) -> np.ndarray:
    """:func:`parse_points`, once per block text (a str caches its hash, so a hit costs no rescan)."""
    points = parse_points(text, columns)
    points.flags.writeable = False  # shared by every data file that includes the block
    return points


def forget_parsed_points() -> None:
    """Drop the cache of parsed pen blocks (a reader calls it when it is done with a release)."""
    _cached_points.cache_clear()


def resolve_include(include_root: Path, name: str) -> Path:
    """The file ``.INCLUDE name`` means: ``include_root/name``, which must stay inside ``include_root``."""
    relative = PurePosixPath(name.strip().replace("\\", "/"))
    if not relative.parts or relative.is_absolute() or ".." in relative.parts or ":" in relative.parts[0]:
        raise Unusable("an include path leaving the include/ folder")
    path = include_root / relative
    try:
        inside = path.resolve().is_relative_to(include_root.resolve())
    except OSError:
        inside = False
    if not inside:
        raise Unusable("an include path leaving the include/ folder")
    if not path.is_file():
        raise Unusable("a missing include file")
    return path


@dataclass
class _Stream:
    """The state of reading one data file: the sets so far, and the columns points are read with."""

    sets: list[DataSet]
    columns: int = 2

    @property
    def current(self) -> DataSet:
        return self.sets[-1]

    def apply(self, keyword: str, argument: str) -> None:
        """Add one statement's effect (a component, a segment, a declaration, a new set)."""
        if keyword in _PEN:
            if argument and not argument.isspace():  # unipen.def: "Empty pen streams are NOT counted"
                self.current.components.append(Component(_PEN[keyword], argument, self.columns))
        elif keyword == "SEGMENT":
            self.current.segments.append(parse_segment(argument))
        elif keyword == "START_SET":
            self.sets.append(DataSet(name=argument.strip(), declarations=dict(self.current.declarations)))
        elif keyword in DECLARATIONS:
            value = " ".join(argument.split())
            self.current.declarations[keyword] = value
            if keyword == "COORD":
                self.columns = _columns(value)


def _columns(coord: str) -> int:
    """How many numbers a point has under ``.COORD``; X and Y must be the first two."""
    names = coord.upper().split()
    if names[:2] != ["X", "Y"]:
        raise Unusable(".COORD does not start with X Y")
    return len(names)


def read_data_file(path: Path, include_root: Path, reader: FileReader = read_statements) -> list[DataSet]:
    """The sets of one data file with every include expanded in place; raises :class:`Unusable`.

    ``reader`` turns a path into statements (the release shares one ink file among
    several data files, so the caller may cache it). A missing include, one that
    leaves ``include_root``, an include cycle or absurd nesting make the whole file
    unusable: its segments would otherwise point at the wrong components.
    """
    stream = _Stream(sets=[DataSet(name=path.stem)])
    _expand(path, include_root, reader, stream, ())
    return [data_set for data_set in stream.sets if data_set.segments]


def _expand(path: Path, include_root: Path, reader: FileReader, stream: _Stream, chain: tuple[Path, ...]) -> None:
    """Feed ``path``'s statements into ``stream``, recursing into includes; ``chain`` is the include stack."""
    if len(chain) > MAX_INCLUDE_DEPTH:
        raise Unusable("includes nested too deep")
    for keyword, argument in reader(path):
        if keyword == "INCLUDE":
            included = resolve_include(include_root, argument.split()[0] if argument.split() else "")
            if included.resolve() in chain or included.resolve() == path.resolve():
                raise Unusable("an include cycle")
            _expand(included, include_root, reader, stream, (*chain, path.resolve()))
        else:
            stream.apply(keyword, argument)


def _parse_bound(text: str) -> tuple[int, int | None]:
    """``A`` or ``A:M`` -> (component, point or None)."""
    match = _BOUND.match(text)
    if match is None:
        raise Unusable("a delineation that is not A[:M]-[B[:N]],[C]")
    return int(match[1]), int(match[2]) if match[2] is not None else None


def delineated(delineation: str, count: int) -> list[tuple[int, int, int | None]]:
    """The pieces a delineation names, as ``(component, first point, last point or None for its end)``.

    The syntax is unipen.def's ``A[:M]-[B[:N]],[C]``: comma-separated items, each a
    component or a range of them, either end optionally cut at a point (0-based,
    inclusive; ``A:M`` alone runs from point M to the component's end). ``count``
    is the number of components in the set; naming one past it is
    :class:`Unusable` (the segment points at ink that is not there).
    """
    pieces: list[tuple[int, int, int | None]] = []
    for item in delineation.split(","):
        first_text, dash, last_text = item.partition("-")
        start, start_point = _parse_bound(first_text)
        end, end_point = _parse_bound(last_text) if last_text else ((count - 1, None) if dash else (start, None))
        if end < start or end >= count:
            raise Unusable("a segment naming components that are not in its set")
        for component in range(start, end + 1):
            first = start_point if component == start and start_point is not None else 0
            last = end_point if component == end else None
            pieces.append((component, first, last))
    return pieces


def segment_strokes(data_set: DataSet, segment: Segment) -> list[np.ndarray]:
    """The pen-down strokes a segment delineates, each float64 (n, 2) ``[x, y]`` in the source's units.

    Pen-up components in the range (hover points) are not ink and are left out.
    """
    if segment.delineation in ("", "?"):
        raise Unusable("a segment without a delineation")
    strokes = []
    for component, first, last in delineated(segment.delineation, len(data_set.components)):
        piece = data_set.components[component]
        if piece.pen_down:
            points = piece.points[first : (last + 1 if last is not None else None), :2]
            if len(points):
                strokes.append(points)
    return strokes


def resolution(data_set: DataSet) -> tuple[float, float]:
    """Points per millimetre in x and y, from the set's declarations; :class:`Unusable` when undeclared or absurd."""
    declared = data_set.declarations
    per_axis = []
    for axis in ("X", "Y"):
        try:
            if f"{axis}_POINTS_PER_MM" in declared:
                value = float(declared[f"{axis}_POINTS_PER_MM"].split()[0])
            else:
                value = float(declared[f"{axis}_POINTS_PER_INCH"].split()[0]) / _MM_PER_INCH
        except (KeyError, ValueError, IndexError):
            raise Unusable("no resolution declared (.X_POINTS_PER_MM or _PER_INCH)") from None
        if not 0.5 <= value <= 10_000:
            raise Unusable("an absurd declared resolution")
        per_axis.append(value)
    return per_axis[0], per_axis[1]
