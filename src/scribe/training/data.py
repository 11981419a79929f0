"""Training data in PyTorch: per-sample files -> normalized tensors -> padded batches.

Reads the folder written by ``scribe split`` (see docs/data.md): ``meta.json`` plus
``train/``, ``val/``, ``test/`` holding one ``.npz`` per sample. The stroke format is
defined once in :mod:`scribe.ink.strokes`; this module only normalizes ``dx, dy`` with the
statistics in ``meta.json`` (the pen column stays 0/1) and encodes the text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from scribe.datasets.meta import UNKNOWN_WRITER, DatasetMeta, read_sample, sample_files
from scribe.errors import ScribeError
from scribe.ink.alphabet import Alphabet
from scribe.ink.strokes import normalize, simplify_offsets
from scribe.progress import ProgressFactory, ProgressFn, no_progress
from scribe.training.sources import DataSource, data_sources, epoch_draws, mix_weights, union_alphabet


@dataclass
class Sample:
    """One training example, normalized and encoded."""

    offsets: torch.Tensor  # float32 (T, 3)
    text_ids: torch.Tensor  # int64 (L,), ends with Alphabet.END
    text: str
    writer: int
    source: int = 0  # which of the run's datasets it came from (0: the reference)


class _Samples(Dataset):
    """Samples held in a list, as every dataset here holds them: indexing and their lengths."""

    samples: list[Sample]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]

    def lengths(self) -> list[int]:
        """Number of points of every sample, for length bucketing."""
        return [len(s.offsets) for s in self.samples]


class StrokeDataset(_Samples):
    """All samples of one split, loaded into memory once (a full IAM-OnDB split is ~50 MB).

    ``max_points`` drops samples longer than that many points, which bounds the
    memory of a batch; the number dropped is kept in ``self.dropped``. A trained
    model reads data with its own ``alphabet`` and normalization ``stats``
    (mean, std); by default both come from ``meta.json``. ``source`` is the
    dataset's place among the datasets of a run (:class:`MixedDataset`), kept by
    every sample so that a batch knows whose writers it holds. ``thin_to`` thins
    every line at that tolerance first, as a recognizer trained on thinner ink reads
    (:meth:`scribe.writing.reader.InkReader.as_trained`).
    """

    def __init__(
        self,
        data_dir: Path,
        split: str = "train",
        max_points: int | None = None,
        progress: ProgressFn = no_progress,
        alphabet: Alphabet | None = None,
        stats: tuple[np.ndarray, np.ndarray] | None = None,
        source: int = 0,
        thin_to: float | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.source = source
        self.thin_to = thin_to
        self.meta = DatasetMeta.load(self.data_dir)
        self.alphabet = alphabet or Alphabet(self.meta.alphabet)
        self.mean, self.std = stats if stats is not None else (self.meta.mean, self.meta.std)
        files = sample_files(self.data_dir, split)
        self.samples: list[Sample] = []
        self.dropped = 0
        for done, path in enumerate(files, 1):
            sample = self._load(path)
            if max_points is not None and len(sample.offsets) > max_points:
                self.dropped += 1
            else:
                self.samples.append(sample)
            progress(done, len(files))
        if not self.samples:
            raise ScribeError(f"every sample in {self.data_dir / split} is longer than max_points={max_points}")

    def _load(self, path: Path) -> Sample:
        offsets, text, writer = read_sample(path)
        if self.thin_to is not None:
            offsets = simplify_offsets(offsets, self.thin_to)
        normalized = normalize(offsets, self.mean, self.std)
        return Sample(
            offsets=torch.from_numpy(normalized),
            text_ids=torch.tensor(self.alphabet.encode(text), dtype=torch.long),
            text=text,
            writer=writer,
            source=self.source,
        )

    def writers(self) -> list[int]:
        """The known writer ids of this split, sorted (-1, unknown, left out)."""
        return sorted({s.writer for s in self.samples} - {UNKNOWN_WRITER})


class MixedDataset(_Samples):
    """The same split of several datasets as one: the samples of ``parts`` one after another.

    Each sample keeps its part's ``source``; the first part is the reference, whose
    alphabet and statistics every part was loaded with.
    """

    def __init__(self, parts: Sequence[StrokeDataset]) -> None:
        self.parts = list(parts)
        self.samples = [sample for part in self.parts for sample in part.samples]

    def sizes(self) -> list[int]:
        """Samples per part, in order (the blocks of :meth:`lengths`)."""
        return [len(part) for part in self.parts]


StyleKey = tuple[str, int]  # (dataset name, writer id)


class StyleTable:
    """Maps (dataset, writer id) to a model's style indices: ``keys[i]`` is style i + 1.

    Writer ids are each dataset's own, so two datasets may both have a writer 7: the
    dataset is part of the key. Style 0 is "any writer": unknown writers (-1) and
    writers the model never saw map to it. ``datasets`` names a batch's ``sources``.
    """

    def __init__(self, keys: Sequence[StyleKey], datasets: Sequence[str]) -> None:
        self.keys = list(keys)
        self.datasets = list(datasets)
        self._index = {key: i + 1 for i, key in enumerate(self.keys)}

    @classmethod
    def of(cls, parts: Sequence[StrokeDataset], datasets: Sequence[str]) -> StyleTable:
        """One style per known writer of each part, the reference's first, so a one-dataset run numbers them as ever."""
        return cls([(name, writer) for name, part in zip(datasets, parts) for writer in part.writers()], datasets)

    def __len__(self) -> int:
        return len(self.keys)

    def indices(self, writers: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
        """Style indices (B,) for writer ids (B,) of the datasets ``sources`` (B,), on the writers' device."""
        keys = zip((self.datasets[s] for s in sources.tolist()), writers.tolist())
        ids = [self._index.get(key, 0) for key in keys]
        return torch.tensor(ids, dtype=torch.long, device=writers.device)


@dataclass
class Batch:
    """Padded tensors for a batch; masks are True on real (non-padding) positions."""

    offsets: torch.Tensor  # float32 (B, T, 3)
    offsets_mask: torch.Tensor  # bool (B, T)
    text_ids: torch.Tensor  # int64 (B, L), padded with Alphabet.PAD
    text_mask: torch.Tensor  # bool (B, L)
    writers: torch.Tensor  # int64 (B,)
    texts: list[str]
    sources: torch.Tensor  # int64 (B,): which of the run's datasets each line came from

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on ``device``."""
        return Batch(
            offsets=self.offsets.to(device),
            offsets_mask=self.offsets_mask.to(device),
            text_ids=self.text_ids.to(device),
            text_mask=self.text_mask.to(device),
            writers=self.writers.to(device),
            texts=self.texts,
            sources=self.sources.to(device),
        )


def _pad(sequences: Sequence[torch.Tensor], value: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad ``sequences`` to one length; returns the stack and its validity mask."""
    lengths = torch.tensor([len(s) for s in sequences])
    padded = torch.nn.utils.rnn.pad_sequence(list(sequences), batch_first=True, padding_value=value)
    mask = torch.arange(padded.shape[1])[None, :] < lengths[:, None]
    return padded, mask


def collate(samples: Sequence[Sample]) -> Batch:
    """Pad strokes (with zeros) and texts (with ``Alphabet.PAD``) and build their masks."""
    offsets, offsets_mask = _pad([s.offsets for s in samples], 0.0)
    text_ids, text_mask = _pad([s.text_ids for s in samples], Alphabet.PAD)
    return Batch(
        offsets=offsets,
        offsets_mask=offsets_mask,
        text_ids=text_ids,
        text_mask=text_mask,
        writers=torch.tensor([s.writer for s in samples], dtype=torch.long),
        texts=[s.text for s in samples],
        sources=torch.tensor([s.source for s in samples], dtype=torch.long),
    )


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of samples of similar length, so little of each batch is padding.

    Indices are shuffled, cut into pools of ``pool_batches`` batches, sorted by
    length inside each pool and cut into batches; the batch order is shuffled
    again. Each epoch reshuffles with ``seed + epoch`` (call :meth:`set_epoch`), so
    a run is reproducible and a resumed run sees the same order. With
    ``num_replicas > 1`` (distributed training) every replica gets an equal share
    of the batches.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        pool_batches: int = 50,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.pool_batches = pool_batches
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the shuffle of ``epoch``."""
        self.epoch = epoch

    def _epoch_indices(self, rng: random.Random) -> list[int]:
        """The lines of this epoch, in the order pools are cut from them: every line once, shuffled."""
        indices = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(indices)
        return indices

    def _all_batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        indices = self._epoch_indices(rng)
        pool_size = self.batch_size * self.pool_batches
        batches: list[list[int]] = []
        for start in range(0, len(indices), pool_size):
            pool = sorted(indices[start : start + pool_size], key=self.lengths.__getitem__)
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._all_batches()
        per_replica = len(batches) // self.num_replicas
        return iter(batches[self.rank :: self.num_replicas][:per_replica])

    def __len__(self) -> int:
        n = len(self.lengths)
        pool_size = self.batch_size * self.pool_batches
        pool_sizes = [min(pool_size, n - start) for start in range(0, n, pool_size)]
        if self.drop_last:
            batches = sum(m // self.batch_size for m in pool_sizes)
        else:  # every pool is cut separately, so each may end with a short batch
            batches = sum(-(-m // self.batch_size) for m in pool_sizes)
        return batches // self.num_replicas


class MixedBatchSampler(BucketBatchSampler):
    """Length-bucketed batches of lines drawn from several datasets in set shares.

    ``lengths`` holds the datasets one block after another, ``sizes`` long each;
    ``draws`` says how many lines an epoch takes from each (they add up to the
    total, so an epoch is as long as the plain concatenation). A dataset drawn
    fewer times than its size gives a fresh random subset each epoch (no line
    twice); one drawn more often gives every line ``draws // size`` times and a
    random ``draws % size`` of them once more: sampling with replacement, but
    stratified, so no line is left out or piled up by chance. A dataset drawn
    exactly its size gives its lines without using the generator, so the default
    mix (proportional to size) is the plain concatenation and a single dataset is
    batched exactly as by :class:`BucketBatchSampler`. Draws, pools and batches all
    come from ``seed + epoch``: a run is reproducible and a resumed epoch is the
    same epoch.
    """

    def __init__(
        self, lengths: Sequence[int], batch_size: int, sizes: Sequence[int], draws: Sequence[int], **options: Any
    ) -> None:
        super().__init__(lengths, batch_size, **options)
        if sum(sizes) != len(self.lengths) or sum(draws) != len(self.lengths) or min(sizes, default=0) < 1:
            raise ValueError("sizes must cover lengths in non-empty blocks and draws must add up to them")
        self.sizes, self.draws = list(sizes), list(draws)

    def _epoch_indices(self, rng: random.Random) -> list[int]:
        drawn: list[int] = []
        start = 0
        for size, count in zip(self.sizes, self.draws):
            block = list(range(start, start + size))
            repeats, extra = divmod(count, size)
            drawn += block * repeats + (rng.sample(block, extra) if extra else [])
            start += size
        if self.shuffle:
            rng.shuffle(drawn)
        return drawn


@dataclass
class TrainingData:
    """The datasets of one run, loaded: the mixed training lines, each dataset's validation lines, the shares."""

    sources: list[DataSource]  # the reference first
    train: MixedDataset
    val: list[StrokeDataset]  # one per source, in order
    weights: list[float]  # each dataset's share of an epoch's draws, summing to 1
    draws: list[int]  # lines an epoch draws from each dataset

    @property
    def names(self) -> list[str]:
        return [source.name for source in self.sources]

    @property
    def alphabet(self) -> Alphabet:
        return self.train.parts[0].alphabet

    @property
    def reference(self) -> DatasetMeta:
        return self.sources[0].meta

    def shares(self) -> dict[str, float]:
        """Dataset name -> weight, the reference first: what a checkpoint records of its data."""
        return dict(zip(self.names, self.weights))


def load_training_data(
    folders: Sequence[Path],
    mix: dict[str, float] | None,
    max_points: int | None,
    progress: ProgressFactory = lambda _name, _total: no_progress,
) -> TrainingData:
    """Read the run's datasets with one alphabet (the union of theirs) and the reference's statistics.

    The mix is checked against the datasets' meta.json before any sample is read;
    without one, each dataset's share is its size (after ``max_points``).
    ``progress`` gets a bar per dataset and split (``"unipen train"``): a large
    dataset takes a minute to read (UNIPEN's 220,000 training files).
    """
    sources = data_sources(folders)
    weights = mix_weights(sources, mix)
    alphabet = Alphabet(union_alphabet([source.meta.alphabet for source in sources]))
    stats = (sources[0].meta.mean, sources[0].meta.std)

    def splits(split: str, limit: int | None) -> list[StrokeDataset]:
        return [
            StrokeDataset(s.path, split, limit, progress(f"{s.name} {split}", None), alphabet, stats, source=k)
            for k, s in enumerate(sources)
        ]

    train = MixedDataset(splits("train", max_points))
    sizes = train.sizes()
    shares = weights if weights is not None else [size / sum(sizes) for size in sizes]
    return TrainingData(sources, train, splits("val", None), shares, epoch_draws(sizes, weights))
