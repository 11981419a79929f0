"""A split dataset on disk as its readers see it: ``meta.json`` (:class:`DatasetMeta`) and the per-sample files.

``scribe split`` writes ``meta.json`` through :class:`DatasetMeta` and training,
evaluation and the legibility check read it back through the same class, so the
file's fields are defined once (docs/data.md describes them). The file carries
a ``format_version``; a reader refuses a version it does not know rather than
misread it. NumPy only: both the training room and NumPy-only tools use this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from scribe.errors import ScribeError
from scribe.ink.strokes import validate_offsets
from scribe.paths import SPLITS
from scribe.safeio import checked_array, read_npz_safely, require_keys

META_FILE = "meta.json"
FORMAT_VERSION = 1
UNKNOWN_WRITER = -1  # the writer id of a sample whose writer the source does not say
_REQUIRED = ("alphabet", "mean", "std")  # what a model needs; the rest is provenance
_SAMPLE = "scribe sample"
_SAMPLE_KEYS = ("offsets", "text", "writer")  # what training reads; per-point labels stay on disk
_MAX_SAMPLE_BYTES = 64_000_000  # one line: the longest real ones are a few thousand points (tens of kB)


@dataclass(frozen=True, kw_only=True)
class DatasetMeta:
    """What ``meta.json`` says about a split dataset; the fields, in order, are the file's keys after ``format_version``.

    Only ``alphabet``, ``mean`` and ``std`` are needed to read the data; the
    provenance fields default to empty for hand-made datasets.
    """

    dataset: str = ""
    source: str = ""  # the file or folder read, resolved
    source_format: str = ""  # which of the dataset's formats it was
    alphabet: str  # every character of every kept text, sorted
    mean: np.ndarray  # (3,) of [dx, dy, pen_up]: the source's statistics, or the training split's
    std: np.ndarray  # (3,)
    units: str = ""
    preprocessing: dict[str, Any] = field(default_factory=dict)
    split_method: str = ""  # "official" or "writer-disjoint random, seed N"
    train_extra: tuple[str, ...] = ()  # official splits moved to training
    counts: dict[str, int] = field(default_factory=dict)  # split -> samples
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> samples left out
    points_per_char: float | None = None  # median over kept samples
    breakdown: dict[str, dict[str, int]] = field(default_factory=dict)  # tag -> value -> samples (UNIPEN: category, source)

    @property
    def simplified_at(self) -> float | None:
        """The Ramer-Douglas-Peucker tolerance the samples were simplified at (None: not simplified)."""
        eps = (self.preprocessing.get("simplify") or {}).get("eps")
        return float(eps) if isinstance(eps, (int, float)) and eps > 0 else None

    def to_json(self) -> dict[str, Any]:
        """The file's content as plain JSON values (what a reader of a single key needs)."""
        return {"format_version": FORMAT_VERSION, **{f.name: _plain(getattr(self, f.name)) for f in fields(self)}}

    def save(self, data_dir: Path) -> None:
        """Write ``data_dir/meta.json``, keys in the order of the fields."""
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        (Path(data_dir) / META_FILE).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, data_dir: Path) -> DatasetMeta:
        """Read ``data_dir/meta.json``; a missing, invalid or unknown-version file is a one-line error."""
        path = Path(data_dir) / META_FILE
        if not path.is_file():
            raise ScribeError(
                f"{path} not found: {data_dir} is not a split dataset; "
                "run `scribe split NAME` first or pass the folder it wrote"
            )
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            version = raw.get("format_version")
        except (ValueError, AttributeError) as exc:
            raise ScribeError(f"{path} is not a valid scribe meta.json ({exc}); run `scribe split` again") from None
        if version != FORMAT_VERSION:
            raise ScribeError(
                f"{path} has format_version {version!r}, which this scribe does not read "
                f"(it reads {FORMAT_VERSION}); run `scribe split` again to rewrite the dataset"
            )
        try:
            return cls._from_json(raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise ScribeError(f"{path} is not a valid scribe meta.json ({exc}); run `scribe split` again") from None

    @classmethod
    def _from_json(cls, raw: dict[str, Any]) -> DatasetMeta:
        """The typed record of a parsed file of the current version; raises on missing or ill-shaped values."""
        missing = [key for key in _REQUIRED if key not in raw]
        if missing:
            raise KeyError(f"no {', '.join(missing)}")
        values = {f.name: raw[f.name] for f in fields(cls) if f.name in raw}
        values["mean"] = np.asarray(raw["mean"], dtype=np.float32)
        values["std"] = np.asarray(raw["std"], dtype=np.float32)
        if values["mean"].shape != (3,) or values["std"].shape != (3,):
            raise ValueError("mean and std must hold 3 numbers each")
        if not (np.isfinite(values["mean"]).all() and np.isfinite(values["std"]).all() and (values["std"][:2] > 0).all()):
            raise ValueError("mean and std must be finite, and the std of dx and dy above 0")
        if not isinstance(values["alphabet"], str) or not values["alphabet"]:
            raise ValueError("the alphabet must be a non-empty string")
        ppc = values.get("points_per_char")
        if ppc is not None and not (isinstance(ppc, (int, float)) and 0 < ppc < 10_000):
            raise ValueError(f"points_per_char {ppc!r} is not a positive number")
        values["train_extra"] = tuple(values.get("train_extra", ()))
        return cls(**values)


def _plain(value: Any) -> Any:
    """A field's value as JSON: arrays become lists of floats and tuples lists."""
    if isinstance(value, np.ndarray):
        return [float(v) for v in value]
    if isinstance(value, tuple):
        return list(value)
    return value


def read_sample(path: Path) -> tuple[np.ndarray, str, int]:
    """One per-sample file of a split dataset: offsets (dataset units), text and writer id.

    The file is read by :func:`~scribe.safeio.read_npz_safely` without pickle
    support, so a damaged or planted file cannot run code or claim gigabytes, and
    the offsets are checked (:func:`~scribe.ink.strokes.validate_offsets`): one NaN
    in a validation line would turn every figure of a training run into NaN.
    """
    try:
        arrays = read_npz_safely(path, _SAMPLE, keys=_SAMPLE_KEYS, objects=False, max_bytes=_MAX_SAMPLE_BYTES)
        require_keys(arrays, _SAMPLE_KEYS, path, _SAMPLE)
        offsets = checked_array(arrays["offsets"], "iuf", f"{path}: offsets", _SAMPLE)
        text = str(checked_array(arrays["text"], "U", f"{path}: text", _SAMPLE, ndim=0))
        writer = int(checked_array(arrays["writer"], "iu", f"{path}: writer", _SAMPLE, ndim=0))
    except ScribeError as exc:
        raise ScribeError(f"{exc}; run `scribe split` again") from None
    problem = validate_offsets(offsets)
    if problem is not None:
        raise ScribeError(f"sample {path} is not a usable line ({problem}); run `scribe split` again")
    return offsets, text, writer


def sample_files(data_dir: Path, split: str) -> list[Path]:
    """The per-sample files of one split, in a fixed order."""
    if split not in SPLITS:
        raise ScribeError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    files = sorted((Path(data_dir) / split).glob("*.npz"))
    if not files:
        raise ScribeError(f"no samples in {Path(data_dir) / split}; run `scribe split` to create them")
    return files


def dataset_lines(data_dir: Path, count: int, seed: int = 0, split: str = "val") -> tuple[list[str], list[np.ndarray]]:
    """``count`` lines of a split dataset drawn at random (reproducibly): their texts and real ink."""
    DatasetMeta.load(data_dir)  # a clear error when data_dir is not a split dataset
    files = sample_files(data_dir, split)
    chosen = np.random.default_rng(seed).permutation(len(files))[:count]
    samples = [read_sample(files[i]) for i in sorted(chosen)]
    return [text for _, text, _ in samples], [offsets for offsets, _, _ in samples]
