"""scribe split: raw sources -> train/val/test per-sample files + meta.json (scribe.datasets.split)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from helpers.basics import SHARED_DATA, needs_shared_data
from helpers.files import (
    DEEPWRITING_LABEL_KEYS,
    make_compact_npz,
    make_deepwriting_npz,
    make_iam_raw_tree,
    make_iam_tars,
    write_iam_split_lists,
)
from scribe import paths
from scribe.datasets.spec import RawSample
from scribe.datasets.split import DEFAULT_SIMPLIFY_EPS, SplitReport, split_dataset
from scribe.errors import ScribeError
from scribe.ink.strokes import offsets_stats, validate_offsets
from scribe.training.data import StrokeDataset

# --------------------------------------------------------------------------- helpers


def line_points(rng: np.random.Generator, n_strokes: int = 3, n: int = 12) -> np.ndarray:
    """Absolute y-down int points of a plausible line."""
    rows, x = [], 500
    for _ in range(n_strokes):
        xs = x + np.cumsum(rng.integers(5, 25, n))
        ys = 2000 + np.round(80 * np.sin(np.arange(n) / 2)).astype(int)
        ends = np.zeros(n, dtype=int)
        ends[-1] = 1
        rows.append(np.column_stack([xs, ys, ends]))
        x = int(xs[-1]) + 100
    return np.concatenate(rows)


def raw(
    sample_id: str, writer: int = -1, split: str | None = None, text: str = "some words", seed: int = 0, **kw
) -> RawSample:
    points = kw.pop("points", None)
    if points is None:
        points = line_points(np.random.default_rng(seed))
    return RawSample(sample_id=sample_id, text=text, writer=writer, official_split=split, points=points, **kw)


@pytest.fixture
def fake_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Make split_dataset read the given RawSamples as if from a compact IAM-OnDB file."""
    from scribe.datasets import iam_ondb

    source = tmp_path / "lines.npz"
    make_compact_npz(source, n_lines=1)  # detected as a compact file; its content is replaced

    def use(samples: list[RawSample]) -> Path:
        monkeypatch.setattr(iam_ondb, "read_compact_lines", lambda path, progress=None: list(samples))
        return source

    return use


def load_split(out: Path) -> dict[str, dict[str, dict]]:
    """split -> sample id -> arrays, read without pickle."""
    result = {}
    for split in paths.SPLITS:
        result[split] = {}
        for path in sorted((out / split).glob("*.npz")):
            with np.load(path, allow_pickle=False) as npz:
                result[split][path.stem] = {key: npz[key] for key in npz.files}
    return result


# --------------------------------------------------------------------------- arguments and errors


def test_unknown_dataset_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ScribeError, match="deepwriting, iam-ondb"):
        split_dataset("mnist", tmp_path)


def test_missing_raw_files_say_how_to_get_them(scribe_home: Path) -> None:
    with pytest.raises(ScribeError) as info:
        split_dataset("iam-ondb")
    message = str(info.value)
    assert "scribe download-data iam-ondb" in message and "`source`" in message
    assert str(paths.raw_dir("iam-ondb")) in message and "\n" not in message


def test_source_of_the_other_dataset_is_refused(tmp_path: Path) -> None:
    make_deepwriting_npz(tmp_path / "deepwriting_training.npz")
    with pytest.raises(ScribeError, match="deepwriting"):
        split_dataset("iam-ondb", tmp_path / "deepwriting_training.npz", out_dir=tmp_path / "out")
    make_compact_npz(tmp_path / "lines.npz")
    with pytest.raises(ScribeError, match="iam-ondb"):
        split_dataset("deepwriting", tmp_path / "lines.npz", out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "meta.json").exists()


def test_unknown_train_extra_is_refused(tmp_path: Path) -> None:
    make_compact_npz(tmp_path / "lines.npz")
    with pytest.raises(ScribeError, match="val3.*val1"):
        split_dataset("iam-ondb", tmp_path / "lines.npz", out_dir=tmp_path / "out", train_extra=("val3",))


# --------------------------------------------------------------------------- IAM-OnDB


def expected_compact_counts(written: dict, train_extra: tuple[str, ...] = ()) -> Counter:
    mapping = {"train": "train", "val1": "val", "val2": "val", "test": "test", **{e: "train" for e in train_extra}}
    return Counter(mapping[s] for s, bad in zip(written["split"].tolist(), written["blacklisted"]) if s and not bad)


def test_compact_file_official_split(tmp_path: Path) -> None:
    written = make_compact_npz(tmp_path / "lines.npz", n_lines=15)
    seen = []
    report = split_dataset(
        "iam-ondb",
        tmp_path / "lines.npz",
        out_dir=tmp_path / "out",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert isinstance(report, SplitReport) and report.out_dir == tmp_path / "out"
    expected = expected_compact_counts(written)
    assert report.counts == {split: expected[split] for split in paths.SPLITS}
    no_split = sum(1 for s, bad in zip(written["split"], written["blacklisted"]) if not s and not bad)
    assert report.skipped == {"blacklisted": int(written["blacklisted"].sum()), "no official split": no_split}
    assert seen and seen[-1][0] == seen[-1][1]

    files = load_split(tmp_path / "out")
    splits_by_id = dict(zip(written["line_ids"].tolist(), written["split"].tolist()))
    for split, samples in files.items():
        assert len(samples) == report.counts[split]
        for sample_id, arrays in samples.items():
            assert {"val1": "val", "val2": "val"}.get(splits_by_id[sample_id], splits_by_id[sample_id]) == split
            assert set(arrays) == {"offsets", "text", "writer"}
            assert arrays["offsets"].dtype == np.float32 and arrays["offsets"].shape[1] == 3
            assert validate_offsets(arrays["offsets"]) is None
            assert arrays["text"].dtype.kind == "U" and arrays["text"].shape == ()
            assert arrays["writer"].dtype == np.int64 and arrays["writer"].shape == ()
    # The y axis was flipped: the first fixture line's second point, relative to its first.
    first_id = next(iter(files["train"]))
    i = written["line_ids"].tolist().index(first_id)
    points = written["points"][written["line_offsets"][i] : written["line_offsets"][i + 1]]
    offsets = files["train"][first_id]["offsets"]
    assert str(files["train"][first_id]["text"]) == written["texts"][i]
    assert int(files["train"][first_id]["writer"]) == written["writer_ids"][i]
    np.testing.assert_allclose(
        offsets[:, :2].sum(axis=0), [points[-1, 0] - points[0, 0], -(points[-1, 1] - points[0, 1])]
    )


def test_meta_json(tmp_path: Path) -> None:
    make_compact_npz(tmp_path / "lines.npz", n_lines=15)
    report = split_dataset("iam-ondb", tmp_path / "lines.npz", out_dir=tmp_path / "out", simplify_eps=2.0)
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["format_version"] == 1
    assert meta["dataset"] == "iam-ondb"
    assert meta["source"] == str((tmp_path / "lines.npz").resolve())
    assert meta["source_format"] == "iam-ondb-compact"
    assert meta["split_method"] == "official"
    assert meta["train_extra"] == []
    assert meta["counts"] == report.counts and meta["skipped"] == report.skipped
    assert meta["units"]
    files = load_split(tmp_path / "out")
    texts = [str(a["text"]) for split in files.values() for a in split.values()]
    assert meta["alphabet"] == report.alphabet == "".join(sorted(set("".join(texts))))
    mean, std = offsets_stats([a["offsets"] for a in files["train"].values()])
    np.testing.assert_allclose(meta["mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(meta["std"], std, rtol=1e-6)
    ratios = [len(a["offsets"]) / len(str(a["text"])) for split in files.values() for a in split.values()]
    assert meta["points_per_char"] == pytest.approx(np.median(ratios)) == report.points_per_char
    steps = meta["preprocessing"]
    assert steps["simplify"]["eps"] == 2.0
    assert "outliers" in steps and "blacklist" in steps and "y_flip" in steps


def test_train_extra_moves_official_splits_to_train(tmp_path: Path) -> None:
    written = make_compact_npz(tmp_path / "lines.npz", n_lines=15)
    report = split_dataset("iam-ondb", tmp_path / "lines.npz", out_dir=tmp_path / "out", train_extra=("val2", "test"))
    expected = expected_compact_counts(written, ("val2", "test"))
    assert report.counts == {"train": expected["train"], "val": expected["val"], "test": 0}
    assert json.loads((tmp_path / "out" / "meta.json").read_text())["train_extra"] == ["val2", "test"]


def test_simplify_reduces_points_and_zero_disables(fake_source) -> None:
    dense = np.column_stack([np.arange(0, 400, 2), np.full(200, 100), np.zeros(200, dtype=int)])
    dense[-1, 2] = 1
    dense[100:, 1] += np.arange(100)  # a straight line with one bend
    source = fake_source([raw("a01-000-01", writer=1, split="train", points=dense)])
    out = source.parent
    report = split_dataset("iam-ondb", source, out_dir=out / "eps", simplify_eps=DEFAULT_SIMPLIFY_EPS)
    simple = load_split(out / "eps")["train"]["a01-000-01"]["offsets"]
    assert len(simple) == 3 and report.points_per_char == pytest.approx(3 / len("some words"))
    for eps in (0, None):
        split_dataset("iam-ondb", source, out_dir=out / "none", simplify_eps=eps)
        assert len(load_split(out / "none")["train"]["a01-000-01"]["offsets"]) == 200
    assert json.loads((out / "none" / "meta.json").read_text())["preprocessing"]["simplify"] is None


def test_raw_tree_with_split_lists(tmp_path: Path) -> None:
    tree = make_iam_raw_tree(tmp_path / "raw")
    write_iam_split_lists(
        tree, {"trainset.txt": ["a01-000u"], "testset_v.txt": ["a01-001w"], "testset_f.txt": ["b02-010"]}
    )
    report = split_dataset("iam-ondb", tree, out_dir=tmp_path / "out")
    assert report.counts == {"train": 3, "val": 2, "test": 2}
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["source_format"] == "iam-ondb-raw" and meta["split_method"] == "official"
    assert sorted(load_split(tmp_path / "out")["val"]) == ["a01-001w-01", "a01-001w-02"]


def test_tars_without_split_lists_use_a_random_split(tmp_path: Path) -> None:
    tree = make_iam_raw_tree(tmp_path / "tree")
    make_iam_tars(tree, tmp_path / "downloads")
    report = split_dataset("iam-ondb", tmp_path / "downloads", out_dir=tmp_path / "out", seed=3)
    assert sum(report.counts.values()) == 7
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["split_method"].startswith("writer-disjoint random, seed 3")
    # Writers are unknown, so each form stays in one split.
    files = load_split(tmp_path / "out")
    forms = {split: {sample_id.rsplit("-", 1)[0] for sample_id in samples} for split, samples in files.items()}
    assert (
        not (forms["train"] & forms["val"])
        and not (forms["train"] & forms["test"])
        and not (forms["val"] & forms["test"])
    )


# --------------------------------------------------------------------------- random split and skipping


def many_writers() -> list[RawSample]:
    samples = []
    for w in range(30):
        for j in range(int(3 + w % 5)):
            samples.append(raw(f"w{w:02d}-{j:03d}-{j + 1:02d}", writer=10000 + w, seed=w * 100 + j))
    for f in range(8):  # unknown writers: grouped by form
        for j in range(3):
            samples.append(raw(f"z{f:02d}-000-{j + 1:02d}", writer=-1, seed=9000 + f * 10 + j))
    return samples


def test_random_split_is_writer_disjoint_and_reproducible(fake_source, tmp_path: Path) -> None:
    samples = many_writers()
    source = fake_source(samples)
    groups = {s.sample_id: (s.writer if s.writer != -1 else s.sample_id.rsplit("-", 1)[0]) for s in samples}

    def run(seed: int, out: str) -> dict[str, set[str]]:
        report = split_dataset("iam-ondb", source, out_dir=tmp_path / out, seed=seed)
        assert sum(report.counts.values()) == len(samples)
        return {split: set(ids) for split, ids in load_split(tmp_path / out).items()}

    first, again, other = run(0, "a"), run(0, "b"), run(1, "c")
    assert first == again
    assert first != other
    members = {split: {groups[i] for i in ids} for split, ids in first.items()}
    assert not (members["train"] & members["val"]) and not (members["train"] & members["test"])
    assert not (members["val"] & members["test"])
    n = len(samples)
    assert 0.05 * n <= len(first["val"]) <= 0.2 * n and 0.05 * n <= len(first["test"]) <= 0.2 * n
    assert json.loads((tmp_path / "a" / "meta.json").read_text())["split_method"] == "writer-disjoint random, seed 0"


def test_a_single_group_goes_to_training(fake_source, tmp_path: Path) -> None:
    source = fake_source([raw(f"a01-000-{j:02d}", seed=j) for j in range(1, 4)])
    report = split_dataset("iam-ondb", source, out_dir=tmp_path / "out")
    assert report.counts == {"train": 3, "val": 0, "test": 0}


def test_skipped_samples_are_counted_by_reason(fake_source, tmp_path: Path) -> None:
    nan_points = line_points(np.random.default_rng(1)).astype(float)
    nan_points[3, 0] = np.nan
    samples = [
        raw("a01-000-01", split="train"),
        raw("a01-000-02", split="train", blacklisted=True),
        raw("a01-000-03", split="train", text=""),
        raw("a01-000-04", split="train", text="   "),
        raw("a01-000-05", split="train", points=np.array([[10, 10, 1]])),
        raw("a01-000-06", split="train", points=nan_points),
        raw("a01-000-07", split="train", points=np.zeros((0, 3), dtype=int)),
        raw("a01-000-08", split=None),
        raw("a01-000-09", split="val2"),
        raw("a01-000-01", split="test"),  # the same id twice
    ]
    report = split_dataset("iam-ondb", fake_source(samples), out_dir=tmp_path / "out")
    assert report.counts == {"train": 1, "val": 1, "test": 0}
    assert report.skipped == {
        "blacklisted": 1,
        "missing or empty text": 2,
        "too few points": 1,
        "non-finite values": 1,
        "empty": 1,
        "no official split": 1,
        "duplicate sample id": 1,
    }


def test_nothing_usable_is_an_error(fake_source, tmp_path: Path) -> None:
    source = fake_source([raw("a01-000-01", blacklisted=True)])
    with pytest.raises(ScribeError, match="no usable samples.*blacklisted"):
        split_dataset("iam-ondb", source, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "meta.json").exists()


# --------------------------------------------------------------------------- writing


def test_rerun_replaces_the_split_and_leaves_downloads_and_raw_alone(scribe_home: Path) -> None:
    raw_dir, downloads = paths.raw_dir("iam-ondb"), paths.downloads_dir("iam-ondb")
    raw_dir.mkdir(parents=True)
    downloads.mkdir(parents=True)
    (downloads / "archive.tar.gz").write_bytes(b"keep me")
    make_compact_npz(raw_dir / "iam_ondb_lines.npz", n_lines=15)
    first = split_dataset("iam-ondb")
    out = paths.dataset_dir("iam-ondb")
    assert first.out_dir == out
    stale = out / "train" / "stale-sample.npz"
    stale.write_bytes(b"from an older run")
    (out / "val" / "stale-too.npz").write_bytes(b"old")

    second = split_dataset("iam-ondb", train_extra=("val1", "val2", "test"))
    assert second.counts == {"train": sum(first.counts.values()), "val": 0, "test": 0}
    assert not stale.exists() and not list((out / "val").iterdir())
    assert (downloads / "archive.tar.gz").read_bytes() == b"keep me"
    assert (raw_dir / "iam_ondb_lines.npz").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["downloads", "meta.json", "raw", "test", "train", "val"]
    assert json.loads((out / "meta.json").read_text())["counts"] == second.counts


def test_interrupted_run_keeps_the_previous_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_compact_npz(tmp_path / "lines.npz", n_lines=15)
    out = tmp_path / "out"
    split_dataset("iam-ondb", tmp_path / "lines.npz", out_dir=out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    import scribe.datasets.split as split_module

    calls = 0
    real_savez = np.savez

    def failing_savez(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls > 2:
            raise KeyboardInterrupt
        real_savez(*args, **kwargs)

    monkeypatch.setattr(split_module.np, "savez", failing_savez)
    with pytest.raises(KeyboardInterrupt):
        split_dataset("iam-ondb", tmp_path / "lines.npz", out_dir=out, train_extra=("val1",))
    monkeypatch.setattr(split_module.np, "savez", real_savez)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "test", "train", "val"]


def test_result_loads_with_stroke_dataset(tmp_path: Path) -> None:
    make_compact_npz(tmp_path / "lines.npz", n_lines=15)
    split_dataset("iam-ondb", tmp_path / "lines.npz", out_dir=tmp_path / "out")
    train = StrokeDataset(tmp_path / "out", "train")
    assert len(train) > 0
    sample = train[0]
    assert sample.offsets.shape[1] == 3 and sample.text_ids[-1] == 1
    assert StrokeDataset(tmp_path / "out", "val", alphabet=train.alphabet)[0].text


# --------------------------------------------------------------------------- DeepWriting


def test_deepwriting_folder_official_split_labels_and_stats(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    training = make_deepwriting_npz(folder / "deepwriting_training.npz", n_samples=5, seed=1)
    make_deepwriting_npz(folder / "deepwriting_validation.npz", n_samples=3, seed=2)
    report = split_dataset("deepwriting", folder, out_dir=tmp_path / "out")
    assert report.counts == {"train": 5, "val": 3, "test": 0}
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["source_format"] == "deepwriting-npz" and meta["split_method"] == "official"
    # The training file's statistics, with y turned to point up.
    expected_mean = training["mean"].astype(np.float64) * [1, -1, 1]
    np.testing.assert_allclose(meta["mean"], expected_mean, rtol=1e-6)
    np.testing.assert_allclose(meta["std"], training["std"], rtol=1e-6)
    files = load_split(tmp_path / "out")
    arrays = files["train"]["deepwriting_training-00000"]
    assert set(arrays) == {"offsets", "text", "writer", *DEEPWRITING_LABEL_KEYS}
    for key in DEEPWRITING_LABEL_KEYS:
        assert arrays[key].dtype == np.int32 and arrays[key].shape == (len(arrays["offsets"]),)
    assert str(arrays["text"]) == "sample 0 text" and int(arrays["writer"]) == 10000
    assert validate_offsets(arrays["offsets"]) is None
    # De-normalized, y flipped: the offsets match the fixture's raw offsets after row 0.
    raw_offsets = training["raw_offsets"][0]
    np.testing.assert_allclose(arrays["offsets"][1:, 0], raw_offsets[1:, 0], atol=1e-4)
    np.testing.assert_allclose(arrays["offsets"][1:, 1], -raw_offsets[1:, 1], atol=1e-4)
    StrokeDataset(tmp_path / "out", "val")


def test_deepwriting_train_extra_val(tmp_path: Path) -> None:
    make_deepwriting_npz(tmp_path / "deepwriting_training.npz", n_samples=4)
    make_deepwriting_npz(tmp_path / "deepwriting_validation.npz", n_samples=2)
    report = split_dataset("deepwriting", tmp_path, out_dir=tmp_path / "out", train_extra=("val",))
    assert report.counts == {"train": 6, "val": 0, "test": 0}
    with pytest.raises(ScribeError, match="val1"):
        split_dataset("deepwriting", tmp_path, out_dir=tmp_path / "out", train_extra=("val1",))


# --------------------------------------------------------------------------- real data


@needs_shared_data
def test_real_deepwriting_sample(tmp_path: Path) -> None:
    report = split_dataset("deepwriting", SHARED_DATA / "deepwriting_validation_sample.npz", out_dir=tmp_path / "out")
    assert report.counts == {"train": 0, "val": 705, "test": 0}
    assert report.skipped == {}
    dataset = StrokeDataset(tmp_path / "out", "val")
    assert len(dataset) == 705


@needs_shared_data
def test_real_iam_raw_form(tmp_path: Path) -> None:
    report = split_dataset("iam-ondb", SHARED_DATA / "iam_ondb_raw_sample", out_dir=tmp_path / "out")
    assert sum(report.counts.values()) == 6 and report.skipped == {}
    texts = {str(a["text"]) for split in load_split(tmp_path / "out").values() for a in split.values()}
    assert "A MOVE to stop Mr . Gaitskell" in texts


@needs_shared_data
def test_real_full_compact_file_official_splits(tmp_path: Path) -> None:
    path = SHARED_DATA / "iam_ondb_lines.npz"
    with np.load(path, allow_pickle=False) as npz:
        split, blacklisted, writers = npz["split"], npz["blacklisted"], npz["writer_ids"]
        line_ids = npz["line_ids"].tolist()
    report = split_dataset("iam-ondb", path, out_dir=tmp_path / "out")  # about 40 s on 2 idle cores
    usable = {"train": ("train",), "val": ("val1", "val2"), "test": ("test",)}
    official = {name: int((np.isin(split, names) & ~blacklisted).sum()) for name, names in usable.items()}
    invalid = sum(n for reason, n in report.skipped.items() if reason not in ("blacklisted", "no official split"))
    assert report.skipped["blacklisted"] == int(blacklisted.sum())
    assert sum(official.values()) - sum(report.counts.values()) == invalid
    for name in paths.SPLITS:
        assert official[name] - invalid <= report.counts[name] <= official[name]
    assert report.counts["train"] > 5000 and report.counts["test"] > 3500
    # Writers never cross splits.
    writer_of = dict(zip(line_ids, writers.tolist()))
    seen = {name: {writer_of[p.stem] for p in (tmp_path / "out" / name).glob("*.npz")} - {-1} for name in paths.SPLITS}
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"]) and not (seen["val"] & seen["test"])
    assert 8 <= report.points_per_char <= 14


def test_deepwriting_text_is_cut_to_the_inked_words() -> None:
    from scribe.datasets.deepwriting import text_covered_by_ink

    labels = np.array([0, 5, 5, 0, 6, 6, 7, 7], dtype=np.int32)
    assert text_covered_by_ink('"He drew back the curtains and let', labels) == "curtains and let"
    assert text_covered_by_ink("in March of last year?", np.array([5, 5, 6])) == "year?"
    assert text_covered_by_ink("short text", np.array([0, 7])) == "short text"  # labels that do not fit
    assert text_covered_by_ink("no labels", None) == "no labels"


# --------------------------------------------------------------------------- the dataset table


def test_meta_json_reads_back_through_dataset_meta(tmp_path: Path) -> None:
    from scribe.datasets.meta import DatasetMeta

    make_compact_npz(tmp_path / "lines.npz", n_lines=15)
    split_dataset("iam-ondb", tmp_path / "lines.npz", out_dir=tmp_path / "out")
    written = json.loads((tmp_path / "out" / "meta.json").read_text())
    loaded = DatasetMeta.load(tmp_path / "out")
    assert list(loaded.to_json()) == list(written)  # one definition of the keys, in the file's order
    assert {k: v for k, v in loaded.to_json().items() if k not in ("mean", "std")} == {
        k: v for k, v in written.items() if k not in ("mean", "std")
    }
    np.testing.assert_allclose(loaded.mean, written["mean"], rtol=1e-6)
    assert loaded.train_extra == () and loaded.source_format == "iam-ondb-compact"
