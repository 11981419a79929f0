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

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from scribe.datasets.meta import UNKNOWN_WRITER, DatasetMeta, read_sample, sample_files
from scribe.errors import ScribeError
from scribe.ink.alphabet import Alphabet
from scribe.ink.strokes import normalize
from scribe.progress import ProgressFn, no_progress


@dataclass
class Sample:
    """One training example, normalized and encoded."""

    offsets: torch.Tensor  # float32 (T, 3)
    text_ids: torch.Tensor  # int64 (L,), ends with Alphabet.END
    text: str
    writer: int


class StrokeDataset(Dataset):
    """All samples of one split, loaded into memory once (a full IAM-OnDB split is ~50 MB).

    ``max_points`` drops samples longer than that many points, which bounds the
    memory of a batch; the number dropped is kept in ``self.dropped``. A trained
    model reads data with its own ``alphabet`` and normalization ``stats``
    (mean, std); by default both come from ``meta.json``.
    """

    def __init__(
        self,
        data_dir: Path,
        split: str = "train",
        max_points: int | None = None,
        progress: ProgressFn = no_progress,
        alphabet: Alphabet | None = None,
        stats: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
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
        normalized = normalize(offsets, self.mean, self.std)
        return Sample(
            offsets=torch.from_numpy(normalized),
            text_ids=torch.tensor(self.alphabet.encode(text), dtype=torch.long),
            text=text,
            writer=writer,
        )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]

    def lengths(self) -> list[int]:
        """Number of points of every sample, for length bucketing."""
        return [len(s.offsets) for s in self.samples]

    def writers(self) -> list[int]:
        """The known writer ids of this split, sorted (-1, unknown, left out)."""
        return sorted({s.writer for s in self.samples} - {UNKNOWN_WRITER})


class StyleTable:
    """Maps dataset writer ids to a model's style indices: writer ``writers[i]`` is style i + 1.

    Style 0 is "any writer": unknown writers and writers the model never saw map to it.
    """

    def __init__(self, writers: list[int]) -> None:
        self.writers = list(writers)
        self._index = {writer: i + 1 for i, writer in enumerate(self.writers)}

    def __len__(self) -> int:
        return len(self.writers)

    def indices(self, writers: torch.Tensor) -> torch.Tensor:
        """Style indices (B,) for writer ids (B,), on the same device."""
        ids = [self._index.get(int(w), 0) for w in writers.tolist()]
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

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on ``device``."""
        return Batch(
            offsets=self.offsets.to(device),
            offsets_mask=self.offsets_mask.to(device),
            text_ids=self.text_ids.to(device),
            text_mask=self.text_mask.to(device),
            writers=self.writers.to(device),
            texts=self.texts,
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

    def _all_batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        indices = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(indices)
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
