"""Dataset, collate and bucketing over the per-sample folder format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.basics import write_split_dataset
from scribe.datasets.meta import DatasetMeta
from scribe.errors import ScribeError
from scribe.ink.alphabet import Alphabet
from scribe.ink.strokes import denormalize, normalize
from scribe.training.data import BucketBatchSampler, StrokeDataset, collate


def test_alphabet_reserves_padding_and_end_ids() -> None:
    alphabet = Alphabet("abc ")
    assert len(alphabet) == 6
    ids = alphabet.encode("cab a")
    assert ids[-1] == Alphabet.END
    assert Alphabet.PAD not in ids
    assert alphabet.decode(ids) == "cab a"


def test_alphabet_rejects_unknown_characters_with_their_names() -> None:
    with pytest.raises(ScribeError, match="'é'"):
        Alphabet("abc").encode("abé")


def test_normalize_roundtrip_keeps_pen_column() -> None:
    offsets = np.array([[0, 0, 0], [3, -1, 1], [5, 2, 0]], dtype=np.float32)
    mean, std = np.array([1.0, 0.5, 0.3]), np.array([2.0, 4.0, 0.4])
    normalized = normalize(offsets, mean, std)
    np.testing.assert_array_equal(normalized[:, 2], offsets[:, 2])
    np.testing.assert_allclose(normalized[1, :2], [1.0, -0.375])
    np.testing.assert_allclose(denormalize(normalized, mean, std), offsets, atol=1e-6)


def test_dataset_normalizes_with_meta_stats(tiny_dataset: Path) -> None:
    dataset = StrokeDataset(tiny_dataset, "train")
    assert len(dataset) == 6
    raw = np.load(sorted((tiny_dataset / "train").glob("*.npz"))[0])["offsets"]
    meta = json.loads((tiny_dataset / "meta.json").read_text())
    expected = (raw[:, :2] - np.array(meta["mean"][:2])) / np.array(meta["std"][:2])
    np.testing.assert_allclose(dataset[0].offsets[:, :2].numpy(), expected, rtol=1e-5)
    assert dataset.alphabet.decode(dataset[0].text_ids.tolist()) == dataset[0].text


def test_dataset_drops_samples_longer_than_max_points(tiny_dataset: Path) -> None:
    full = StrokeDataset(tiny_dataset, "train")
    limit = sorted(full.lengths())[2]
    clipped = StrokeDataset(tiny_dataset, "train", max_points=limit)
    assert all(n <= limit for n in clipped.lengths())
    assert len(clipped) + clipped.dropped == len(full)


def test_dataset_errors_are_user_errors(tmp_path: Path, tiny_dataset: Path) -> None:
    with pytest.raises(ScribeError, match="scribe split"):
        StrokeDataset(tmp_path / "nowhere")
    with pytest.raises(ScribeError, match="no samples"):
        StrokeDataset(tiny_dataset, "test")
    with pytest.raises(ScribeError, match="unknown split"):
        StrokeDataset(tiny_dataset, "dev")


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_meta_json_of_an_unknown_format_version_is_refused(tiny_dataset: Path, version: object) -> None:
    path = tiny_dataset / "meta.json"
    meta = json.loads(path.read_text())
    if version is None:
        del meta["format_version"]
    else:
        meta["format_version"] = version
    path.write_text(json.dumps(meta))
    for read in (DatasetMeta.load, StrokeDataset):
        with pytest.raises(ScribeError) as info:
            read(tiny_dataset)
        message = str(info.value)
        assert f"format_version {version!r}" in message and "run `scribe split` again" in message
        assert "\n" not in message


def test_meta_json_needs_alphabet_and_statistics(tiny_dataset: Path) -> None:
    path = tiny_dataset / "meta.json"
    meta = json.loads(path.read_text())
    loaded = DatasetMeta.load(tiny_dataset)
    assert loaded.alphabet == meta["alphabet"] and loaded.mean.dtype == np.float32 and loaded.dataset == "tiny"
    assert loaded.points_per_char is None  # not in a hand-made file: readers fall back to their default
    path.write_text(json.dumps({**meta, "mean": [0.0, 1.0]}))
    with pytest.raises(ScribeError, match="not a valid scribe meta.json.*3 numbers"):
        DatasetMeta.load(tiny_dataset)
    path.write_text(json.dumps({k: v for k, v in meta.items() if k != "alphabet"}))
    with pytest.raises(ScribeError, match="not a valid scribe meta.json.*alphabet"):
        DatasetMeta.load(tiny_dataset)
    path.write_text("[1, 2]")
    with pytest.raises(ScribeError, match="not a valid scribe meta.json"):
        DatasetMeta.load(tiny_dataset)


def test_collate_pads_and_masks(tiny_dataset: Path) -> None:
    dataset = StrokeDataset(tiny_dataset, "train")
    samples = [dataset[i] for i in range(3)]
    batch = collate(samples)
    lengths = [len(s.offsets) for s in samples]
    text_lengths = [len(s.text_ids) for s in samples]
    assert batch.offsets.shape == (3, max(lengths), 3)
    assert batch.text_ids.shape == (3, max(text_lengths))
    assert batch.offsets_mask.sum(dim=1).tolist() == lengths
    assert batch.text_mask.sum(dim=1).tolist() == text_lengths
    for i, sample in enumerate(samples):
        torch.testing.assert_close(batch.offsets[i, : lengths[i]], sample.offsets)
        assert torch.all(batch.offsets[i, lengths[i] :] == 0)
        assert torch.all(batch.text_ids[i, text_lengths[i] :] == Alphabet.PAD)
    assert batch.texts == [s.text for s in samples]
    assert batch.to("cpu").offsets.dtype == torch.float32


def test_bucket_sampler_covers_every_index_once_in_similar_length_batches() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 1000, size=503).tolist()
    sampler = BucketBatchSampler(lengths, batch_size=16, pool_batches=8, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(503))
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
    random_spread = np.mean([np.ptp(rng.choice(lengths, 16)) for _ in range(50)])
    assert spread < random_spread / 3


def test_bucket_sampler_is_seeded_per_epoch() -> None:
    lengths = list(range(100))
    a = BucketBatchSampler(lengths, batch_size=8, seed=1)
    b = BucketBatchSampler(lengths, batch_size=8, seed=1)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)


def test_bucket_sampler_shards_between_replicas() -> None:
    lengths = list(range(100))
    shards = [list(BucketBatchSampler(lengths, 8, seed=0, num_replicas=2, rank=r)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == len(BucketBatchSampler(lengths, 8, num_replicas=2))
    assert not {i for b in shards[0] for i in b} & {i for b in shards[1] for i in b}


def test_a_validation_subset_spans_the_lengths_not_only_the_shortest(tmp_path: Path) -> None:
    from scribe.training.evaluation import iterate_batches

    texts = ["a", "ab", "abc de", "abcd efg hij", "abcde fghij klmno pq", "a much longer line of text to write here"]
    dataset = StrokeDataset(write_split_dataset(tmp_path / "d", {"train": texts}), "train")
    every = [batch.texts for batch in iterate_batches(dataset, 2)]
    chosen = [batch.texts for batch in iterate_batches(dataset, 2, limit=2)]
    assert len(every) == 3 and chosen == [every[0], every[-1]]
    assert [batch.texts for batch in iterate_batches(dataset, 2, limit=5)] == every
