"""DeepWriting (ETH Zurich, Aksan et al. 2018): everything scribe knows about it, and its :data:`SPEC`.

The dataset is a zip holding two monolithic ``.npz`` files, ``deepwriting_training.npz``
and ``deepwriting_validation.npz``. Their per-sample arrays (normalized ``[dx, dy, pen]``
offsets and per-point character/word labels) are pickled NumPy object arrays, so
they are read with :func:`scribe.safeio.read_npz_safely`'s allow-list unpickler:
a downloaded file must not be able to run code. The file names are the official
split (train / val).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from scribe.datasets.spec import DatasetSpec, Found, Loaded, RawSample, Source, shallowest_file
from scribe.errors import ScribeError
from scribe.ink.strokes import denormalize, offsets_y_down_to_up
from scribe.progress import ProgressFn
from scribe.safeio import checked_array, npz_member_names, read_npz_safely, require_finite, require_keys

NAME = "deepwriting"
SOURCE_FORMAT = "deepwriting-npz"
FILES = ("deepwriting_training.npz", "deepwriting_validation.npz")
LABEL_KEYS = ("char_labels", "eoc_labels", "soc_labels", "eow_labels", "sow_labels", "word_labels")
_KEYS = ("strokes", "texts", "subject_labels", "alphabet", "mean", "std", "preprocessing", *LABEL_KEYS)
# What each whole-file array must hold (dtype kinds, as safeio.checked_array takes them), and its axes.
_FILE_ARRAYS = {"texts": ("U", 1), "subject_labels": ("iu", 1), "alphabet": ("U", 1), "preprocessing": ("U", 1)}
_WHAT = "DeepWriting"
_DAMAGED = f"the file is damaged or not a {_WHAT} file"
# DeepWriting's word_labels count words and punctuation marks separately ("year?" is
# two) but not double quotes, as far as its validation file shows.
_TOKEN = re.compile(r'\w+|[^\w\s"]')


@dataclass
class DeepWritingFile:
    """The content of one DeepWriting ``.npz``.

    ``mean`` and ``std`` are the file's own normalization statistics of its
    de-normalized ``[dx, dy, pen]`` offsets, in the file's orientation (y down):
    :func:`scribe.ink.strokes.offsets_y_down_to_up` turns ``mean`` into the mean of
    :attr:`RawSample.offsets`, whose y points up.
    """

    samples: list[RawSample]
    alphabet: list[str]
    mean: np.ndarray
    std: np.ndarray
    preprocessing: list[str]


# --------------------------------------------------------------------------- reading


def _split_from_name(path: Path) -> str | None:
    """DeepWriting names its files ``deepwriting_training.npz`` / ``deepwriting_validation.npz``."""
    name = path.name.lower()
    if "training" in name:
        return "train"
    if "validation" in name:
        return "val"
    return None


def _offsets(strokes: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """De-normalize one sample's ``strokes`` into the stroke format ``[dx, dy, pen_up]``.

    Checked on the real ``deepwriting_validation_sample.npz``:

    - only dx and dy are normalized; the pen column holds raw 0/1 values (its
      mean/std entries are mere statistics), so it is thresholded, not rescaled;
    - pen=1 marks the LAST point of a stroke: rows with pen=1 are short steps
      (mean length 0.0015) while the row after one is the jump to the next
      stroke (mean length 0.028). That is already the format's ``pen_up``;
    - y points DOWN: drawing the cumulative sum with SVG's y-down axis shows
      upright text, so the offsets are flipped to point up;
    - samples are cut at about 300 points, so 58% end mid-stroke with pen=0;
      the final row is set to 1 because the last point ends the last stroke.

    ``mean`` and ``std`` are float64, so de-normalizing rounds to float32 once.
    A damaged sample whose steps overflow float32 becomes infinite, quietly: the
    split driver skips non-finite samples and counts them.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        offsets = offsets_y_down_to_up(denormalize(strokes, mean, std))
    offsets[:, 2] = strokes[:, 2] > 0.5
    if len(offsets):
        offsets[-1, 2] = 1.0
    return offsets


def _sample(
    arrays: dict[str, np.ndarray], index: int, path: Path, split: str | None, stats: tuple[np.ndarray, np.ndarray]
) -> RawSample:
    """Build sample ``index`` of the file at ``path``, checking its arrays agree; ``stats``: the file's float64 (mean, std).

    Strokes must be numbers (T, 3) and every label a whole number per point. NaN
    strokes are left to the split driver, which skips such samples and counts them.
    """
    where = f"{path}: sample {index}"
    strokes = checked_array(arrays["strokes"][index], "iuf", f"{where}: strokes", _WHAT, ndim=2)
    if strokes.shape[1] != 3:
        raise ScribeError(f"{where}: strokes have shape {strokes.shape}, expected (T, 3); {_DAMAGED}")
    labels = {}
    for key in LABEL_KEYS:
        label = checked_array(arrays[key][index], "iu", f"{where}: {key}", _WHAT, ndim=1)
        if label.shape != (len(strokes),):
            raise ScribeError(f"{where}: {key} has shape {label.shape}, expected ({len(strokes)},); {_DAMAGED}")
        labels[key] = label.astype(np.int32)
    return RawSample(
        sample_id=f"{path.stem}-{index:05d}",
        text=str(arrays["texts"][index]),
        writer=int(arrays["subject_labels"][index]),
        official_split=split,
        offsets=_offsets(strokes, *stats),
        labels=labels,
    )


def _check_file(arrays: dict[str, np.ndarray], path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Check the whole-file arrays hold what they should, one entry per sample; returns float64 (mean, std).

    Per-sample arrays (``strokes`` and the labels) may be object arrays of one
    array per sample, as in the real files, or one array with a leading sample axis.
    """
    require_keys(arrays, _KEYS, path, _WHAT)
    for key, (kinds, ndim) in _FILE_ARRAYS.items():
        checked_array(arrays[key], kinds, f"{path}: {key}", _WHAT, ndim=ndim)
    stats = []
    for key in ("mean", "std"):
        stat = require_finite(checked_array(arrays[key], "iuf", f"{path}: {key}", _WHAT, ndim=1), f"{path}: {key}", _WHAT)
        if stat.shape != (3,):
            raise ScribeError(f"{path}: {key} has shape {stat.shape}, expected (3,) [dx, dy, pen]; {_DAMAGED}")
        stats.append(stat.astype(np.float64))
    per_sample = ("strokes", "texts", "subject_labels", *LABEL_KEYS)
    count = len(arrays["strokes"]) if arrays["strokes"].ndim else 0
    wrong = [key for key in per_sample if arrays[key].ndim == 0 or len(arrays[key]) != count]
    if wrong:
        raise ScribeError(f"{path}: {', '.join(wrong)} do not have one entry per sample ({count}); {_DAMAGED}")
    return stats[0], stats[1]


def read_deepwriting_npz(path: Path | str, official_split: str | None = None) -> DeepWritingFile:
    """Read a DeepWriting ``.npz`` without ever unpickling anything but numeric arrays.

    ``official_split`` defaults to what the file name says ("train" for
    ``...training...``, "val" for ``...validation...``, else None). Texts are the
    file's, whole (see :func:`text_covered_by_ink`).
    """
    path = Path(path)
    arrays = read_npz_safely(path, _WHAT)
    stats = _check_file(arrays, path)
    split = official_split if official_split is not None else _split_from_name(path)
    return DeepWritingFile(
        samples=[_sample(arrays, i, path, split, stats) for i in range(len(arrays["strokes"]))],
        alphabet=[str(c) for c in arrays["alphabet"]],
        mean=stats[0].astype(np.float32),
        std=stats[1].astype(np.float32),
        preprocessing=[str(step) for step in arrays["preprocessing"]],
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
    tokens = list(_TOKEN.finditer(text))
    if len(inked) == 0 or inked.max() > len(tokens):
        return text
    return text[tokens[inked.min() - 1].start() : tokens[inked.max() - 1].end()]


# --------------------------------------------------------------------------- finding files


def find_deepwriting_npz(folder: Path | str) -> list[Path]:
    """Every ``.npz`` under ``folder`` (recursively) that has a ``strokes`` array, sorted: what split reads."""
    return sorted(p for p in Path(folder).rglob("*.npz") if p.is_file() and "strokes" in npz_member_names(p))


def find_deepwriting_files(raw: Path) -> list[Path]:
    """DeepWriting's training and validation ``.npz`` by name, wherever the archive nested them.

    Returns those found, training first (an empty list when none is there); the
    shallowest copy wins if an archive holds several.
    """
    return [path for path in (shallowest_file(raw, name) for name in FILES) if path is not None]


# --------------------------------------------------------------------------- hooks


def _detect(path: Path) -> Found | None:
    """A DeepWriting ``.npz`` (it has a ``strokes`` array), or a folder holding some."""
    if path.is_file():
        return Found(path, SOURCE_FORMAT) if "strokes" in npz_member_names(path) else None
    if path.is_dir() and find_deepwriting_npz(path):
        return Found(path, SOURCE_FORMAT)
    return None


def _read(found: Found, progress: ProgressFn, simplify_eps: float, options: dict[str, Any]) -> Loaded:
    """Every DeepWriting file of ``found``, texts cut to their ink; statistics from the training file.

    ``simplify_eps`` is not used (simplifying would break the per-point labels),
    ``progress`` neither (the files are read whole, and the driver reports the
    samples), nor ``options`` (DeepWriting's reader has none).
    """
    files = [found.path] if found.path.is_file() else find_deepwriting_npz(found.path)
    contents = [read_deepwriting_npz(path) for path in files]
    stats_file = next((c for c in contents if c.samples and c.samples[0].official_split == "train"), contents[0])
    samples = [
        replace(sample, text=text_covered_by_ink(sample.text, sample.labels.get("word_labels")))
        for content in contents
        for sample in content.samples
    ]
    mean = offsets_y_down_to_up(np.asarray(stats_file.mean, dtype=np.float64))
    return Loaded(
        samples=samples,
        stats=(mean, np.asarray(stats_file.std, dtype=np.float64)),
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


def _check_raw(raw: Path) -> None:
    """Fail when the extracted download holds neither of DeepWriting's two files."""
    if not find_deepwriting_files(raw):
        raise ScribeError(
            f"no {' or '.join(FILES)} under {raw}: the archive is not the DeepWriting dataset; check `urls` / `from_files`"
        )


SPEC = DatasetSpec(
    name=NAME,
    sources=(
        Source(
            url="https://files.ait.ethz.ch/projects/deepwriting/deepwriting_dataset.zip",
            filename="deepwriting_dataset.zip",
        ),
    ),
    registration=None,
    official_splits={"train": "train", "val": "val"},
    units="DeepWriting units: the file's offsets with its normalization undone",
    accepts="a DeepWriting .npz (or a folder of them)",
    detect=_detect,
    read=_read,
    check_raw=_check_raw,
)
