"""The table of datasets: every command reads it, and a new dataset is one module and one entry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers.files import make_compact_npz
from scribe import paths
from scribe.datasets.spec import RawSample
from scribe.datasets.split import split_dataset
from scribe.errors import ScribeError


def test_cli_help_lists_every_dataset_in_the_table() -> None:
    from typer.testing import CliRunner

    from scribe.cli import app
    from scribe.cli.core import cli_terms
    from scribe.datasets import DATASETS

    def help_of(command: str) -> str:
        result = CliRunner().invoke(app, [command, "--help"], terminal_width=400)
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    split_help, download_help = help_of("split"), help_of("download-data")
    assert len(DATASETS) >= 2
    for name, spec in DATASETS.items():
        assert name in split_help and name in download_help
        assert spec.accepts in split_help  # --source
        assert all(split in split_help for split, ours in spec.official_splits.items() if ours != "train")  # --train-extra
        assert all(source.filename in download_help for source in spec.sources)
        if spec.registration is not None:
            assert " ".join(cli_terms(spec.registration).split()) in download_help


def test_unknown_dataset_names_the_table(tmp_path: Path) -> None:
    from scribe.datasets import DATASETS, dataset_spec

    assert all(dataset_spec(name) is spec for name, spec in DATASETS.items())
    with pytest.raises(ScribeError, match=r"unknown dataset 'x'; choose one of deepwriting, iam-ondb, unipen$"):
        dataset_spec("x")


def toy_spec(name: str = "toy"):
    """A dataset that only exists in this test: what a new dataset module fills in."""
    from scribe.datasets.spec import DatasetSpec, Found, Loaded, Source

    def detect(path: Path) -> Found | None:
        return Found(path, "toy-txt") if path.suffix == ".toy" else None

    def read(found: Found, progress, simplify_eps: float, options: dict) -> Loaded:
        rng = np.random.default_rng(0)
        samples = []
        for i, line in enumerate(found.path.read_text().splitlines()):
            offsets = np.column_stack([rng.normal(2, 1, 20), rng.normal(0, 1, 20), np.arange(20) % 5 == 4])
            samples.append(RawSample(f"t{i}", line, writer=i, official_split=["a", "b"][i % 2], offsets=offsets))
        return Loaded(samples=samples, preprocessing={"steps": ["none"]})

    return DatasetSpec(
        name=name,
        sources=(Source("https://example.org/toy.zip", "toy.zip"),),
        registration=None,
        official_splits={"a": "train", "b": "test"},
        units="toy units",
        accepts="a .toy file",
        detect=detect,
        read=read,
    )


def test_a_new_dataset_is_one_table_entry(tmp_path: Path, scribe_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scribe.datasets import DATASETS, split_dataset_dir

    monkeypatch.setitem(DATASETS, "toy", toy_spec())
    (tmp_path / "lines.toy").write_text("one line\nanother line\nthird line\n")
    report = split_dataset("toy", tmp_path / "lines.toy")
    assert report.counts == {"train": 1, "val": 1, "test": 1}  # one writer held out: the source has no validation split
    meta = json.loads((paths.dataset_dir("toy") / "meta.json").read_text())
    assert (meta["dataset"], meta["source_format"], meta["units"]) == ("toy", "toy-txt", "toy units")
    assert meta["preprocessing"]["steps"] == ["none"] and meta["split_method"].startswith("official; validation held out")
    with pytest.raises(ScribeError, match=r"holds toy data \(toy-txt\), not iam-ondb; run `scribe split toy`"):
        split_dataset("iam-ondb", tmp_path / "lines.toy", out_dir=tmp_path / "out")
    (tmp_path / "notes.txt").write_text("not a dataset")
    with pytest.raises(ScribeError, match=r"not a recognised dataset file; give .*DeepWriting .*a \.toy file"):
        split_dataset("toy", tmp_path / "notes.txt", out_dir=tmp_path / "out")
    # With no --data, commands take the first split dataset in the table's order.
    assert split_dataset_dir() == paths.dataset_dir("toy")
    make_compact_npz(tmp_path / "iam_ondb_lines.npz", n_lines=15)
    split_dataset("iam-ondb", tmp_path / "iam_ondb_lines.npz")
    assert list(DATASETS)[0] == "iam-ondb" and split_dataset_dir() == paths.dataset_dir("iam-ondb")
