"""UNIPEN train_r01_v07 (Guyon et al. 1994): digits, capitals, symbols, words and text of about 40 sources; :data:`SPEC`.

The release is a tree: ``data/<category>/<source>/**.dat`` hold the labels
(``.SEGMENT``) and pull in the ink from ``include/<source>/...`` with
``.INCLUDE``; :mod:`scribe.datasets.unipen_format` reads that format. This module
decides what becomes a sample and brings every source's ink to IAM-OnDB's, so
the two can be mixed in one training run:

1. one sample per labelled segment of the category's level (a CHARACTER of the
   character categories, a WORD, a TEXT); pen-up (hover) points dropped; ``BAD``
   quality, empty labels and degenerate ink (the ``0 0`` runs of damaged sources)
   skipped with a counted reason;
2. physical size from the source's declared resolution (``.X_POINTS_PER_MM`` or
   ``_PER_INCH``, and Y: some tablets are not square);
3. the source's y direction, measured on its own strokes
   (:func:`~scribe.datasets.unipen_size.downward_fraction`): UNIPEN does not
   declare it and its tablets differ;
4. two scales per source, for its characters and for its words and text, that
   give its letters IAM-OnDB's x-height, and a light smoothing for coarse tablets
   (:mod:`scribe.datasets.unipen_size`); the split driver then applies the same
   outlier removal and simplification as to IAM-OnDB.

Writers are identified by a hash of source and ``.WRITER_ID``, samples by source,
category, a hash of the data file's path and the segment's number: some data files
are named after their writers, and names never reach a split dataset.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scribe.datasets import unipen_size
from scribe.datasets.preprocess import prepare
from scribe.datasets.spec import DatasetSpec, Found, Loaded, RawSample, Source
from scribe.datasets.unipen_format import (
    DataSet,
    FileReader,
    Unusable,
    forget_parsed_points,
    read_data_file,
    read_statements,
    resolution,
    segment_strokes,
)
from scribe.errors import ScribeError
from scribe.ink.strokes import split_strokes
from scribe.progress import ProgressFn, no_progress

NAME = "unipen"
TREE_FORMAT = "unipen-tree"
ARCHIVE_FORMAT = "unipen-archive"
ARCHIVE = "unipen-CDROM-train_r01_v07.tgz"
#: The Zenodo record of the release (doi 10.5281/zenodo.1195803), CC BY 4.0.
ARCHIVE_URL = f"https://zenodo.org/api/records/1195803/files/{ARCHIVE}/content"
_ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".zip")


@dataclass(frozen=True)
class Category:
    """One of UNIPEN's benchmark categories (``data/<code>/``) and the segment level that becomes a sample."""

    code: str
    name: str
    level: str


#: UNIPEN's categories in train_r01_v07 (4 and 5 are empty in this release).
CATEGORIES: dict[str, Category] = {
    c.code: c
    for c in (
        Category("1a", "digits", "CHARACTER"),
        Category("1b", "capitals", "CHARACTER"),
        Category("1c", "lowercase letters", "CHARACTER"),
        Category("1d", "symbols", "CHARACTER"),
        Category("2", "mixed-case characters", "CHARACTER"),
        Category("3", "characters cut out of words", "CHARACTER"),
        Category("6", "cursive words", "WORD"),
        Category("7", "words with the full character set", "WORD"),
        Category("8", "free text", "TEXT"),
    )
}
#: What improves writing beside IAM-OnDB: what it lacks (digits, capitals, symbols, the rarer
#: letters in mixed characters), words and text with the full character set. Left out: lowercase
#: letters and cursive words (IAM-OnDB has plenty) and characters cut out of words (their ink
#: carries the joins of the word they came from).
DEFAULT_CATEGORIES: tuple[str, ...] = ("1a", "1b", "1d", "2", "7", "8")


@dataclass
class Piece:
    """One labelled segment's ink in millimetres, y as the tablet has it, before normalization."""

    sample_id: str
    text: str
    source: str
    category: str
    writer: int
    strokes: list[np.ndarray]  # float32 (n, 2) [x, y] in mm


@dataclass
class UnipenRead:
    """The pieces read and the segments skipped, by reason."""

    pieces: list[Piece] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


# --------------------------------------------------------------------------- finding the tree


def find_tree(path: Path) -> Path | None:
    """The folder holding ``data/`` and ``include/`` at or under ``path`` (the shallowest), or None."""
    if not path.is_dir():
        return None
    if (path / "data").is_dir() and (path / "include").is_dir():
        return path
    for depth in ("*", "*/*"):
        for candidate in sorted(path.glob(depth)):
            if (candidate / "data").is_dir() and (candidate / "include").is_dir():
                return candidate
    return None


def _is_archive(path: Path) -> bool:
    """Whether ``path`` looks like the release's archive, by name (opening a 150 MB gzip to detect it is not cheap)."""
    name = path.name.lower()
    return path.is_file() and ("unipen" in name or "train_r01" in name) and name.endswith(_ARCHIVE_SUFFIXES)


def _detect(path: Path) -> Found | None:
    """An unpacked release (a folder with data/ and include/, or one level above it) or its archive."""
    if _is_archive(path):
        return Found(path, ARCHIVE_FORMAT)
    tree = find_tree(path)
    if tree is not None:
        return Found(tree, TREE_FORMAT)
    if path.is_dir():
        archives = [candidate for candidate in sorted(path.iterdir()) if _is_archive(candidate)]
        if len(archives) == 1:
            return Found(archives[0], ARCHIVE_FORMAT)
    return None


def _check_raw(raw: Path) -> None:
    """Extracted downloads must hold the release's data/ and include/ folders."""
    if find_tree(raw) is None:
        raise ScribeError(f"{raw} holds no UNIPEN release (no data/ and include/ folders); check the archive")


# --------------------------------------------------------------------------- reading


def _data_files(tree: Path, categories: tuple[str, ...]) -> list[tuple[str, Path]]:
    """(category, data file) for the chosen categories, ordered so files sharing an ink file come together.

    ``data/1a/apa/apa19/x.dat`` and ``data/1b/apa/apa19/x.dat`` include the same
    ``apa/data/apa19/x.dat``: sorting by the path below the category puts them side
    by side, so the cache of parsed ink reads every ink file once.
    """
    found = []
    for code in categories:
        folder = tree / "data" / code
        if folder.is_dir():
            found += [(code, path) for path in folder.rglob("*.dat") if path.is_file()]
    return sorted(found, key=lambda item: (item[1].relative_to(tree / "data" / item[0]).as_posix(), item[0]))


def writer_number(source: str, writer_id: str) -> int:
    """A stable writer number for a source's ``.WRITER_ID`` (31 bits, so it fits the split's int64 and never is -1)."""
    return zlib.crc32(f"unipen/{source}/{writer_id}".encode()) & 0x7FFFFFFF


def sample_id(source: str, category: str, file_key: str, number: int) -> str:
    """A sample's name: ``<source>-<category>-<hash of its data file's path>-<segment number>``, no writer's name."""
    return f"{source}-{category}-{file_key}-{number:05d}"


def sample_tags(name: str) -> tuple[str, str]:
    """The source and category in a sample's name (:func:`sample_id`); empty strings for any other name."""
    parts = name.rsplit("-", 3)
    return (parts[0], parts[1]) if len(parts) == 4 else ("", "")


def _without_dropouts(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Strokes without the lone points at exactly the origin that damaged sources (``ceb``) have inside real strokes.

    A tablet never reports a point at (0, 0) in the middle of a stroke drawn
    centimetres away; kept, it would be a jump across the whole pad. A stroke made
    only of such points is kept as it is, for :func:`_degenerate` to refuse.
    """
    cleaned = []
    for stroke in strokes:
        at_origin = (stroke == 0).all(axis=1)
        cleaned.append(stroke[~at_origin] if at_origin.any() and not at_origin.all() else stroke)
    return cleaned


def _degenerate(strokes: list[np.ndarray]) -> bool:
    """Ink that cannot be writing: no stroke, no extent, or the damaged sources' runs of points at the origin."""
    if not strokes:
        return True
    points = np.concatenate(strokes)
    if len(points) < 2 or float(np.ptp(points, axis=0).max()) == 0:
        return True
    return any(bool(np.all(stroke == 0)) for stroke in strokes)


def _pieces_of(path: Path, category: Category, source: str, data_set: DataSet, keep_bad: bool, out: UnipenRead) -> None:
    """Cut every segment of the category's level out of one set; count the ones left out."""
    try:
        per_mm = np.array(resolution(data_set))
    except Unusable as exc:
        out.skipped[str(exc)] += sum(s.kind == category.level for s in data_set.segments)
        return
    writer = writer_number(source, data_set.declarations.get("WRITER_ID", path.stem))
    file_key = f"{zlib.crc32(path.as_posix().encode()):08x}"
    for number, segment in enumerate(data_set.segments):
        if segment.kind != category.level:
            continue
        if segment.quality == "BAD" and not keep_bad:
            out.skipped["quality BAD"] += 1
            continue
        if not segment.label.strip():
            out.skipped["missing or empty text"] += 1
            continue
        try:
            strokes = _without_dropouts(segment_strokes(data_set, segment))
        except Unusable as exc:
            out.skipped[str(exc)] += 1
            continue
        if _degenerate(strokes):
            out.skipped["degenerate ink (no extent, or points at the origin)"] += 1
            continue
        out.pieces.append(
            Piece(
                sample_id=sample_id(source, category.code, file_key, number),
                text=" ".join(segment.label.split()),
                source=source,
                category=category.code,
                writer=writer,
                strokes=[(stroke / per_mm).astype(np.float32) for stroke in strokes],
            )
        )


def read_tree(
    tree: Path, categories: tuple[str, ...] = DEFAULT_CATEGORIES, keep_bad: bool = False, progress: ProgressFn = no_progress
) -> UnipenRead:
    """Every labelled segment of ``categories`` in an unpacked release, in millimetres; nothing normalized yet."""
    include_root = tree / "include"
    reader = functools.lru_cache(maxsize=64)(read_statements)  # an ink file serves several data files in a row
    out = UnipenRead()
    files = _data_files(tree, categories)
    try:
        for done, (code, path) in enumerate(files, 1):
            source = path.relative_to(tree / "data" / code).parts[0]
            try:
                sets = read_data_file(path, include_root, reader)
            except Unusable as exc:
                out.skipped[f"data file with {exc}"] += _segment_count(path, reader)
                continue
            for data_set in sets:
                _pieces_of(path, CATEGORIES[code], source, data_set, keep_bad, out)
            if done % 50 == 0 or done == len(files):
                progress(done, len(files))
    finally:  # the pieces hold their own copies: the parsed blocks need not outlive the read
        forget_parsed_points()
    return out


def _segment_count(path: Path, reader: FileReader) -> int:
    """How many segments a data file labels (what is lost when it cannot be read); at least 1."""
    try:
        return max(1, sum(keyword == "SEGMENT" for keyword, _ in reader(path)))
    except Unusable:  # the data file itself is unreadable
        return 1


# --------------------------------------------------------------------------- normalization


def _level(piece: Piece) -> str:
    """Which of a source's two scales a piece takes: characters, or words and text."""
    return unipen_size.CHARACTER_LEVEL if CATEGORIES[piece.category].level == "CHARACTER" else unipen_size.WORD_LEVEL


def _measured_sample(pieces: list[Piece], seed: int = 0) -> list[Piece]:
    """At most :data:`MEASURE_PIECES` pieces per source and level, drawn reproducibly: medians need no more."""
    by_level: dict[str, list[Piece]] = {}
    for piece in pieces:
        by_level.setdefault(_level(piece), []).append(piece)
    rng = np.random.default_rng(seed)
    chosen = []
    for group in by_level.values():
        if len(group) > MEASURE_PIECES:
            group = [group[i] for i in sorted(rng.choice(len(group), MEASURE_PIECES, replace=False))]
        chosen += group
    return chosen


#: Pieces per source and level that its scale is measured on: enough for a median within a few
#: percent, few enough that measuring all sources takes seconds.
MEASURE_PIECES = 400


def measure_sources(
    pieces: list[Piece], eps: float = 0.0, progress: ProgressFn = no_progress
) -> dict[str, unipen_size.SourceScale]:
    """Every source's y direction and scales, measured on (a reproducible sample of) its own pieces.

    The scales are measured on the millimetre ink, then checked once on the same
    pieces as the split writes them (smoothed, cleaned, simplified with ``eps``)
    and corrected by what is left over: simplifying changes the turning points the
    x-height is read from (by up to a quarter on text lines).
    """
    by_source: dict[str, list[Piece]] = {}
    for piece in pieces:
        by_source.setdefault(piece.source, []).append(piece)
    samples = {source: _measured_sample(group) for source, group in sorted(by_source.items())}
    scales = {}
    for done, (source, sample) in enumerate(samples.items(), 1):
        scales[source] = unipen_size.measure_source([(p.strokes, p.text, _level(p)) for p in sample])
        progress(done, 2 * len(samples))
    unipen_size.fill_missing_scales(scales)
    for done, (source, sample) in enumerate(samples.items(), len(samples) + 1):
        _refine(scales[source], sample, eps)
        progress(done, 2 * len(samples))
    return scales


def _refine(scale: unipen_size.SourceScale, sample: list[Piece], eps: float) -> None:
    """Correct a source's measured scales by the x-height its pieces have once written as the split writes them."""
    for level in scale.scales:
        if not scale.measured[level]:
            continue
        heights, density = [], []
        for piece in (p for p in sample if _level(p) == level):
            raw = _raw_sample(piece, scale)
            _, kept = prepare(raw, eps) if raw is not None else (None, None)
            if kept is not None:
                height = unipen_size.piece_x_height(split_strokes(kept.offsets), piece.text, level)
                heights += [height] if height is not None else []
                density.append(len(kept.offsets) / max(1, len(piece.text.replace(" ", ""))))
        if len(heights) >= unipen_size.MIN_PIECES:
            scale.scales[level] *= unipen_size.IAM_ONDB_X_HEIGHT / float(np.median(heights))
            scale.points_per_char[level] = float(np.median(density))


def _raw_sample(piece: Piece, scale: unipen_size.SourceScale) -> RawSample | None:
    """One piece as the split driver takes points (IAM-OnDB units, y down, end-of-stroke flags), or None.

    None: a TEXT piece written on several lines.
    """
    factor = np.array([1.0, 1.0 if scale.y_up else -1.0]) * scale.scales[_level(piece)]
    strokes = [unipen_size.smoothed(stroke * factor) for stroke in piece.strokes]  # y up, IAM-OnDB units
    if CATEGORIES[piece.category].level == "TEXT" and unipen_size.several_lines(strokes):
        return None
    rows = [np.column_stack([s[:, 0], -s[:, 1], np.zeros(len(s))]) for s in strokes]  # the driver's y down
    for row in rows:
        row[-1, 2] = 1.0
    tags = {"category": piece.category, "source": piece.source}
    points = np.concatenate(rows).astype(np.float32)
    return RawSample(sample_id=piece.sample_id, text=piece.text, writer=piece.writer, points=points, tags=tags)


def to_raw_samples(read: UnipenRead, scales: dict[str, unipen_size.SourceScale]) -> list[RawSample]:
    """Every piece as a :class:`RawSample` (:func:`_raw_sample`); text on several lines is counted and left out.

    Pieces are released as they are converted, so the millimetre copies do not
    stay in memory beside the converted ones.
    """
    samples = []
    for piece in read.pieces:
        sample = _raw_sample(piece, scales[piece.source])
        if sample is None:
            read.skipped["text written on several lines"] += 1
        else:
            samples.append(sample)
    read.pieces = []
    return samples


# --------------------------------------------------------------------------- hooks


@contextmanager
def _unpacked(found: Found, progress: ProgressFn) -> Iterator[Path]:
    """The release's tree: ``found`` itself, or its archive extracted (safely) into a temporary folder."""
    if found.source_format == TREE_FORMAT:
        yield found.path
        return
    from scribe.datasets.extract import extract_archive  # tarfile and zipfile: only when there is an archive

    folder = Path(tempfile.mkdtemp(prefix="scribe-unipen-"))
    try:
        extract_archive(found.path, folder / "release", progress, remedy="check the archive or download it again")
        tree = find_tree(folder / "release")
        if tree is None:
            raise ScribeError(f"{found.path} holds no UNIPEN release (no data/ and include/ folders); check the archive")
        yield tree
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _options(options: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    """The reader's own options, checked: ``categories`` (codes of :data:`CATEGORIES`) and ``keep_bad``."""
    categories = tuple(options.get("categories") or DEFAULT_CATEGORIES)
    unknown = [code for code in categories if code not in CATEGORIES]
    if unknown:
        known = ", ".join(f"{c.code} ({c.name})" for c in CATEGORIES.values())
        raise ScribeError(
            f"unknown UNIPEN categor{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)} in `categories`; "
            f"choose from {known}"
        )
    return tuple(dict.fromkeys(categories)), bool(options.get("keep_bad", False))


def _read(found: Found, progress: ProgressFn, simplify_eps: float, options: dict[str, Any]) -> Loaded:
    """Read, cut and normalize the release; the driver then cleans, simplifies and splits by writer."""
    categories, keep_bad = _options(options)
    with _unpacked(found, progress) as tree:
        read = read_tree(tree, categories, keep_bad, progress)
    scales = measure_sources(read.pieces, simplify_eps, progress)
    samples = to_raw_samples(read, scales)
    return Loaded(
        samples=samples, skipped=dict(read.skipped), preprocessing=_preprocessing(simplify_eps, categories, keep_bad, scales)
    )


def _preprocessing(
    eps: float, categories: tuple[str, ...], keep_bad: bool, scales: dict[str, unipen_size.SourceScale]
) -> dict[str, Any]:
    """The UNIPEN steps, their parameters and what was measured per source, for meta.json."""
    return {
        "steps": [
            "cut labelled segments",
            "pen-down ink only",
            "millimetres from the declared resolution",
            "y direction per source",
            "scale per source and level to IAM-OnDB's x-height",
            "smooth each stroke (two passes of the (1, 2, 1)/4 kernel)",
            "remove_outliers",
            "simplify",
            "points_to_offsets (y flip)",
            "validate_offsets",
        ],
        "categories": {code: CATEGORIES[code].name for code in categories},
        "quality": "BAD segments kept" if keep_bad else "BAD segments skipped",
        "target_x_height": unipen_size.IAM_ONDB_X_HEIGHT,
        "tall_ratio": unipen_size.TALL_RATIO,
        "simplify": {"method": "Ramer-Douglas-Peucker per stroke, distance to the chord segment", "eps": eps}
        if eps > 0
        else None,
        "sources": {name: scale.to_json() for name, scale in scales.items()},
    }


SPEC = DatasetSpec(
    name=NAME,
    sources=(Source(url=ARCHIVE_URL, filename=ARCHIVE),),
    registration=None,
    official_splits={},
    units="IAM-OnDB tablet units (each source scaled to IAM-OnDB's median x-height)",
    accepts="an unpacked UNIPEN release (a folder with data/ and include/) or its .tgz",
    detect=_detect,
    read=_read,
    check_raw=_check_raw,
    read_options=frozenset({"categories", "keep_bad"}),
    option_help={
        "categories": "the categories to read, comma-separated ("
        + ", ".join(f"{c.code} {c.name}" for c in CATEGORIES.values())
        + f"; default {','.join(DEFAULT_CATEGORIES)})",
        "keep_bad": "keep segments whose quality is BAD (illegible); they are skipped by default",
    },
)
