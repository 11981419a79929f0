"""What a dataset contributes to scribe, in one record: :class:`DatasetSpec`.

Each dataset module (:mod:`scribe.datasets.deepwriting`, :mod:`scribe.datasets.iam_ondb`)
fills in one ``SPEC``; :data:`scribe.datasets.DATASETS` collects them. The generic
code (download, split, the CLI) only ever asks a spec, so adding a dataset means
writing one module and adding its ``SPEC`` to the table.

The records passed between a dataset's reader and the split driver live here too:
:class:`RawSample` (one line as the source gives it), :class:`Found` (where the
data is and in which of the dataset's formats) and :class:`Loaded` (what a reader returns).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scribe.datasets.meta import UNKNOWN_WRITER
from scribe.progress import ProgressFn


@dataclass
class RawSample:
    """One handwritten line (or word group) exactly as a source provides it.

    Exactly one of ``points`` and ``offsets`` is set; the split driver turns
    either into the stroke format (:mod:`scribe.ink.strokes`):

    - ``points``: int or float (N, 3) ``[x, y, end_of_stroke]``, absolute tablet
      coordinates with the y axis pointing **down**. The driver removes outliers,
      simplifies them and converts them to offsets (IAM-OnDB);
    - ``offsets``: float32 (T, 3) ``[dx, dy, pen_up]``, y pointing **up**, already
      in the source's own units; kept point for point, so per-point ``labels``
      stay aligned (DeepWriting).
    """

    sample_id: str
    text: str
    writer: int = UNKNOWN_WRITER
    # The source's own split name, or None when it has none: a key of the dataset's
    # DatasetSpec.official_splits ("val1" for IAM-OnDB, "val" for DeepWriting).
    official_split: str | None = None
    blacklisted: bool = False
    points: np.ndarray | None = None
    offsets: np.ndarray | None = None
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # per-point labels, written with the sample
    # What the sample is, for meta.json's counts by kind: e.g. {"category": "1a", "source": "art"}.
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """One downloadable file of a dataset; ``sha256``/``size`` are None when unpublished."""

    url: str
    filename: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Found:
    """Data a dataset recognised: the file or folder to read and which of its formats it is.

    ``source_format`` is recorded in meta.json; ``path`` may be narrower than what
    the user gave (a folder holding a single data file means that file).
    """

    path: Path
    source_format: str


@dataclass
class Loaded:
    """What a dataset's reader hands the split driver: the samples and what the source says about itself."""

    samples: list[RawSample]
    # The dataset's own steps and their parameters, recorded under meta.json's "preprocessing".
    preprocessing: dict[str, Any]
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> samples the reader left out
    # The source's stored (mean, std) of [dx, dy, pen_up], y up; None: computed from the split.
    stats: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything scribe needs to know about one dataset; the fields are its hooks.

    - ``sources``: the files ``scribe download-data`` fetches by default;
    - ``registration``: the sentence shown when the server answers 401/403 and in
      help, None for public datasets;
    - ``official_splits``: the source's split names -> scribe's split (train/val/test);
      ``--train-extra`` may move any of them to training;
    - ``units``: what one unit of ``dx, dy`` is, for meta.json;
    - ``accepts``: what ``--source`` may point at, for help and error messages;
    - ``detect(path)``: the :class:`Found` data at ``path`` when it is this
      dataset's, else None; must be cheap (it runs for every dataset to tell
      the user which dataset a path holds);
    - ``read(found, progress, simplify_eps, options)``: the samples of ``found``, with the
      dataset's preprocessing description for the tolerance ``simplify_eps``;
      ``options`` holds the reader's own settings, named in ``read_options``;
    - ``check_raw(raw_dir)``: raises a ScribeError when extracted downloads are
      not this dataset (None: nothing to check);
    - ``read_options``: the names of the reader's own settings (UNIPEN's
      ``categories``); the driver refuses others; ``option_help`` says what each does.
    """

    name: str
    sources: tuple[Source, ...]
    registration: str | None
    official_splits: Mapping[str, str]
    units: str
    accepts: str
    detect: Callable[[Path], Found | None]
    read: Callable[[Found, ProgressFn, float, dict[str, Any]], Loaded]
    check_raw: Callable[[Path], None] | None = None
    read_options: frozenset[str] = frozenset()
    option_help: Mapping[str, str] = field(default_factory=dict)  # read option -> what it does, for --help


def shallowest_file(folder: Path, name: str) -> Path | None:
    """The file called ``name`` nearest the top of ``folder``, or None.

    Archives nest their content differently from one release to the next, so
    dataset modules look for their files by name; the shallowest copy wins.
    """
    matches = sorted((p for p in Path(folder).rglob(name) if p.is_file()), key=lambda p: (len(p.parts), str(p)))
    return matches[0] if matches else None
