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
from scribe.paths import dataset_dir

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


def split_dataset_dir(given: Path | None = None) -> Path:
    """``given``, or the first split dataset in the data folder, in the table's order of preference."""
    if given is not None:
        return given
    for name in DATASETS:
        if (dataset_dir(name) / META_FILE).is_file():
            return dataset_dir(name)
    raise ScribeError("no split dataset found in the data folder; run `scribe split NAME` first or pass its `data_dir`")


def accepted_sources() -> str:
    """What ``scribe split --source`` may point at, every dataset's forms in one phrase."""
    return ", ".join(DATASETS[name].accepts for name in dataset_names())
