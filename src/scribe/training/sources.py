"""Which split datasets a run trains on, what each is called, and how much of each an epoch draws.

``scribe train --data A --data B --mix A=0.7,B=0.3`` trains one model on several
split datasets. The first is the *reference*: its normalization statistics are
applied to every dataset (each dataset reader brings its ink to IAM-OnDB's units,
so one set of statistics fits all) and its validation score picks ``best.pth``.
This module is the torch-free part: the list of folders (each found by
:func:`scribe.datasets.split_dataset_dir`, as every command finds one), naming them, checking
the mix, the shared alphabet and the window's pace. The data themselves are
loaded by :mod:`scribe.training.data`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scribe.datasets import split_dataset_dir
from scribe.datasets.meta import DatasetMeta
from scribe.errors import ScribeError

MIX_EXAMPLE = "iam-ondb=0.7,unipen=0.3"


def data_folders(values: Any) -> list[Path]:
    """``data_dir`` as a list of folders: one name or path, or a list of them (the reference first)."""
    items = [values] if isinstance(values, (str, Path)) else values
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, (str, Path)) for v in items):
        raise ScribeError(f"`data_dir` must be a dataset name or folder, or a list of them, not {values!r}")
    if not items:
        raise ScribeError("`data_dir` lists no dataset; give at least one")
    return [split_dataset_dir(item) for item in items]


@dataclass(frozen=True)
class DataSource:
    """One training dataset: the folder's name (how metrics, styles and checkpoints name it), its folder and meta.json."""

    name: str
    path: Path
    meta: DatasetMeta

    def aliases(self) -> set[str]:
        """The names a ``mix`` key may use: the folder's name, the path as given, the dataset meta.json names."""
        return {self.name, str(self.path), self.meta.dataset} - {""}


def data_sources(folders: Sequence[Path]) -> list[DataSource]:
    """The datasets of a run, their meta.json read; the same folder or the same name twice is refused."""
    sources: list[DataSource] = []
    for folder in folders:
        source = DataSource(Path(folder).resolve().name, Path(folder), DatasetMeta.load(folder))
        for other in sources:
            if other.path.resolve() == source.path.resolve():
                raise ScribeError(f"`data_dir` gives the dataset {source.path} twice; give each dataset once")
            if other.name == source.name:
                raise ScribeError(
                    f"`data_dir` gives two datasets called {source.name} ({other.path} and {source.path}); "
                    "a run names its datasets by their folders, so rename one folder"
                )
        sources.append(source)
    return sources


def parse_mix(value: Any) -> dict[str, float]:
    """``mix`` as a table of weights: ``{"iam-ondb": 0.7}`` or the string ``iam-ondb=0.7,unipen=0.3``.

    Weights must be finite numbers above 0; they are normalized when they meet the datasets.
    """
    if isinstance(value, str):
        table: dict[str, Any] = {}
        for part in (p.strip() for p in value.split(",")):
            name, equals, weight = part.partition("=")
            if not equals or not name.strip():
                raise ScribeError(f"`mix` {part!r} is not NAME=WEIGHT; write it like {MIX_EXAMPLE}")
            if name.strip() in table:
                raise ScribeError(f"`mix` gives {name.strip()} two weights; give each dataset one")
            table[name.strip()] = _number(weight.strip())
        value = table
    if not isinstance(value, Mapping) or not value:
        raise ScribeError(f"`mix` must be NAME=WEIGHT pairs like {MIX_EXAMPLE} or a table of them, not {value!r}")
    for name, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise ScribeError(f"`mix` weight of {name} must be a number above 0, not {weight!r}")
    return {str(name): float(weight) for name, weight in value.items()}


def _number(text: str) -> float | str:
    """``text`` as a float, or as it is (so that the weight check names it)."""
    try:
        return float(text)
    except ValueError:
        return text


def mix_weights(sources: Sequence[DataSource], mix: Mapping[str, float] | None) -> list[float] | None:
    """Each dataset's share of an epoch's draws, summing to 1; None (no ``mix``): proportional to their sizes.

    Every ``mix`` key must name exactly one dataset (by any of its aliases) and every
    dataset must get exactly one weight. Checked from meta.json alone, before any
    sample is read.
    """
    if mix is None:
        return None
    weights: dict[str, float] = {}
    for key, weight in mix.items():
        fits = [s.name for s in sources if key in s.aliases()]
        if not fits:
            names = ", ".join(s.name for s in sources)
            raise ScribeError(f"`mix` names {key!r}, which is none of the `data_dir` datasets ({names})")
        if len(fits) > 1:
            raise ScribeError(f"`mix` key {key!r} fits {' and '.join(fits)}; name each dataset by its folder")
        if fits[0] in weights:
            raise ScribeError(f"`mix` gives {fits[0]} two weights; give each dataset one")
        weights[fits[0]] = weight
    missing = [s.name for s in sources if s.name not in weights]
    if missing:
        raise ScribeError(f"`mix` gives no weight to {', '.join(missing)}; give every dataset one (like {MIX_EXAMPLE})")
    total = sum(weights.values())
    return [weights[s.name] / total for s in sources]


def epoch_draws(sizes: Sequence[int], weights: Sequence[float] | None) -> list[int]:
    """How many lines an epoch draws from each dataset: all of them once, or the weights' shares of the total.

    An epoch keeps the length of the plain concatenation (the sum of ``sizes``); the
    shares are rounded by largest remainder so that they add up to it exactly.
    """
    if weights is None:
        return list(sizes)
    total = sum(sizes)
    exact = [weight * total for weight in weights]
    draws = [math.floor(share) for share in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: draws[i] - exact[i])
    for i in by_remainder[: total - sum(draws)]:
        draws[i] += 1
    return draws


def union_alphabet(alphabets: Sequence[str]) -> str:
    """Every character of every dataset, sorted; one dataset's alphabet (or identical ones) is kept as it is."""
    if all(alphabet == alphabets[0] for alphabet in alphabets):
        return alphabets[0]
    return "".join(sorted(set().union(*alphabets)))


def mixed_points_per_char(paces: Sequence[float | None], weights: Sequence[float]) -> float | None:
    """The weighted median of the datasets' points per character (None when no dataset says).

    It starts the attention window (``kappa_scale``) at the pace of the lines the model
    is mostly shown: the reference's pace would be wrong for every batch of a dataset
    sampled more densely that makes most of the draws, and a weighted mean would be
    the pace of no dataset at all. One dataset: its own median, as before.
    """
    known = sorted((pace, weight) for pace, weight in zip(paces, weights) if pace is not None)
    if not known:
        return None
    half, running = sum(weight for _, weight in known) / 2, 0.0
    for pace, weight in known:
        running += weight
        if running >= half:
            return pace
    return known[-1][0]
