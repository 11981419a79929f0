"""IAM-OnDB (IAM On-Line Handwriting Database, Liwicki & Bunke 2005): everything scribe knows about it, and its :data:`SPEC`.

Two forms of the data are understood:

- the original layout: ``lineStrokes`` XML files (absolute eBeam whiteboard
  points, y down) and ``ascii`` transcripts, as folders or straight from the two
  distributed tarballs, with the task split lists (``trainset.txt`` ...) when present;
- the compact ``iam_ondb_lines.npz`` line file (plain numeric/unicode arrays,
  with writers, official splits and the blacklist of sjvasquez/handwriting-synthesis).

Readers return points as the source has them; cleaning and the y flip are the
split driver's, through :mod:`scribe.ink.strokes`. The data needs a free
registration, hence :data:`SPEC`'s ``registration`` note.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from scribe.datasets.spec import DatasetSpec, Found, Loaded, RawSample, Source, shallowest_file
from scribe.errors import ScribeError, reason
from scribe.ink import strokes
from scribe.progress import ProgressFn, no_progress
from scribe.safeio import checked_array, npz_member_names, parse_xml_safely, read_npz_safely, require_finite, require_keys

NAME = "iam-ondb"
RAW_FORMAT = "iam-ondb-raw"
COMPACT_FORMAT = "iam-ondb-compact"
LINESTROKES_TAR = "lineStrokes-all.tar.gz"
ASCII_TAR = "ascii-all.tar.gz"
_DATA_URL = "https://fki.tic.heia-fr.ch/DBs/iamOnDB/data/"
# IAM-OnDB's split names -> scribe's: its two validation sets both validate.
OFFICIAL_SPLITS = {"train": "train", "val1": "val", "val2": "val", "test": "test"}
# IAM-OnDB's task split lists, by file name -> its split name.
SPLIT_LISTS = {"trainset.txt": "train", "testset_v.txt": "val1", "testset_t.txt": "val2", "testset_f.txt": "test"}
# A transcript IAM-OnDB left unfilled (line z00-001-01): not a transcription.
_PLACEHOLDER_TRANSCRIPT = "Please Enter Transcription here"
_LINE_ID = re.compile(r"^(?P<form>.+)-(?P<number>\d+)$")
# The largest line or transcript file read: real line files are 20 to 100 kB (at most ~2,000
# points), so a bigger one is damaged; it is refused by its declared size, before it is read.
MAX_LINE_FILE_BYTES = 50_000_000
_INT32 = np.iinfo(np.int32)


@dataclass
class IamRead:
    """The lines read from IAM-OnDB, and how many line files were skipped for each reason."""

    samples: list[RawSample]
    skipped: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- XML and ascii


def read_iam_ondb_xml(data: bytes | Path, source: str | None = None) -> np.ndarray:
    """Parse one ``lineStrokes`` XML into int32 (N, 3) ``[x, y, end_of_stroke]``, y down as in the file.

    ``data`` is the document's bytes or its path. ``end_of_stroke`` is 1 on the
    last point of each ``<Stroke>``. Documents with a DOCTYPE are refused:
    IAM-OnDB never uses one, and entity declarations are how XML
    entity-expansion attacks work. ``source`` names the file in errors.
    """
    if isinstance(data, Path):
        source = source or str(data)
        try:
            data = data.read_bytes()
        except OSError as exc:
            raise ScribeError(f"{source}: cannot read the file ({exc.strerror or reason(exc)}); check the path") from None
    source = source or "IAM-OnDB line file"
    root = parse_xml_safely(data, source, "an IAM-OnDB line file")
    rows: list[tuple[int, int, int]] = []
    try:
        for stroke in root.iter("Stroke"):
            points = [(int(p.attrib["x"]), int(p.attrib["y"]), 0) for p in stroke.iter("Point")]
            if points:
                points[-1] = (*points[-1][:2], 1)
            rows.extend(points)
        array = np.array(rows, dtype=np.int64).reshape(-1, 3)
    except (KeyError, ValueError, OverflowError):
        array = None
    # Raw tablet coordinates may be negative (IAM-OnDB's x goes down to -51), never beyond 32 bits.
    if array is None or (len(array) and (array[:, :2].min() < _INT32.min or array[:, :2].max() > _INT32.max)):
        raise ScribeError(
            f"{source}: a <Point> lacks whole-number x/y within 32 bits; the file is damaged or not an IAM-OnDB line file"
        )
    return array.astype(np.int32)


def parse_iam_ascii(text: str) -> list[str]:
    """The transcription lines of an IAM-OnDB ``ascii`` file: the non-empty lines after ``CSR:``.

    The N-th one is the text of line file ``<form>-NN.xml``. A file without a
    ``CSR:`` section has no transcription and yields an empty list.
    """
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() == "CSR:":
            return [stripped for stripped in (raw.strip() for raw in lines[index + 1 :]) if stripped]
    return []


def _decode_text(data: bytes) -> str:
    """IAM-OnDB's ascii files are ASCII; fall back to latin-1 rather than fail on a stray byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# --------------------------------------------------------------------------- original layout

_LineFiles = Iterable[tuple[str, Callable[[], bytes]]]


def _read_by_form(
    line_files: _LineFiles, progress: ProgressFn, total: int | None, skipped: Counter[str]
) -> dict[str, list[tuple[str, int, np.ndarray]]]:
    """Form id -> its ``(line id, line number, points)``; badly named files are counted in ``skipped``."""
    by_form: dict[str, list[tuple[str, int, np.ndarray]]] = {}
    for done, (line_id, read) in enumerate(line_files, start=1):
        match = _LINE_ID.match(line_id)
        if match is None:
            skipped["line file name is not <form>-NN"] += 1
        else:
            points = read_iam_ondb_xml(read(), source=line_id + ".xml")
            by_form.setdefault(match["form"], []).append((line_id, int(match["number"]), points))
        progress(done, total)
    return by_form


def _pair_lines(
    line_files: _LineFiles, transcripts: dict[str, list[str]], progress: ProgressFn, total: int | None
) -> IamRead:
    """Pair each line file with the N-th CSR line of its form, counting what cannot be paired.

    A form with more line files than CSR lines is skipped whole: the N-th line
    pairing is then unreliable for every line of it (IAM-OnDB's z01-000z).
    """
    skipped: Counter[str] = Counter()
    samples = []
    for form_id, lines in _read_by_form(line_files, progress, total, skipped).items():
        csr = transcripts.get(form_id)
        if csr is None:
            skipped["no ascii transcription file for the form"] += len(lines)
            continue
        if max(number for _, number, _ in lines) > len(csr) or len(lines) > len(csr):
            skipped["form has more line files than transcript lines"] += len(lines)
            continue
        for line_id, number, points in lines:
            text = csr[number - 1] if number >= 1 else ""
            if not text or text == _PLACEHOLDER_TRANSCRIPT:
                skipped["no transcript for the line"] += 1
            elif len(points) == 0:
                skipped["line file has no pen points"] += 1
            else:
                samples.append(RawSample(sample_id=line_id, text=text, points=points))
    samples.sort(key=lambda sample: sample.sample_id)
    return IamRead(samples=samples, skipped=dict(skipped))


def _constant(data: bytes) -> Callable[[], bytes]:
    """A reader of bytes already in memory, shaped like ``Path.read_bytes`` (what the line pairing calls)."""
    return lambda: data


def _tar_files(tar_path: Path, suffix: str) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Yield (stem, reader) for each regular member ending in ``suffix``, in archive order.

    Members are read while iterating (never extracted), so a gzip stream is
    decompressed once and member names cannot write anywhere. A member over
    :data:`MAX_LINE_FILE_BYTES` is refused by the size its header declares, unread.
    """
    try:
        with tarfile.open(tar_path, "r:*") as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(suffix):
                    _check_size(member.size, f"{tar_path}: {member.name!r}")
                    data = archive.extractfile(member).read()  # type: ignore[union-attr]
                    yield Path(member.name).stem, _constant(data)
    except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise ScribeError(f"{tar_path}: not a readable tar archive ({reason(exc)}); download it again") from None


def _check_size(size: int, source: str) -> None:
    """Refuse a line or transcript file over :data:`MAX_LINE_FILE_BYTES`: it cannot be one, and would fill memory."""
    if size > MAX_LINE_FILE_BYTES:
        raise ScribeError(
            f"{source} is {size:,} bytes, over the {MAX_LINE_FILE_BYTES:,} of any IAM-OnDB line or transcript file; "
            "the data is damaged, download it again"
        )


def _read_file(path: Path) -> bytes:
    """A line or transcript file of an extracted tree, size-checked first."""
    try:
        _check_size(path.stat().st_size, str(path))
        return path.read_bytes()
    except OSError as exc:
        raise ScribeError(f"{path}: cannot read the file ({exc.strerror or reason(exc)}); check its permissions") from None


def _transcripts(files: _LineFiles) -> dict[str, list[str]]:
    """Form id -> its CSR lines, from (stem, reader) pairs of ascii files."""
    return {stem: parse_iam_ascii(_decode_text(read())) for stem, read in files}


def read_iam_ondb_tars(
    linestrokes_tar: Path | str, ascii_tar: Path | str, progress: ProgressFn = no_progress
) -> IamRead:
    """Read IAM-OnDB straight from ``lineStrokes-all.tar.gz`` and ``ascii-all.tar.gz``, without extracting.

    ``official_split`` stays None: the split lists are separate files (see
    :func:`read_iam_ondb_raw`). ``progress`` gets ``(lines read, None)``.
    """
    transcripts = _transcripts(_tar_files(Path(ascii_tar), ".txt"))
    return _pair_lines(_tar_files(Path(linestrokes_tar), ".xml"), transcripts, progress, None)


def _files_under(source: Path, folder_name: str, suffix: str) -> list[Path]:
    """Files ending in ``suffix`` anywhere below a folder called ``folder_name`` inside ``source``."""
    return sorted(
        path
        for path in source.rglob(f"*{suffix}")
        if folder_name in path.relative_to(source).parts[:-1] and path.is_file()
    )


def _read_tree(source: Path, progress: ProgressFn) -> IamRead:
    """Read an extracted IAM-OnDB tree (``lineStrokes/**.xml`` and ``ascii/**.txt``)."""
    transcripts = _transcripts((path.stem, partial(_read_file, path)) for path in _files_under(source, "ascii", ".txt"))
    xml_files = _files_under(source, "lineStrokes", ".xml")
    return _pair_lines(((path.stem, partial(_read_file, path)) for path in xml_files), transcripts, progress, len(xml_files))


def _tars(source: Path) -> tuple[Path, Path] | None:
    """The two IAM-OnDB tarballs under ``source``, when both are there."""
    linestrokes, ascii_tar = shallowest_file(source, LINESTROKES_TAR), shallowest_file(source, ASCII_TAR)
    return (linestrokes, ascii_tar) if linestrokes and ascii_tar else None


def _has_tree(source: Path) -> bool:
    """Whether ``source`` holds extracted ``lineStrokes`` XML and ``ascii`` text files."""
    return bool(_files_under(source, "lineStrokes", ".xml")) and bool(_files_under(source, "ascii", ".txt"))


def _split_lists(source: Path) -> dict[str, str]:
    """Line or form id -> split name, from IAM-OnDB's task lists found under ``source``."""
    splits: dict[str, str] = {}
    for file_name, split in SPLIT_LISTS.items():
        path = shallowest_file(source, file_name)
        if path is not None:
            for entry in path.read_text(encoding="utf-8", errors="replace").split():
                splits[entry] = split
    return splits


def read_iam_ondb_raw(source: Path | str, progress: ProgressFn = no_progress) -> IamRead:
    """Read IAM-OnDB as distributed: an extracted tree, or a folder with the two tarballs.

    Lines get the official split of IAM-OnDB's task lists (``trainset.txt``,
    ``testset_v.txt``, ``testset_t.txt``, ``testset_f.txt``) when those are
    under ``source``; their entries may name forms or lines. Writers are -1:
    line files do not carry them.
    """
    source = Path(source)
    if not source.is_dir():
        raise ScribeError(f"{source}: not a folder; give the folder holding IAM-OnDB's lineStrokes and ascii data")
    tars = _tars(source)
    if tars is not None:
        read = read_iam_ondb_tars(*tars, progress=progress)
    elif _has_tree(source):
        read = _read_tree(source, progress)
    else:
        raise ScribeError(
            f"{source}: no IAM-OnDB data found; the folder needs lineStrokes/**.xml and ascii/**.txt, "
            f"or {LINESTROKES_TAR} and {ASCII_TAR}"
        )
    splits = _split_lists(source)
    for sample in read.samples:
        form_id = _LINE_ID.match(sample.sample_id)["form"]  # type: ignore[index]
        sample.official_split = splits.get(sample.sample_id, splits.get(form_id))
    return read


# --------------------------------------------------------------------------- compact line file

# What each array of the compact file must hold (dtype kinds, as safeio.checked_array takes them), and its axes.
_COMPACT_ARRAYS = {
    "points": ("iuf", 2),
    "line_offsets": ("iu", 1),
    "texts": ("U", 1),
    "line_ids": ("U", 1),
    "writer_ids": ("iu", 1),
    "split": ("U", 1),
    "blacklisted": ("biu", 1),
}
_COMPACT_KEYS = tuple(_COMPACT_ARRAYS)
_COMPACT_SPLITS = {*OFFICIAL_SPLITS, ""}  # "": the line is in no official split
_COMPACT_WHAT = "compact IAM-OnDB line"


def _load_compact_arrays(path: Path) -> dict[str, np.ndarray]:
    """The compact file's arrays, checked for kind and axes; nothing is unpickled."""
    arrays = read_npz_safely(path, _COMPACT_WHAT, keys=_COMPACT_KEYS, objects=False)
    require_keys(arrays, _COMPACT_KEYS, path, _COMPACT_WHAT)
    for key, (kinds, ndim) in _COMPACT_ARRAYS.items():
        checked_array(arrays[key], kinds, f"{path}: {key}", _COMPACT_WHAT, ndim=ndim)
    require_finite(arrays["points"], f"{path}: points", _COMPACT_WHAT)
    return arrays


def _check_compact(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Check the shapes and the line offsets agree, so slicing cannot go wrong silently."""
    points, offsets = arrays["points"], arrays["line_offsets"].astype(np.int64)  # unsigned differences would wrap
    count = len(offsets) - 1
    problems = []
    if points.shape[1] != 3:
        problems.append(f"points has shape {points.shape}, expected (P, 3)")
    if count < 0 or offsets[0] != 0 or offsets[-1] != len(points) or np.any(np.diff(offsets) < 0):
        problems.append("line_offsets do not partition points (they must rise from 0 to the number of points)")
    problems += [f"{key} does not have {count} entries" for key in _COMPACT_KEYS[2:] if len(arrays[key]) != count]
    unknown = set(np.unique(arrays["split"]).tolist()) - _COMPACT_SPLITS
    if unknown:
        problems.append(f"unknown split names {sorted(unknown)}")
    if problems:
        raise ScribeError(f"{path}: {'; '.join(problems)}; the file is damaged, download it again")


def read_compact_lines(path: Path | str, progress: ProgressFn = no_progress) -> list[RawSample]:
    """Read ``iam_ondb_lines.npz``: one RawSample per line, points int16 absolute with y down."""
    path = Path(path)
    arrays = _load_compact_arrays(path)
    _check_compact(arrays, path)
    bounds = arrays["line_offsets"].tolist()
    texts, line_ids = arrays["texts"].tolist(), arrays["line_ids"].tolist()
    writers, splits, blacklisted = arrays["writer_ids"].tolist(), arrays["split"].tolist(), arrays["blacklisted"].tolist()
    points = arrays["points"]
    total = len(bounds) - 1
    samples = []
    for i in range(total):
        samples.append(
            RawSample(
                sample_id=line_ids[i],
                text=texts[i],
                writer=int(writers[i]),
                official_split=splits[i] or None,
                blacklisted=bool(blacklisted[i]),
                points=points[bounds[i] : bounds[i + 1]].copy(),
            )
        )
        if (i + 1) % 1000 == 0 or i + 1 == total:
            progress(i + 1, total)
    return samples


def _is_compact(path: Path) -> bool:
    """Whether ``path`` is a compact line file, told by its array names alone."""
    return {"points", "line_offsets", "texts"} <= npz_member_names(path)


# --------------------------------------------------------------------------- hooks


def _detect(path: Path) -> Found | None:
    """The original layout (a tree or the two tarballs), a compact file, or a folder holding exactly one."""
    if path.is_file():
        return Found(path, COMPACT_FORMAT) if _is_compact(path) else None
    if not path.is_dir():
        return None
    if _tars(path) is not None or _has_tree(path):
        return Found(path, RAW_FORMAT)
    compact = [candidate for candidate in sorted(path.glob("*.npz")) if _is_compact(candidate)]
    return Found(compact[0], COMPACT_FORMAT) if len(compact) == 1 else None


def _read(found: Found, progress: ProgressFn, simplify_eps: float, options: dict[str, Any]) -> Loaded:
    """The lines of ``found`` with the description of what the driver does to them (``options``: none)."""
    if found.source_format == COMPACT_FORMAT:
        return Loaded(samples=read_compact_lines(found.path, progress), preprocessing=_preprocessing(simplify_eps))
    read = read_iam_ondb_raw(found.path, progress)
    return Loaded(samples=read.samples, skipped=read.skipped, preprocessing=_preprocessing(simplify_eps))


def _preprocessing(eps: float) -> dict[str, Any]:
    """The IAM-OnDB steps and their parameters, in the order applied, for meta.json."""
    return {
        "steps": ["drop blacklisted", "remove_outliers", "simplify", "points_to_offsets (y flip)", "validate_offsets"],
        "blacklist": "lines the source flags as blacklisted (sjvasquez/handwriting-synthesis's 300) are skipped",
        "outliers": {
            "function": "scribe.ink.strokes.remove_outliers",
            "duplicates": "points repeating the previous point of their stroke are dropped",
            "spike": (
                "an interior in-stroke point is dropped when both its steps exceed max(factor * median "
                "in-stroke step, min_jump), its neighbours are closer than return_ratio * the shorter step, "
                "and the steps around the excursion are speed_ratio times shorter"
            ),
            "factor": strokes.SPIKE_FACTOR,
            "min_jump": strokes.SPIKE_MIN_JUMP,
            "return_ratio": strokes.SPIKE_RETURN,
            "speed_ratio": strokes.SPIKE_SPEED_RATIO,
            "stray_stroke": (
                "a stroke of at most max_points points lying entirely more than distance line heights "
                "(5th-95th percentile of y) outside the line's bulk is dropped"
            ),
            "max_points": strokes.ISOLATED_MAX_POINTS,
            "distance": strokes.ISOLATED_DISTANCE,
        },
        "simplify": {"method": "Ramer-Douglas-Peucker per stroke, distance to the chord segment", "eps": eps}
        if eps > 0
        else None,
        "y_flip": "IAM-OnDB's y axis points down; flipped to point up",
    }


SPEC = DatasetSpec(
    name=NAME,
    sources=(
        Source(url=_DATA_URL + LINESTROKES_TAR, filename=LINESTROKES_TAR),
        Source(url=_DATA_URL + ASCII_TAR, filename=ASCII_TAR),
    ),
    registration=(
        "IAM-OnDB is free for non-commercial research after registering at "
        "https://fki.tic.heia-fr.ch/databases/iam-on-line-handwriting-database; then pass the "
        "download links you are given as `urls` or the archives you downloaded as `from_files`"
    ),
    official_splits=OFFICIAL_SPLITS,
    units="IAM-OnDB tablet units (raw eBeam whiteboard coordinates)",
    accepts=(
        "the compact iam_ondb_lines.npz, or a folder with IAM-OnDB's lineStrokes and ascii folders "
        f"(or {LINESTROKES_TAR} and {ASCII_TAR})"
    ),
    detect=_detect,
    read=_read,
)
