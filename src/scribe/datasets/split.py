"""``scribe split``: raw dataset files -> one ``.npz`` per sample in train/val/test + ``meta.json``.

The output layout and the keys of every file are defined in docs/data.md; the
stroke format in :mod:`scribe.ink.strokes`. This driver knows no dataset by name:
it finds which dataset a source holds and asks that dataset's
:class:`~scribe.datasets.spec.DatasetSpec` to read it, then cleans samples given
as points (outliers, optional Ramer-Douglas-Peucker simplification), converts
everything to offsets, checks every sample, assigns splits (the dataset's
official ones when the source has them, else a writer-disjoint random split) and
writes the result atomically: everything is built in a hidden temporary folder
next to the split folders and swapped in at the end, so an interrupted run never
leaves a half-written dataset, and the ``downloads/`` and ``raw/`` folders that
share the dataset folder are never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scribe import paths
from scribe.atomic import cannot_write
from scribe.datasets import DATASETS, accepted_sources, dataset_spec
from scribe.datasets.meta import META_FILE, UNKNOWN_WRITER, DatasetMeta
from scribe.datasets.preprocess import Kept, preprocess
from scribe.datasets.spec import DatasetSpec, Found, Loaded
from scribe.errors import ScribeError
from scribe.ink.strokes import DEFAULT_SIMPLIFY_EPS, offsets_stats
from scribe.progress import ProgressFn, no_progress

_TMP_PREFIX = ".split-tmp-"
_FORM_SUFFIX = re.compile(r"-\d+$")


@dataclass
class SplitReport:
    """What :func:`split_dataset` wrote."""

    out_dir: Path
    counts: dict[str, int]  # split -> samples written
    skipped: dict[str, int]  # reason -> samples left out
    alphabet: str
    points_per_char: float  # median over kept samples of points / characters
    notes: list[str] = field(default_factory=list)  # what the caller should tell the user
    breakdown: dict[str, dict[str, int]] = field(default_factory=dict)  # tag -> value -> samples written


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
    force: bool = False,
    options: dict[str, Any] | None = None,
    progress: ProgressFn = no_progress,
) -> SplitReport:
    """Read dataset ``name`` from ``source`` and write ``out_dir/{train,val,test}/<id>.npz`` + ``meta.json``.

    ``source`` defaults to the dataset's ``raw/`` folder and ``out_dir`` to its
    dataset folder. ``simplify_eps`` (samples given as points only; None or 0 keeps
    every point) is the Ramer-Douglas-Peucker tolerance in the dataset's units.
    ``train_extra`` names official splits (e.g. ``val2``) whose samples go to
    training. When the source has no official split, writers are split at random
    with ``seed``, keeping every writer (or form, when the writer is unknown) in
    one split. An ``out_dir`` whose split folders scribe did not write (no meta.json
    of its own) is refused unless ``force``. ``options`` are the dataset reader's own
    settings (its spec's ``read_options``, e.g. UNIPEN's ``categories``).
    ``progress`` gets ``(samples done, total)``.
    """
    spec = dataset_spec(name)
    eps = _check_options(spec, simplify_eps, train_extra, val_fraction, test_fraction)
    options = _check_reader_options(spec, options or {})
    source = Path(source) if source is not None else paths.raw_dir(name)
    if not source.exists() or (source.is_dir() and not any(source.iterdir())):
        raise ScribeError(
            f"no raw files for {name} in {source}: run `scribe download-data {name}` first, or pass its `source`"
        )
    out_dir = Path(out_dir) if out_dir is not None else paths.dataset_dir(name)
    check_out_dir(out_dir, force)

    found, loaded = _load(spec, source, progress, eps, options)
    skipped = Counter(loaded.skipped)
    kept = preprocess(loaded.samples, eps, skipped, progress)
    if not kept:
        reasons = ", ".join(f"{reason} ({n})" for reason, n in sorted(skipped.items())) or "the source is empty"
        raise ScribeError(f"no usable samples in {source}: {reasons}; check that `source` points at {name} data")
    assignment, split_method = _assign_splits(spec, kept, train_extra, seed, val_fraction, test_fraction, skipped)
    by_split: dict[str, list[Kept]] = {split: [] for split in paths.SPLITS}
    for sample, split in zip(kept, assignment, strict=True):
        if split is not None:
            by_split[split].append(sample)
    if not any(by_split.values()):
        raise ScribeError(f"no sample of {source} has a usable split; check the source or pass `train_extra`")
    had_validation = bool(by_split["val"])
    notes = [] if train_extra else _hold_out_validation(by_split, seed, val_fraction or 0.1)  # train_extra: as asked
    if by_split["val"] and not had_validation:
        split_method += f"; validation held out of training by writer, seed {seed}"

    meta = _meta(spec, found, loaded, by_split, split_method, train_extra, skipped)
    try:
        write_split_folders(out_dir, by_split, meta, progress)
    except OSError as exc:  # a read-only or full destination: the old dataset, if any, is untouched
        raise cannot_write(out_dir, exc) from exc
    return SplitReport(
        out_dir, meta.counts, meta.skipped, meta.alphabet, float(meta.points_per_char or 0.0), notes, meta.breakdown
    )


def _hold_out_validation(by_split: dict[str, list[Kept]], seed: int, fraction: float) -> list[str]:
    """Give a source without validation samples a writer-disjoint validation split taken from training.

    Training needs validation lines to choose its best checkpoint; a source whose
    official splits are all training (a sample of a dataset) would otherwise split
    into "val 0" and leave ``scribe train`` unable to start. Whole writers (forms
    when the writer is unknown), drawn with ``seed``, move to validation until it
    holds ``fraction`` of the lines; at least one, and never the last one, moves.
    Returns the note to show.
    """
    train = by_split["train"]
    if by_split["val"] or not train:
        return []
    groups: dict[str, list[Kept]] = {}
    for sample in train:
        groups.setdefault(_group_key(sample), []).append(sample)
    if len(groups) < 2:
        return ["the source has no validation split and one writer only; training will have no validation lines"]
    order = [sorted(groups)[i] for i in np.random.default_rng(seed).permutation(len(groups))]
    held: list[str] = []
    while len(held) < len(order) - 1 and (not held or sum(len(groups[k]) for k in held) < fraction * len(train)):
        held.append(order[len(held)])
    by_split["val"] = [sample for key in held for sample in groups[key]]
    by_split["train"] = [sample for sample in train if _group_key(sample) not in held]
    return [f"the source has no validation split: {len(by_split['val'])} lines of {len(held)} writer(s) were held out for it"]


def check_out_dir(out_dir: Path, force: bool) -> None:
    """Refuse to replace split folders that another program (or person) put in ``out_dir``."""
    try:
        out_dir.exists()
    except OSError as exc:  # a name too long for the file system
        raise cannot_write(out_dir, exc) from exc
    if out_dir.exists() and not out_dir.is_dir():
        raise ScribeError(f"{out_dir} is a file, not a folder; give a folder to write the dataset into")
    occupied = [split for split in paths.SPLITS if (out_dir / split).exists()]
    if not occupied or force:
        return
    try:
        DatasetMeta.load(out_dir)  # scribe's own earlier split: replaced, as asked
    except ScribeError:
        raise ScribeError(
            f"{out_dir} already holds {', '.join(occupied)}/ that scribe did not write (no meta.json of its own); "
            "choose an empty folder, or pass `force` to replace them"
        ) from None


def _check_reader_options(spec: DatasetSpec, options: dict[str, Any]) -> dict[str, Any]:
    """The reader options given a value, refusing those ``spec``'s reader does not have."""
    given = {key: value for key, value in options.items() if value not in (None, (), [], False)}
    unknown = sorted(set(given) - spec.read_options)
    if unknown:
        owners = [other.name for other in DATASETS.values() if set(unknown) <= other.read_options]
        where = f"; it applies to {', '.join(owners)}" if owners else ""
        raise ScribeError(f"{spec.name} has no setting {', '.join(f'`{key}`' for key in unknown)}{where}")
    return given


def _check_options(
    spec: DatasetSpec, simplify_eps: float | None, train_extra: Iterable[str], val_fraction: float, test_fraction: float
) -> float:
    """Refuse options that cannot work before reading anything; returns the tolerance as a float (0: off)."""
    unknown_extra = sorted(set(train_extra) - set(spec.official_splits))
    if unknown_extra:
        raise ScribeError(
            f"unknown official split(s) {', '.join(unknown_extra)} in `train_extra`; "
            f"{spec.name} has {', '.join(spec.official_splits)}"
        )
    for fraction_name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= fraction < 1:
            raise ScribeError(f"{fraction_name} must be in [0, 1), not {fraction}")
    if val_fraction + test_fraction >= 1:
        raise ScribeError("val_fraction + test_fraction must be below 1 so that training keeps some samples")
    eps = float(simplify_eps or 0.0)
    if eps < 0 or not np.isfinite(eps):
        raise ScribeError(f"the simplification tolerance `simplify_eps` must be 0 or positive, not {simplify_eps}")
    return eps


def _meta(
    spec: DatasetSpec,
    found: Found,
    loaded: Loaded,
    by_split: dict[str, list[Kept]],
    split_method: str,
    train_extra: tuple[str, ...],
    skipped: Counter,
) -> DatasetMeta:
    """Everything meta.json records about this run; statistics from the source, else from the training split."""
    written = [s for split in paths.SPLITS for s in by_split[split]]
    if loaded.stats is not None:
        mean, std = (np.asarray(stat, dtype=np.float64) for stat in loaded.stats)
        stats_from = "the source file's stored normalization statistics"
    else:
        mean, std = offsets_stats([s.offsets for s in by_split["train"] or written])
        stats_from = (
            "the training split after preprocessing" if by_split["train"] else "all kept samples (no training split)"
        )
    return DatasetMeta(
        dataset=spec.name,
        source=str(found.path.resolve()),
        source_format=found.source_format,
        mean=mean,
        std=std,
        units=spec.units,
        preprocessing={**loaded.preprocessing, "statistics": stats_from},
        split_method=split_method,
        train_extra=tuple(train_extra),
        skipped=dict(sorted(skipped.items())),
        **written_fields(by_split),
    )


def written_fields(by_split: dict[str, list[Kept]]) -> dict[str, Any]:
    """The fields of meta.json that describe the samples written: alphabet, counts, points per character, breakdown."""
    written = [s for split in paths.SPLITS for s in by_split[split]]
    return {
        "alphabet": "".join(sorted({c for s in written for c in s.text})),
        "counts": {split: len(by_split[split]) for split in paths.SPLITS},
        "points_per_char": float(np.median([len(s.offsets) / len(s.text) for s in written])),
        "breakdown": _breakdown(written),
    }


def _breakdown(written: list[Kept]) -> dict[str, dict[str, int]]:
    """Samples written by the value of each tag the reader gave them (UNIPEN: per category and source)."""
    counts: dict[str, Counter[str]] = {}
    for sample in written:
        for tag, value in sample.tags.items():
            counts.setdefault(tag, Counter())[value] += 1
    return {tag: dict(sorted(counter.items())) for tag, counter in sorted(counts.items())}


# --------------------------------------------------------------------------- reading


def detect_source(path: Path, name: str | None = None) -> tuple[DatasetSpec, Found]:
    """Which dataset's data ``path`` holds, and where and in which format; dataset ``name`` is asked first.

    Every dataset in the table is asked, so a path holding another dataset's data
    is recognised as such (and the user told which command to run).
    """
    path = Path(path)
    for spec in sorted(DATASETS.values(), key=lambda spec: spec.name != name):
        found = spec.detect(path)
        if found is not None:
            return spec, found
    if path.is_file():
        raise ScribeError(f"{path}: not a recognised dataset file; give {accepted_sources()}")
    if path.is_dir():
        raise ScribeError(f"{path}: no dataset found in the folder; give {accepted_sources()}")
    raise ScribeError(f"{path}: no such file or folder; give {accepted_sources()}")


def _load(spec: DatasetSpec, source: Path, progress: ProgressFn, eps: float, options: dict[str, Any]) -> tuple[Found, Loaded]:
    """Read ``source`` with ``spec``'s reader, refusing data of another dataset."""
    holder, found = detect_source(source, spec.name)
    if holder.name != spec.name:
        raise ScribeError(
            f"{found.path} holds {holder.name} data ({found.source_format}), not {spec.name}; "
            f"run `scribe split {holder.name}` or pass {spec.name} data as `source`"
        )
    return found, spec.read(found, progress, eps, options)


# --------------------------------------------------------------------------- splits


def _assign_splits(
    spec: DatasetSpec,
    kept: list[Kept],
    train_extra: Iterable[str],
    seed: int,
    val_fraction: float,
    test_fraction: float,
    skipped: Counter,
) -> tuple[list[str | None], str]:
    """The split of every kept sample (None: skipped, counted in ``skipped``) and the method used."""
    if any(s.official_split is not None for s in kept):
        mapping = dict(spec.official_splits)
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


def _group_key(sample: Kept) -> str:
    """Writer id, or the form id (sample id minus its trailing ``-NN``) when the writer is unknown."""
    if sample.writer != UNKNOWN_WRITER:
        return f"writer {sample.writer}"
    return f"form {_FORM_SUFFIX.sub('', sample.sample_id)}"


def _random_split(kept: list[Kept], seed: int, val_fraction: float, test_fraction: float) -> list[str | None]:
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


def write_split_folders(out_dir: Path, by_split: dict[str, list[Kept]], meta: DatasetMeta, progress: ProgressFn) -> None:
    """Write everything into a hidden folder inside ``out_dir``, then swap it in.

    The old ``meta.json`` goes first, so a run interrupted during the swap leaves a
    folder that readers reject (no meta.json) rather than a mix of two runs; the
    new one comes last. Other entries of ``out_dir`` (``downloads/``, ``raw/``) are
    left alone. ``progress`` counts the files written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(f"{_TMP_PREFIX}*"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=out_dir))
    try:
        new, old = tmp / "new", tmp / "old"
        new.mkdir()
        old.mkdir()
        total, written = sum(len(samples) for samples in by_split.values()), 0
        for split, samples in by_split.items():
            folder = new / split
            folder.mkdir()
            for sample in samples:
                written += 1
                if written % 1000 == 0 or written == total:
                    progress(written, total)
                arrays: dict[str, Any] = {
                    "offsets": sample.offsets,
                    "text": np.array(sample.text),
                    "writer": np.array(sample.writer, dtype=np.int64),
                    **sample.labels,
                }
                np.savez(folder / f"{sample.sample_id}.npz", **arrays)
        meta.save(new)
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
