"""The datasets room: the table of datasets scribe knows, and the lookup every command uses.

A dataset is one module that fills in a :class:`~scribe.datasets.spec.DatasetSpec`
(``SPEC``): where to download it, how to recognise and read its files, its
official splits and units. Download, split and the CLI read everything from
:data:`DATASETS`, so adding a dataset is one module plus one entry below.
Nothing in this package imports torch.
"""

from __future__ import annotations

from pathlib import Path

from scribe.datasets import deepwriting, iam_ondb, unipen
from scribe.datasets.meta import META_FILE
from scribe.datasets.spec import DatasetSpec
from scribe.errors import ScribeError
from scribe.paths import dataset_dir, scribe_home

#: Every dataset, in order of preference: a command that needs a split dataset
#: and is given none uses the first one split (IAM-OnDB, the larger, before DeepWriting; UNIPEN,
#: words and characters rather than lines, last).
DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (iam_ondb.SPEC, deepwriting.SPEC, unipen.SPEC)}


def dataset_names() -> list[str]:
    """The dataset names, sorted: how help and error messages list them."""
    return sorted(DATASETS)


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name``, or a one-line error listing the known ones."""
    spec = DATASETS.get(name)
    if spec is None:
        raise ScribeError(f"unknown dataset {name!r}; choose one of {', '.join(dataset_names())}")
    return spec


def split_dataset_dir(given: Path | str | None = None) -> Path:
    """The folder of a split dataset: ``given`` as a folder or a dataset name, or else the first one split.

    An existing folder wins, so ``--data DIR`` means what it always meant; a plain
    name (no folder part) is ``$SCRIBE_HOME/datasets/NAME``; a path that does not
    exist is returned as it is, and reading it says what is missing. Without
    ``given``: the first split dataset in the data folder, in the table's order.
    """
    if given is None:
        for name in DATASETS:
            if (dataset_dir(name) / META_FILE).is_file():
                return dataset_dir(name)
        raise ScribeError("no split dataset found in the data folder; run `scribe split NAME` first or pass its `data_dir`")
    path, text = Path(given), str(given)
    if path.is_dir() or path.name != text or text in ("", ".", ".."):
        return path
    if dataset_dir(text).is_dir():
        return dataset_dir(text)
    raise ScribeError(
        f"unknown dataset {text!r}: no folder {text} here and no {dataset_dir(text)}; "
        f"give `data_dir` a split dataset's name ({_split_names()}) or the path of a split folder"
    )


def _split_names() -> str:
    """The split datasets in the data folder, for an error message."""
    root = scribe_home() / "datasets"
    names = sorted(p.name for p in root.glob("*") if (p / META_FILE).is_file()) if root.is_dir() else []
    return ", ".join(names) if names else f"none is split in {root} yet; run `scribe split NAME`"


def accepted_sources() -> str:
    """What ``scribe split --source`` may point at, every dataset's forms in one phrase."""
    return ", ".join(DATASETS[name].accepts for name in dataset_names())
