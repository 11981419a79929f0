"""Readers for the raw dataset formats scribe understands.

Each reader turns files as distributed into :class:`RawSample` records; nothing
here normalizes, filters or converts coordinates (that is :mod:`scribe.datasets.split`'s
job, through :mod:`scribe.ink.strokes`).

Three sources are understood:

- DeepWriting's monolithic ``.npz`` files, whose per-sample arrays are pickled
  NumPy object arrays: they are unpickled with an allow-list, never with
  ``allow_pickle=True``, because a downloaded file must not be able to run code;
- IAM-OnDB in its original layout (``lineStrokes`` XML + ``ascii`` transcripts),
  as folders or straight from the two distributed tarballs;
- the compact ``iam_ondb_lines.npz`` line file (plain numeric/unicode arrays).
"""

from __future__ import annotations

import pickle
import re
import tarfile
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from scribe.errors import ScribeError
from scribe.progress import ProgressFn, no_progress


@dataclass
class RawSample:
    """One handwritten line (or word group) exactly as a source provides it.

    Exactly one of ``points`` and ``offsets`` is set:

    - ``points``: int or float (N, 3) ``[x, y, end_of_stroke]``, absolute tablet
      coordinates with the y axis pointing **down** (IAM-OnDB);
    - ``offsets``: float32 (T, 3) ``[dx, dy, pen_up]``, y pointing **up**, already
      de-normalized to the source's own units (DeepWriting).
    """

    sample_id: str
    text: str
    writer: int = -1
    # The source's own split name, or None when it has none: "train", "val1",
    # "val2", "test" for IAM-OnDB's task lists; "train", "val" for DeepWriting's files.
    official_split: str | None = None
    blacklisted: bool = False
    points: np.ndarray | None = None
    offsets: np.ndarray | None = None
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # DeepWriting per-point labels


# --------------------------------------------------------------------------------------
# Safe .npz / .npy reading (DeepWriting's object arrays)
# --------------------------------------------------------------------------------------

_DAMAGED = "the file is damaged or not a DeepWriting file"
_HOSTILE = "the file may be malicious or not a DeepWriting file"


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """Stand-in for ``_codecs.encode``, which protocol-2 pickles use to rebuild bytes.

    Only the latin-1 round trip that pickle itself emits is allowed, so the
    allow-listed global cannot be used to reach other codecs.
    """
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise pickle.UnpicklingError(f"unexpected _codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


def _numpy_pickle_globals() -> dict[tuple[str, str], Any]:
    """The only globals an object array of numeric ndarrays needs, under both NumPy module names.

    The functions are taken from NumPy's own ``__reduce__`` results rather than
    imported by name, so this works on NumPy 1.x (``numpy.core``) and 2.x (``numpy._core``).
    """
    reconstruct = np.empty(0).__reduce__()[0]
    scalar = np.float32(0).__reduce__()[0]
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
        allowed[(module, "scalar")] = scalar
    return allowed


_PICKLE_GLOBALS = _numpy_pickle_globals()


class _NumericArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and nothing else.

    Every global a pickle references goes through :meth:`find_class`; refusing
    all but the allow-list means a hostile file cannot name ``os.system``,
    ``builtins.exec`` or any other callable, so unpickling cannot run code.
    """

    def __init__(self, file: IO[bytes], source: str) -> None:
        super().__init__(file, encoding="latin1")  # latin1: Python 2 pickles of arrays
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise ScribeError(f"refusing to unpickle {module}.{name} from {self._source}: not a numeric array; {_HOSTILE}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise ScribeError(f"refusing a persistent pickle reference from {self._source}: not a numeric array; {_HOSTILE}")


# Errors that unpickling or decoding damaged bytes can raise (ScribeError passes through).
_DECODE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
    OverflowError,
    MemoryError,
)


def _is_numeric(array: Any) -> bool:
    """True for a plain ndarray of numbers or booleans (not objects, strings or records)."""
    return (
        type(array) is np.ndarray
        and not array.dtype.hasobject
        and (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_)
    )


def _read_object_array(fp: IO[bytes], shape: tuple[int, ...], source: str) -> np.ndarray:
    """Unpickle an object array of numeric ndarrays with the allow-list unpickler."""
    try:
        array = _NumericArrayUnpickler(fp, source).load()
    except _DECODE_ERRORS as exc:
        raise ScribeError(f"{source}: cannot unpickle the object array ({exc}); {_DAMAGED}") from None
    if type(array) is not np.ndarray or array.dtype != object or array.shape != shape:
        raise ScribeError(f"{source}: the pickle does not hold an object array of shape {shape}; {_DAMAGED}")
    if not all(_is_numeric(element) for element in array.flat):
        raise ScribeError(f"{source}: an element is not a numeric array; {_DAMAGED}")
    return array


def _read_plain_array(fp: IO[bytes], shape: tuple[int, ...], fortran: bool, dtype: np.dtype, source: str) -> np.ndarray:
    """Read a non-object array body (what ``np.load(allow_pickle=False)`` would accept)."""
    count = int(np.prod(shape, dtype=np.int64))
    data = fp.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ScribeError(f"{source}: the array is truncated; {_DAMAGED}")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _read_npy(fp: IO[bytes], source: str) -> np.ndarray:
    """Read one ``.npy`` stream, unpickling object arrays only through the allow-list."""
    try:
        version = npy_format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except _DECODE_ERRORS as exc:
        raise ScribeError(f"{source}: not a valid .npy array ({exc}); {_DAMAGED}") from None
    if dtype.hasobject:
        if dtype != object:
            raise ScribeError(f"{source}: records with object fields are not supported; {_DAMAGED}")
        return _read_object_array(fp, shape, source)
    return _read_plain_array(fp, shape, fortran, dtype, source)


def _npz_member_names(path: Path) -> set[str]:
    """The array names stored in an ``.npz`` (empty when it is not a readable zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")}
    except (zipfile.BadZipFile, OSError):
        return set()


def _read_npz_safely(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz``, opened as a zip by hand so pickles never reach ``pickle.load``."""
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    arrays[info.filename[: -len(".npy")]] = _read_npy(member, f"{path}: {info.filename}")
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ScribeError(f"{path}: not a readable .npz archive ({exc}); download the file again") from None
    except OSError as exc:
        reason = exc.strerror or exc
        raise ScribeError(f"{path}: cannot read the file ({reason}); check the path and permissions") from None
    return arrays


def _require_keys(arrays: Any, required: Iterable[str], path: Path, what: str) -> None:
    """Raise a ScribeError naming every required array the file lacks."""
    missing = sorted(set(required) - set(arrays))
    if missing:
        raise ScribeError(f"{path}: missing array(s) {', '.join(missing)}; this is not a {what} file")


# --------------------------------------------------------------------------------------
# DeepWriting
# --------------------------------------------------------------------------------------

DEEPWRITING_LABEL_KEYS = ("char_labels", "eoc_labels", "soc_labels", "eow_labels", "sow_labels", "word_labels")
_DEEPWRITING_KEYS = ("strokes", "texts", "subject_labels", "alphabet", "mean", "std", "preprocessing", *DEEPWRITING_LABEL_KEYS)


@dataclass
class DeepWritingFile:
    """The content of one DeepWriting ``.npz``.

    ``mean`` and ``std`` are the file's own normalization statistics of its
    de-normalized ``[dx, dy, pen]`` offsets, in the file's orientation (y down):
    negate ``mean[1]`` to describe :attr:`RawSample.offsets`, whose y points up.
    """

    samples: list[RawSample]
    alphabet: list[str]
    mean: np.ndarray
    std: np.ndarray
    preprocessing: list[str]


def _infer_deepwriting_split(path: Path) -> str | None:
    """DeepWriting names its files ``deepwriting_training.npz`` / ``deepwriting_validation.npz``."""
    name = path.name.lower()
    if "training" in name:
        return "train"
    if "validation" in name:
        return "val"
    return None


def _deepwriting_offsets(strokes: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """De-normalize one sample's ``strokes`` into our ``[dx, dy, pen_up]`` convention.

    Checked on the real ``deepwriting_validation_sample.npz``:

    - only dx and dy are normalized; the pen column holds raw 0/1 values (its
      mean/std entries are mere statistics), so it is thresholded, not rescaled;
    - pen=1 marks the LAST point of a stroke: rows with pen=1 are short steps
      (mean length 0.0015) while the row after one is the jump to the next
      stroke (mean length 0.028). That is already our ``pen_up`` convention;
    - y points DOWN: drawing the cumulative sum with SVG's y-down axis shows
      upright text. dy is therefore negated to make y point up;
    - samples are cut at about 300 points, so 58% end mid-stroke with pen=0;
      the final row is set to 1 because the last point ends the last stroke.
    """
    offsets = np.empty(strokes.shape, dtype=np.float32)
    offsets[:, 0] = strokes[:, 0] * np.float64(std[0]) + np.float64(mean[0])
    offsets[:, 1] = -(strokes[:, 1] * np.float64(std[1]) + np.float64(mean[1]))
    offsets[:, 2] = strokes[:, 2] > 0.5
    if len(offsets):
        offsets[-1, 2] = 1.0
    return offsets


def _deepwriting_sample(arrays: dict[str, np.ndarray], index: int, sample_id: str, split: str | None) -> RawSample:
    """Build one RawSample, checking the per-sample shapes agree."""
    strokes = arrays["strokes"][index]
    if strokes.ndim != 2 or strokes.shape[1] != 3:
        raise ScribeError(f"{sample_id}: strokes have shape {strokes.shape}, expected (T, 3); {_DAMAGED}")
    labels = {}
    for key in DEEPWRITING_LABEL_KEYS:
        label = np.asarray(arrays[key][index]).astype(np.int32)
        if label.shape != (len(strokes),):
            raise ScribeError(f"{sample_id}: {key} has shape {label.shape}, expected ({len(strokes)},); {_DAMAGED}")
        labels[key] = label
    return RawSample(
        sample_id=sample_id,
        text=str(arrays["texts"][index]),
        writer=int(arrays["subject_labels"][index]),
        official_split=split,
        offsets=_deepwriting_offsets(strokes, arrays["mean"], arrays["std"]),
        labels=labels,
    )


def read_deepwriting_npz(path: Path | str, official_split: str | None = None) -> DeepWritingFile:
    """Read a DeepWriting ``.npz`` without ever unpickling anything but numeric arrays.

    ``official_split`` defaults to what the file name says ("train" for
    ``...training...``, "val" for ``...validation...``, else None).
    """
    path = Path(path)
    arrays = _read_npz_safely(path)
    _require_keys(arrays, _DEEPWRITING_KEYS, path, "DeepWriting")
    mean, std = arrays["mean"].astype(np.float32), arrays["std"].astype(np.float32)
    if mean.shape != (3,) or std.shape != (3,):
        raise ScribeError(f"{path}: mean/std have shapes {mean.shape}/{std.shape}, expected (3,); {_DAMAGED}")
    count = len(arrays["strokes"])
    per_sample = ("texts", "subject_labels", *DEEPWRITING_LABEL_KEYS)
    wrong = [key for key in per_sample if len(arrays[key]) != count]
    if wrong:
        raise ScribeError(f"{path}: {', '.join(wrong)} do not have one entry per sample ({count}); {_DAMAGED}")
    split = official_split if official_split is not None else _infer_deepwriting_split(path)
    samples = [_deepwriting_sample(arrays, i, f"{path.stem}-{i:05d}", split) for i in range(count)]
    return DeepWritingFile(
        samples=samples,
        alphabet=[str(c) for c in arrays["alphabet"]],
        mean=mean,
        std=std,
        preprocessing=[str(step) for step in arrays["preprocessing"]],
    )


def find_deepwriting_npz(folder: Path | str) -> list[Path]:
    """Every ``.npz`` under ``folder`` (recursively) that has a ``strokes`` array, sorted."""
    return sorted(p for p in Path(folder).rglob("*.npz") if p.is_file() and "strokes" in _npz_member_names(p))


# --------------------------------------------------------------------------------------
# IAM-OnDB, original layout
# --------------------------------------------------------------------------------------

LINESTROKES_TAR = "lineStrokes-all.tar.gz"
ASCII_TAR = "ascii-all.tar.gz"
# IAM-OnDB's task split lists, by file name -> our split name.
IAM_SPLIT_LISTS = {"trainset.txt": "train", "testset_v.txt": "val1", "testset_t.txt": "val2", "testset_f.txt": "test"}
# A transcript IAM-OnDB left unfilled (line z00-001-01): not a transcription.
_PLACEHOLDER_TRANSCRIPT = "Please Enter Transcription here"
_LINE_ID = re.compile(r"^(?P<form>.+)-(?P<number>\d+)$")


@dataclass
class IamRead:
    """The lines read from IAM-OnDB, and how many line files were skipped for each reason."""

    samples: list[RawSample]
    skipped: dict[str, int] = field(default_factory=dict)


class _NoDoctypeBuilder(ET.TreeBuilder):
    """A tree builder that aborts on any DOCTYPE, whatever the document's encoding.

    The byte check in :func:`read_iam_ondb_xml` misses UTF-16 documents; this
    hook runs as soon as the parser meets the declaration, before any entity
    could be defined or expanded.
    """

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise ScribeError("XML document type declarations are not allowed")


def parse_xml_safely(data: bytes, source: str, expected: str) -> ET.Element:
    """Parse XML from outside, refusing DOCTYPE/ENTITY declarations (entity-expansion attacks).

    ``expected`` names what the file should be, for the error messages.
    """
    refusal = f"{source}: refusing an XML file with DOCTYPE/ENTITY declarations; it is not {expected}"
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ScribeError(refusal)
    parser = ET.XMLParser(target=_NoDoctypeBuilder())
    try:
        parser.feed(data)
        return parser.close()
    except ScribeError:
        raise ScribeError(refusal) from None
    except ET.ParseError as exc:
        raise ScribeError(f"{source}: malformed XML ({exc}); the file is damaged or not {expected}") from None


def read_iam_ondb_xml(data: bytes | Path, source: str | None = None) -> np.ndarray:
    """Parse one ``lineStrokes`` XML into int32 (N, 3) ``[x, y, end_of_stroke]``, y down as in the file.

    ``data`` is the document's bytes or its path. ``end_of_stroke`` is 1 on the
    last point of each ``<Stroke>``. Documents with DOCTYPE or ENTITY
    declarations are refused: IAM-OnDB never uses them, and they are how XML
    entity-expansion attacks work. ``source`` names the file in errors.
    """
    if isinstance(data, Path):
        source = source or str(data)
        try:
            data = data.read_bytes()
        except OSError as exc:
            raise ScribeError(f"{source}: cannot read the file ({exc.strerror or exc}); check the path") from None
    source = source or "IAM-OnDB line file"
    root = parse_xml_safely(data, source, "an IAM-OnDB line file")
    rows: list[tuple[int, int, int]] = []
    try:
        for stroke in root.iter("Stroke"):
            points = [(int(p.attrib["x"]), int(p.attrib["y"]), 0) for p in stroke.iter("Point")]
            if points:
                points[-1] = (*points[-1][:2], 1)
            rows.extend(points)
    except (KeyError, ValueError) as exc:
        raise ScribeError(f"{source}: a <Point> lacks integer x/y ({exc}); the file is damaged or not an IAM-OnDB line file") from None
    return np.array(rows, dtype=np.int32).reshape(-1, 3)


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


def _pair_lines(
    line_files: Iterable[tuple[str, Callable[[], bytes]]],
    transcripts: dict[str, list[str]],
    progress: ProgressFn,
    total: int | None,
) -> IamRead:
    """Pair each line file with the N-th CSR line of its form, counting what cannot be paired.

    A form with more line files than CSR lines is skipped whole: the N-th line
    pairing is then unreliable for every line of it (IAM-OnDB's z01-000z).
    """
    skipped: dict[str, int] = {}

    def skip(reason: str, count: int = 1) -> None:
        skipped[reason] = skipped.get(reason, 0) + count

    by_form: dict[str, list[tuple[str, int, np.ndarray]]] = {}
    for done, (line_id, read) in enumerate(line_files, start=1):
        match = _LINE_ID.match(line_id)
        if match is None:
            skip("line file name is not <form>-NN")
        else:
            points = read_iam_ondb_xml(read(), source=line_id + ".xml")
            by_form.setdefault(match["form"], []).append((line_id, int(match["number"]), points))
        progress(done, total)
    samples = []
    for form_id, lines in by_form.items():
        csr = transcripts.get(form_id)
        if csr is None:
            skip("no ascii transcription file for the form", len(lines))
            continue
        if max(number for _, number, _ in lines) > len(csr) or len(lines) > len(csr):
            skip("form has more line files than transcript lines", len(lines))
            continue
        for line_id, number, points in lines:
            text = csr[number - 1] if number >= 1 else ""
            if not text or text == _PLACEHOLDER_TRANSCRIPT:
                skip("no transcript for the line")
            elif len(points) == 0:
                skip("line file has no pen points")
            else:
                samples.append(RawSample(sample_id=line_id, text=text, points=points))
    samples.sort(key=lambda sample: sample.sample_id)
    return IamRead(samples=samples, skipped=skipped)


def _tar_files(tar_path: Path, suffix: str) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Yield (stem, reader) for each regular member ending in ``suffix``, in archive order.

    Members are read while iterating (never extracted), so a gzip stream is
    decompressed once and member names cannot write anywhere.
    """
    try:
        with tarfile.open(tar_path, "r:*") as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(suffix):
                    data = archive.extractfile(member).read()  # type: ignore[union-attr]
                    yield Path(member.name).stem, lambda data=data: data
    except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise ScribeError(f"{tar_path}: not a readable tar archive ({exc}); download it again") from None


def _transcripts(files: Iterable[tuple[str, Callable[[], bytes]]]) -> dict[str, list[str]]:
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


def _read_iam_tree(source: Path, progress: ProgressFn) -> IamRead:
    """Read an extracted IAM-OnDB tree (``lineStrokes/**.xml`` and ``ascii/**.txt``)."""
    transcripts = _transcripts((path.stem, path.read_bytes) for path in _files_under(source, "ascii", ".txt"))
    xml_files = _files_under(source, "lineStrokes", ".xml")
    return _pair_lines(((path.stem, path.read_bytes) for path in xml_files), transcripts, progress, len(xml_files))


def _find_first(source: Path, name: str) -> Path | None:
    """The shallowest file called ``name`` under ``source``, or None."""
    matches = sorted((p for p in source.rglob(name) if p.is_file()), key=lambda p: (len(p.parts), str(p)))
    return matches[0] if matches else None


def _iam_tars(source: Path) -> tuple[Path, Path] | None:
    """The two IAM-OnDB tarballs under ``source``, when both are there."""
    linestrokes, ascii_tar = _find_first(source, LINESTROKES_TAR), _find_first(source, ASCII_TAR)
    return (linestrokes, ascii_tar) if linestrokes and ascii_tar else None


def _has_iam_tree(source: Path) -> bool:
    """Whether ``source`` holds extracted ``lineStrokes`` XML and ``ascii`` text files."""
    return bool(_files_under(source, "lineStrokes", ".xml")) and bool(_files_under(source, "ascii", ".txt"))


def _official_splits(source: Path) -> dict[str, str]:
    """Line or form id -> split name, from IAM-OnDB's task lists found under ``source``."""
    splits: dict[str, str] = {}
    for file_name, split in IAM_SPLIT_LISTS.items():
        path = _find_first(source, file_name)
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
    tars = _iam_tars(source)
    if tars is not None:
        read = read_iam_ondb_tars(*tars, progress=progress)
    elif _has_iam_tree(source):
        read = _read_iam_tree(source, progress)
    else:
        raise ScribeError(
            f"{source}: no IAM-OnDB data found; the folder needs lineStrokes/**.xml and ascii/**.txt, "
            f"or {LINESTROKES_TAR} and {ASCII_TAR}"
        )
    splits = _official_splits(source)
    for sample in read.samples:
        form_id = _LINE_ID.match(sample.sample_id)["form"]  # type: ignore[index]
        sample.official_split = splits.get(sample.sample_id, splits.get(form_id))
    return read


# --------------------------------------------------------------------------------------
# Compact IAM-OnDB line file
# --------------------------------------------------------------------------------------

_COMPACT_KEYS = ("points", "line_offsets", "texts", "line_ids", "writer_ids", "split", "blacklisted")
_COMPACT_SPLITS = {"train", "val1", "val2", "test", ""}


def _load_compact_arrays(path: Path) -> dict[str, np.ndarray]:
    """The compact file's arrays, loaded without pickle support."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            _require_keys(archive.files, _COMPACT_KEYS, path, "compact IAM-OnDB line")
            return {key: archive[key] for key in _COMPACT_KEYS}
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise ScribeError(f"{path}: not a readable compact line file ({exc}); download it again") from None
    except OSError as exc:
        raise ScribeError(f"{path}: cannot read the file ({exc.strerror or exc}); check the path") from None


def _check_compact(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Check the shapes and the line offsets agree, so slicing cannot go wrong silently."""
    points, offsets = arrays["points"], arrays["line_offsets"]
    count = len(offsets) - 1
    problems = []
    if points.ndim != 2 or points.shape[1] != 3:
        problems.append(f"points has shape {points.shape}, expected (P, 3)")
    if count < 0 or offsets[0] != 0 or offsets[-1] != len(points) or np.any(np.diff(offsets) < 0):
        problems.append("line_offsets do not partition points")
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


# --------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------

DEEPWRITING = "deepwriting-npz"
IAM_COMPACT = "iam-ondb-compact"
IAM_RAW = "iam-ondb-raw"
_ACCEPTED = (
    "a DeepWriting .npz (or a folder of them), the compact iam_ondb_lines.npz, "
    f"or a folder with IAM-OnDB's lineStrokes and ascii folders (or {LINESTROKES_TAR} and {ASCII_TAR})"
)


def detect_source(path: Path | str) -> str:
    """Which reader ``path`` needs: ``"deepwriting-npz"``, ``"iam-ondb-compact"`` or ``"iam-ondb-raw"``."""
    path = Path(path)
    if path.is_file():
        members = _npz_member_names(path)
        if "strokes" in members:
            return DEEPWRITING
        if {"points", "line_offsets", "texts"} <= members:
            return IAM_COMPACT
        raise ScribeError(f"{path}: not a recognised dataset file; give {_ACCEPTED}")
    if path.is_dir():
        if _iam_tars(path) is not None or _has_iam_tree(path):
            return IAM_RAW
        if find_deepwriting_npz(path):
            return DEEPWRITING
        raise ScribeError(f"{path}: no dataset found in the folder; give {_ACCEPTED}")
    raise ScribeError(f"{path}: no such file or folder; give {_ACCEPTED}")
