"""A tiny UNIPEN release in the exact format (data/ + include/), built by the tests.

Two sources: ``upw`` records y up with empty ``.PEN_UP`` blocks (like ``art``), ``dnw``
records y down with hover points in its ``.PEN_UP`` blocks (like ``ceb``'s layout).
Glyphs are drawn as handwriting is, from the top down, so the reader can tell
the y direction from them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Labels of the character pieces each writer writes (all "tall": digits and capitals).
DIGITS = "1234567890"
WORDS = ("minimum", "xenon", "summer")


def glyph(x0: float, size: float, y_up: bool, rng: np.random.Generator) -> list[np.ndarray]:
    """A tall glyph as two pen-down strokes drawn from its top down (a vertical bar, then a short tick)."""
    sign = 1.0 if y_up else -1.0
    top, n = 100.0 * sign, 14
    bar = np.column_stack([np.full(n, x0) + rng.normal(0, 0.3, n), top - sign * np.linspace(0, size, n)])
    tick = np.column_stack([x0 + np.linspace(0, size / 3, 6), top - sign * np.linspace(0, size / 4, 6)])
    return [bar, tick]


def word_stroke(x0: float, x_height: float, letters: int, y_up: bool) -> np.ndarray:
    """One cursive-looking stroke: arches of one x-height per letter, starting at a top and ending at a bottom."""
    sign = 1.0 if y_up else -1.0
    t = np.linspace(0.5 * np.pi, (2 * letters + 1.5) * np.pi, 30 * letters)
    return np.column_stack([x0 + t * x_height / np.pi, 100.0 * sign + sign * x_height / 2 * np.sin(t)])


def pen_blocks(strokes: list[np.ndarray], hover: bool) -> tuple[str, int]:
    """UNIPEN text of pen-down strokes separated by pen-up blocks; returns the text and the components it counts."""
    lines, counted = [], 0
    for i, stroke in enumerate(strokes):
        lines.append(".PEN_DOWN")
        lines += [f"{int(round(x))} {int(round(y))}" for x, y in stroke]
        counted += 1
        if i + 1 < len(strokes):
            lines.append(".PEN_UP")
            if hover:  # the pen's path in the air to the next stroke: a counted component
                lines += [f"{int(round(x))} {int(round(y))}" for x, y in (stroke[-1], strokes[i + 1][0])]
                counted += 1
    return "\n".join(lines) + "\n", counted


def _resolution_doc(per_mm: int) -> str:
    return (
        f".VERSION 1.0\n.DATA_SOURCE TEST\n.X_POINTS_PER_MM {per_mm}\n.Y_POINTS_PER_MM {per_mm}\n"
        ".POINTS_PER_SECOND 100\n.COORD X Y\n.HIERARCHY TEXT WORD CHARACTER\n"
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="latin-1")


def make_source(root: Path, source: str, writers: list[str], y_up: bool, hover: bool, per_mm: int = 10) -> None:
    """One source's include/ ink and data/1a + data/7 label files for each writer."""
    rng = np.random.default_rng(len(source) + len(writers))
    _write(root / "include" / source / f"{source}.doc", _resolution_doc(per_mm))
    for writer in writers:
        strokes: list[np.ndarray] = []
        digit_ranges, word_ranges, count = [], [], 0
        for i, _ in enumerate(DIGITS):
            glyph_strokes = glyph(40.0 * i, 60.0, y_up, rng)
            first = count
            count += len(glyph_strokes) * (2 if hover else 1) - (1 if hover else 0)
            digit_ranges.append(f"{first}-{count - 1}")
            if hover:
                count += 1  # the hover move from this glyph to the next one
            strokes += glyph_strokes
        for word in WORDS:
            strokes.append(word_stroke(0.0, 20.0, len(word), y_up))
            word_ranges.append(f"{count}")
            count += 2 if hover else 1
        ink, counted = pen_blocks(strokes, hover)
        assert counted == count - (1 if hover else 0)
        _write(root / "include" / source / f"{writer}.inc", f".WRITER_ID {writer}\n.HAND R\n")  # included by the ink: nested
        _write(root / "include" / source / "data" / f"{writer}.dat", f".INCLUDE {source}/{writer}.inc\n{ink}")
        includes = f".VERSION 1.0\n.INCLUDE {source}/{source}.doc\n.INCLUDE {source}/data/{writer}.dat\n"
        digits = "".join(f'.SEGMENT CHARACTER {r} ? "{d}"\n' for r, d in zip(digit_ranges, DIGITS))
        words = "".join(f'.SEGMENT WORD {r} OK "{w}"\n' for r, w in zip(word_ranges, WORDS))
        _write(root / "data" / "1a" / source / f"{writer}.dat", includes + digits)
        _write(root / "data" / "7" / source / f"{writer}.dat", includes + words)


def make_unipen_tree(root: Path) -> Path:
    """The release: ``upw`` (y up, empty pen-up blocks, 3 writers) and ``dnw`` (y down, hover points, 2 writers).

    Files and writer ids carry the writers' names, as some real sources do.
    """
    make_source(root, "upw", ["alice", "bob", "carol"], y_up=True, hover=False)
    make_source(root, "dnw", ["dora", "eve"], y_up=False, hover=True, per_mm=50)
    return root


def add_damaged_files(root: Path) -> None:
    """Data files a real copy may hold: a missing include, an include cycle, a path out of the tree, BAD and degenerate ink."""
    head = ".VERSION 1.0\n.INCLUDE upw/upw.doc\n"
    _write(
        root / "data" / "1a" / "upw" / "missing.dat",
        head + '.INCLUDE upw/data/gone.dat\n.SEGMENT CHARACTER 0 ? "1"\n.SEGMENT CHARACTER 1 ? "2"\n',
    )
    _write(root / "include" / "upw" / "a.inc", ".INCLUDE upw/b.inc\n")
    _write(root / "include" / "upw" / "b.inc", ".INCLUDE upw/a.inc\n")
    _write(root / "data" / "1a" / "upw" / "cycle.dat", head + '.INCLUDE upw/a.inc\n.SEGMENT CHARACTER 0 ? "1"\n')
    _write(root / "data" / "1a" / "upw" / "escape.dat", head + '.INCLUDE ../../outside.dat\n.SEGMENT CHARACTER 0 ? "1"\n')
    zeros = "\n".join(["0 0"] * 5)
    good = "\n".join(f"{5} {100 - 4 * i}" for i in range(15))
    _write(
        root / "include" / "upw" / "data" / "odd.dat",
        f".WRITER_ID w9\n.PEN_DOWN\n{zeros}\n.PEN_UP\n.PEN_DOWN\n{good}\n.PEN_UP\n.PEN_DOWN\n{good}\n",
    )
    _write(
        root / "data" / "1a" / "upw" / "odd.dat",
        head + ".INCLUDE upw/data/odd.dat\n"
        '.SEGMENT CHARACTER 0 ? "1"\n'  # the damaged sources' run of points at the origin
        '.SEGMENT CHARACTER 1 BAD "7"\n'  # illegible
        '.SEGMENT CHARACTER 2 OK "\\""\n'  # a quote, escaped
        '.SEGMENT CHARACTER 5 ? "4"\n'  # past the last component
        '.SEGMENT CHARACTER 1,2 OK "H"\n',  # a list of components
    )
