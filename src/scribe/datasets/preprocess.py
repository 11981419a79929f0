"""Preprocessing for ``scribe split``: each raw sample cleaned, converted to the stroke format and checked.

Samples given as points (IAM-OnDB, UNIPEN) lose outliers and are simplified
(:mod:`scribe.ink.strokes`); samples given as offsets (DeepWriting) are kept point
for point. Large sources are spread over the machine's cores. Split by
:mod:`scribe.datasets.split`, which assigns and writes what this returns.
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from scribe.datasets.spec import RawSample
from scribe.ink.strokes import points_to_offsets, remove_outliers, simplify, validate_offsets
from scribe.progress import ProgressFn

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class Kept:
    """A preprocessed, valid sample ready to be written."""

    sample_id: str
    text: str
    writer: int
    official_split: str | None
    offsets: np.ndarray
    labels: dict[str, np.ndarray]
    tags: dict[str, str]


#: Samples per task when preprocessing runs in worker processes, and the fewest samples worth starting them for.
_CHUNK = 1_000
_PARALLEL_FROM = 5_000


def preprocess(samples: list[RawSample], eps: float, skipped: Counter, progress: ProgressFn) -> list[Kept]:
    """Clean, convert and check every sample; count the ones left out by reason.

    Cleaning and simplifying cost a few milliseconds a sample in Python; a large
    source (UNIPEN: 280,000 pieces) is spread over the machine's cores in chunks,
    and the results are taken back in order, so the output does not depend on
    how many cores there were.
    """
    kept: list[Kept] = []
    seen: set[str] = set()
    total = len(samples)
    chunks = [samples[start : start + _CHUNK] for start in range(0, total, _CHUNK)]
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    done = 0
    pool = _pool(workers if total >= _PARALLEL_FROM else 1)
    try:
        for results in pool.map(_prepare_chunk, chunks, [eps] * len(chunks)):
            for reason, item in results:
                if reason is None and item is not None and item.sample_id in seen:
                    reason = "duplicate sample id"
                if reason is not None:
                    skipped[reason] += 1
                elif item is not None:
                    seen.add(item.sample_id)
                    kept.append(item)
            done += len(results)
            progress(done, total)
    finally:  # Ctrl-C or an error: chunks not started are dropped, not run
        pool.shutdown(wait=True, cancel_futures=True)
    return kept


class _InProcess:
    """The one-process stand-in for an executor: ``map`` as the built-in does it."""

    @staticmethod
    def map(function: Any, *iterables: Any) -> Any:
        return map(function, *iterables)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        return None


def _pool(workers: int) -> Any:
    """Worker processes or this process.

    Workers are started fresh (spawned: forking would copy a progress bar's
    thread) and ignore Ctrl-C, which this process handles for them.
    """
    if workers <= 1:
        return _InProcess()
    import multiprocessing  # here, not at the top: every command imports this module, few start workers
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_interrupts
    )


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _prepare_chunk(samples: list[RawSample], eps: float) -> list[tuple[str | None, Kept | None]]:
    """:func:`prepare` for a chunk of samples, in a worker process."""
    return [prepare(sample, eps) for sample in samples]


def prepare(sample: RawSample, eps: float) -> tuple[str | None, Kept | None]:
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
    return None, Kept(
        sample_id=sample_id,
        text=text,
        writer=int(sample.writer),
        official_split=sample.official_split,
        offsets=offsets.astype(np.float32),
        labels=labels,
        tags=dict(sample.tags),
    )
