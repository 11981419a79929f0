"""``scribe split``: raw dataset files -> one ``.npz`` per sample in train/val/test + ``meta.json``.

The output layout and the keys of every file are defined in docs/data.md; the
stroke format in :mod:`scribe.ink.strokes`. This module reads a source through
:mod:`scribe.datasets.readers`, cleans IAM-OnDB lines (blacklist, outliers, optional
Ramer-Douglas-Peucker simplification), converts everything to offsets, checks
every sample, assigns splits (the official ones when the source has them, else a
writer-disjoint random split) and writes the result atomically: everything is
built in a hidden temporary folder next to the split folders and swapped in at
the end, so an interrupted run never leaves a half-written dataset, and the
``downloads/`` and ``raw/`` folders that share the dataset folder are never touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scribe import paths
from scribe.ink import strokes
from scribe.errors import ScribeError
from scribe.progress import ProgressFn, no_progress
from scribe.datasets.readers import RawSample
from scribe.ink.strokes import (
    offsets_stats,
    points_to_offsets,
    remove_outliers,
    simplify,
    validate_offsets,
)

#: Ramer-Douglas-Peucker tolerance for IAM-OnDB, in tablet units. Measured on the full
#: line set after outlier removal (median points per character): eps 0: 21.2, 1: 16.9,
#: 2: 13.9, 3: 11.7, 3.5: 10.9, 4: 10.2, 5: 9.0, 6: 8.2, 8: 7.1, 10: 6.4. At 3.5 the
#: points are halved (1.97x fewer) and letters drawn at full size look unchanged;
#: from about 6 on, round letters turn visibly polygonal.
DEFAULT_SIMPLIFY_EPS: float = 3.5

FORMAT_VERSION = 1
DATASETS = ("deepwriting", "iam-ondb")
META_FILE = "meta.json"

# Official split names of each dataset -> scribe's split.
OFFICIAL_SPLITS = {
    "iam-ondb": {"train": "train", "val1": "val", "val2": "val", "test": "test"},
    "deepwriting": {"train": "train", "val": "val"},
}
SOURCE_FORMATS = {"deepwriting": ("deepwriting-npz",), "iam-ondb": ("iam-ondb-compact", "iam-ondb-raw")}
UNITS = {
    "deepwriting": "DeepWriting units: the file's offsets with its normalization undone",
    "iam-ondb": "IAM-OnDB tablet units (raw eBeam whiteboard coordinates)",
}
_TMP_PREFIX = ".split-tmp-"
_FORM_SUFFIX = re.compile(r"-\d+$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# DeepWriting's word_labels count words and punctuation marks separately ("year?" is
# two) but not double quotes, as far as its validation file shows.
_DEEPWRITING_TOKEN = re.compile(r'\w+|[^\w\s"]')


@dataclass
class SplitReport:
    """What :func:`split_dataset` wrote."""

    out_dir: Path
    counts: dict[str, int]  # split -> samples written
    skipped: dict[str, int]  # reason -> samples left out
    alphabet: str
    points_per_char: float  # median over kept samples of points / characters
    seconds: float


@dataclass
class _Loaded:
    """Samples of a source plus what the source says about itself."""

    samples: list[RawSample]
    source_format: str
    path: Path  # the file or folder actually read
    skipped: Counter = field(default_factory=Counter)
    mean: np.ndarray | None = None  # DeepWriting's stored statistics (y up)
    std: np.ndarray | None = None
    preprocessing: dict = field(default_factory=dict)


@dataclass
class _Kept:
    """A preprocessed, valid sample ready to be written."""

    sample_id: str
    text: str
    writer: int
    official_split: str | None
    offsets: np.ndarray
    labels: dict[str, np.ndarray]


def split_dataset(
    name: str,
    source: Path | None = None,
    *,
    out_dir: Path | None = None,
    simplify_eps: float | None = DEFAULT_SIMPLIFY_EPS,
    train_extra: tuple[str, ...] = (),
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    progress: ProgressFn = no_progress,
) -> SplitReport:
    """Read dataset ``name`` from ``source`` and write ``out_dir/{train,val,test}/<id>.npz`` + ``meta.json``.

    ``source`` defaults to the dataset's ``raw/`` folder and ``out_dir`` to its
    dataset folder. ``simplify_eps`` (IAM-OnDB only; None or 0 keeps every point)
    is the Ramer-Douglas-Peucker tolerance in tablet units. ``train_extra`` names
    official splits (e.g. ``val2``) whose samples go to training. When the source
    has no official split, writers are split at random with ``seed``, keeping every
    writer (or form, when the writer is unknown) in one split. ``progress`` gets
    ``(samples done, total)``.
    """
    started = time.monotonic()
    if name not in DATASETS:
        raise ScribeError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    official = OFFICIAL_SPLITS[name]
    unknown_extra = sorted(set(train_extra) - set(official))
    if unknown_extra:
        raise ScribeError(
            f"unknown official split(s) {', '.join(unknown_extra)} in --train-extra; {name} has {', '.join(official)}"
        )
    for fraction_name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= fraction < 1:
            raise ScribeError(f"{fraction_name} must be in [0, 1), not {fraction}")
    if val_fraction + test_fraction >= 1:
        raise ScribeError("val_fraction + test_fraction must be below 1 so that training keeps some samples")
    eps = float(simplify_eps or 0.0)
    if eps < 0 or not np.isfinite(eps):
        raise ScribeError(f"the simplification tolerance must be 0 or positive, not {simplify_eps}")

    source = Path(source) if source is not None else paths.raw_dir(name)
    if not source.exists() or (source.is_dir() and not any(source.iterdir())):
        raise ScribeError(
            f"no raw files for {name} in {source}: run `scribe download-data {name}` first, or pass --source PATH"
        )
    out_dir = Path(out_dir) if out_dir is not None else paths.dataset_dir(name)

    loaded = _load(name, source, progress)
    skipped = Counter(loaded.skipped)
    kept = _preprocess(loaded.samples, eps, skipped, progress)
    if not kept:
        reasons = ", ".join(f"{reason} ({n})" for reason, n in sorted(skipped.items())) or "the source is empty"
        raise ScribeError(f"no usable samples in {source}: {reasons}; check that --source points at {name} data")

    assignment, split_method = _assign_splits(name, kept, train_extra, seed, val_fraction, test_fraction, skipped)
    by_split: dict[str, list[_Kept]] = {split: [] for split in paths.SPLITS}
    for sample, split in zip(kept, assignment):
        if split is not None:
            by_split[split].append(sample)
    written = [s for split in paths.SPLITS for s in by_split[split]]
    if not written:
        raise ScribeError(f"no sample of {source} has a usable split; check the source or pass --train-extra")

    alphabet = "".join(sorted({c for s in written for c in s.text}))
    points_per_char = float(np.median([len(s.offsets) / len(s.text) for s in written]))
    if loaded.mean is not None and loaded.std is not None:
        mean, std = loaded.mean.astype(np.float64), loaded.std.astype(np.float64)
        stats_from = "the source file's stored normalization statistics"
    else:
        basis = by_split["train"] or written
        mean, std = offsets_stats([s.offsets for s in basis])
        stats_from = (
            "the training split after preprocessing" if by_split["train"] else "all kept samples (no training split)"
        )
    counts = {split: len(by_split[split]) for split in paths.SPLITS}
    preprocessing = dict(loaded.preprocessing)
    if name == "iam-ondb":
        preprocessing.update(_iam_preprocessing(eps))
    preprocessing["statistics"] = stats_from
    meta = {
        "format_version": FORMAT_VERSION,
        "dataset": name,
        "source": str(loaded.path.resolve()),
        "source_format": loaded.source_format,
        "alphabet": alphabet,
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
        "units": UNITS[name],
        "preprocessing": preprocessing,
        "split_method": split_method,
        "train_extra": list(train_extra),
        "counts": counts,
        "skipped": dict(sorted(skipped.items())),
        "points_per_char": points_per_char,
    }
    _write(out_dir, by_split, meta)
    return SplitReport(
        out_dir=out_dir,
        counts=counts,
        skipped=dict(sorted(skipped.items())),
        alphabet=alphabet,
        points_per_char=points_per_char,
        seconds=time.monotonic() - started,
    )


# --------------------------------------------------------------------------- reading


def _load(name: str, source: Path, progress: ProgressFn) -> _Loaded:
    """Read ``source`` with the reader its format needs, refusing a format that is not ``name``'s."""
    from scribe.datasets import readers

    source, source_format = _detect(source)
    if source_format not in SOURCE_FORMATS[name]:
        other = next(n for n, formats in SOURCE_FORMATS.items() if source_format in formats)
        raise ScribeError(
            f"{source} holds {other} data ({source_format}), not {name}; run `scribe split {other}` "
            f"or pass the --source of {name} data"
        )
    if source_format == "deepwriting-npz":
        return _load_deepwriting(source)
    if source_format == "iam-ondb-compact":
        return _Loaded(samples=readers.read_compact_lines(source, progress), source_format=source_format, path=source)
    read = readers.read_iam_ondb_raw(source, progress)
    return _Loaded(samples=read.samples, source_format=source_format, path=source, skipped=Counter(read.skipped))


def _detect(source: Path) -> tuple[Path, str]:
    """The source's format; a folder holding just a compact IAM-OnDB ``.npz`` means that file."""
    from scribe.datasets import readers

    try:
        return source, readers.detect_source(source)
    except ScribeError:
        if not source.is_dir():
            raise
        compact = []
        for path in sorted(source.glob("*.npz")):
            try:
                if readers.detect_source(path) == "iam-ondb-compact":
                    compact.append(path)
            except ScribeError:
                continue
        if len(compact) != 1:
            raise
        return compact[0], "iam-ondb-compact"


def _load_deepwriting(source: Path) -> _Loaded:
    """Every DeepWriting file of ``source``; statistics from the training file when there are several."""
    from scribe.datasets import readers

    files = [source] if source.is_file() else readers.find_deepwriting_npz(source)
    contents = [readers.read_deepwriting_npz(path) for path in files]
    stats_file = next((c for c in contents if c.samples and c.samples[0].official_split == "train"), contents[0])
    # The reader's statistics describe the file's own orientation (y down); ours points up.
    mean = np.asarray(stats_file.mean, dtype=np.float64).copy()
    mean[1] = -mean[1]
    return _Loaded(
        samples=[s for c in contents for s in c.samples],
        source_format="deepwriting-npz",
        path=source,
        mean=mean,
        std=np.asarray(stats_file.std, dtype=np.float64),
        preprocessing={
            "source_steps": list(stats_file.preprocessing),
            "denormalized": "offsets multiplied by the file's std and shifted by its mean",
            "y_flip": "DeepWriting's y axis points down in the file; flipped to point up",
            "files": [path.name for path in files],
            "origin": "the first row's dx, dy set to exactly 0 (rounding left ~1e-12)",
            "text": "cut to the words the ink shows (samples are ~300-point crops of a line), by word_labels",
            "simplify": None,  # never: the per-point labels must stay aligned
        },
    )


# --------------------------------------------------------------------------- preprocessing


def _preprocess(samples: list[RawSample], eps: float, skipped: Counter, progress: ProgressFn) -> list[_Kept]:
    """Clean, convert and check every sample; count the ones left out by reason."""
    kept: list[_Kept] = []
    seen: set[str] = set()
    total = len(samples)
    for done, sample in enumerate(samples, 1):
        reason, item = _prepare(sample, eps)
        if reason is None and item is not None and item.sample_id in seen:
            reason = "duplicate sample id"
        if reason is not None:
            skipped[reason] += 1
        elif item is not None:
            seen.add(item.sample_id)
            kept.append(item)
        if done % 200 == 0 or done == total:
            progress(done, total)
    return kept


def _prepare(sample: RawSample, eps: float) -> tuple[str | None, _Kept | None]:
    """One sample -> (None, kept sample) or (reason it is skipped, None)."""
    if sample.blacklisted:
        return "blacklisted", None
    text = sample.text if isinstance(sample.text, str) else ""
    if not text.strip():
        return "missing or empty text", None
    if sample.points is not None:
        points = np.asarray(sample.points)
        if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
            return "empty", None
        if not np.all(np.isfinite(points)):
            return "non-finite values", None
        points, _ = remove_outliers(points)
        if eps > 0:
            points = simplify(points, eps)
        offsets = points_to_offsets(points)
    elif sample.offsets is not None:
        text = text_covered_by_ink(text, sample.labels.get("word_labels"))
        offsets = np.array(sample.offsets, dtype=np.float32)
        if offsets.ndim == 2 and offsets.shape[1] == 3 and len(offsets):
            # Row 0 is the origin by definition; undoing a normalization leaves ~1e-12 there.
            offsets[0, :2] = 0.0
    else:
        return "empty", None
    reason = validate_offsets(offsets)
    if reason is not None:
        return reason, None
    labels = {}
    for key, value in sample.labels.items():
        label = np.asarray(value)
        if label.shape != (len(offsets),):
            return "labels do not match the points", None
        labels[key] = label.astype(np.int32)
    sample_id = _UNSAFE.sub("_", str(sample.sample_id)) or "sample"
    return None, _Kept(
        sample_id=sample_id,
        text=text,
        writer=int(sample.writer),
        official_split=sample.official_split,
        offsets=offsets.astype(np.float32),
        labels=labels,
    )


def text_covered_by_ink(text: str, word_labels: np.ndarray | None) -> str:
    """The part of a DeepWriting text that its ink shows.

    DeepWriting samples are crops of about 300 points out of a line whose full
    text they carry, so the ink often shows only a few of its words. Its per-point
    ``word_labels`` (1-based word index, 0 between words) say which words are
    inked; the text is cut to the span from the first to the last of them (the
    edge words may be partly written). Labels that do not fit the text leave it whole.
    """
    if word_labels is None:
        return text
    inked = np.unique(np.asarray(word_labels))
    inked = inked[inked > 0]
    tokens = list(_DEEPWRITING_TOKEN.finditer(text))
    if len(inked) == 0 or inked.max() > len(tokens):
        return text
    return text[tokens[inked.min() - 1].start() : tokens[inked.max() - 1].end()]


def _iam_preprocessing(eps: float) -> dict:
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


# --------------------------------------------------------------------------- splits


def _assign_splits(
    name: str,
    kept: list[_Kept],
    train_extra: Iterable[str],
    seed: int,
    val_fraction: float,
    test_fraction: float,
    skipped: Counter,
) -> tuple[list[str | None], str]:
    """The split of every kept sample (None: skipped, counted in ``skipped``) and the method used."""
    if any(s.official_split is not None for s in kept):
        mapping = dict(OFFICIAL_SPLITS[name])
        mapping.update({extra: "train" for extra in train_extra})
        assignment: list[str | None] = []
        for sample in kept:
            if sample.official_split is None:
                skipped["no official split"] += 1
                assignment.append(None)
            elif sample.official_split not in mapping:
                skipped["unknown official split"] += 1
                assignment.append(None)
            else:
                assignment.append(mapping[sample.official_split])
        return assignment, "official"
    return _random_split(kept, seed, val_fraction, test_fraction), f"writer-disjoint random, seed {seed}"


def _group_key(sample: _Kept) -> str:
    """Writer id, or the form id (sample id minus its trailing ``-NN``) when the writer is unknown."""
    if sample.writer != -1:
        return f"writer {sample.writer}"
    return f"form {_FORM_SUFFIX.sub('', sample.sample_id)}"


def _random_split(kept: list[_Kept], seed: int, val_fraction: float, test_fraction: float) -> list[str | None]:
    """Writer-disjoint random split: whole groups go to the split furthest below its target size."""
    groups: dict[str, list[int]] = {}
    for i, sample in enumerate(kept):
        groups.setdefault(_group_key(sample), []).append(i)
    keys = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    total = len(kept)
    target = {
        "train": (1 - val_fraction - test_fraction) * total,
        "val": val_fraction * total,
        "test": test_fraction * total,
    }
    size = dict.fromkeys(target, 0)
    assignment: list[str | None] = [None] * total
    for k in order:
        members = groups[keys[k]]
        # Fill the split with the largest shortfall; ties go to train, then val.
        split = max(target, key=lambda s: (target[s] - size[s], s == "train", s == "val"))
        size[split] += len(members)
        for i in members:
            assignment[i] = split
    return assignment


# --------------------------------------------------------------------------- writing


def _write(out_dir: Path, by_split: dict[str, list[_Kept]], meta: dict) -> None:
    """Write everything into a hidden folder inside ``out_dir``, then swap it in.

    The old ``meta.json`` goes first, so a run interrupted during the swap leaves a
    folder that readers reject (no meta.json) rather than a mix of two runs; the
    new one comes last. Other entries of ``out_dir`` (``downloads/``, ``raw/``) are
    left alone.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(f"{_TMP_PREFIX}*"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=out_dir))
    try:
        new, old = tmp / "new", tmp / "old"
        new.mkdir()
        old.mkdir()
        for split, samples in by_split.items():
            folder = new / split
            folder.mkdir()
            for sample in samples:
                np.savez(
                    folder / f"{sample.sample_id}.npz",
                    offsets=sample.offsets,
                    text=np.array(sample.text),
                    writer=np.array(sample.writer, dtype=np.int64),
                    **sample.labels,
                )
        (new / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        meta_path = out_dir / META_FILE
        if meta_path.exists():
            os.replace(meta_path, old / META_FILE)
        for split in paths.SPLITS:
            target = out_dir / split
            if target.exists():
                os.replace(target, old / split)
            os.replace(new / split, target)
        os.replace(new / META_FILE, meta_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
