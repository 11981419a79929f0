"""Training on several split datasets: one alphabet, the reference's statistics, a mix, styles per dataset."""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers.basics import tiny_options, write_split_dataset
from scribe.cli import main
from scribe.errors import ScribeError
from scribe.training.checkpoint import read_checkpoint
from scribe.training.data import BucketBatchSampler, MixedBatchSampler, StyleTable
from scribe.training.evaluation import EvalResult, RecognitionResult, combine
from scribe.training.options import resolve_options
from scribe.training.sources import epoch_draws, mixed_points_per_char, parse_mix, union_alphabet
from scribe.training.trainer import Trainer, train

LOWER = {"train": ["hello world", "a quick fox", "jumps", "over the lazy dog", "pack my box", "with five"],
         "val": ["dozen jugs", "liquor"]}
MIXED = {"train": ["Call 911", "Room 42B", "Zip 10027", "Quiz 7"], "val": ["Box 3", "Jazz 8"]}
MIX = ["--data", "lower", "--data", "mixed", "--mix"]
TINY = ["--hidden", "16", "--batch-size", "2", "--device", "cpu"]


def _dataset(root: Path, texts: dict[str, list[str]], name: str, seed: int, pace: float) -> Path:
    """A tiny split dataset whose meta.json names it ``name``; writer ids 100, 101, ... as in every such dataset."""
    write_split_dataset(root, texts, seed=seed)
    meta = json.loads((root / "meta.json").read_text())
    thinned = {**meta.get("preprocessing", {}), "simplify": {"eps": pace / 3}}  # so that each records its own
    (root / "meta.json").write_text(json.dumps({**meta, "dataset": name, "points_per_char": pace, "preprocessing": thinned}))
    return root


@pytest.fixture
def two_datasets(scribe_home: Path) -> tuple[Path, Path]:
    """``lower`` (the reference) and ``mixed`` in $SCRIBE_HOME/datasets: other alphabets and statistics, the same writer ids."""
    root = scribe_home / "datasets"
    return (_dataset(root / "lower", LOWER, "lower-ink", seed=0, pace=9.0),
            _dataset(root / "mixed", MIXED, "mixed-ink", seed=1, pace=14.0))


def _meta(folder: Path) -> dict:
    return json.loads((folder / "meta.json").read_text())


def _scribe(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """Run the ``scribe`` command in this process; its exit status and stderr."""
    monkeypatch.setattr(sys, "argv", ["scribe", *args])
    try:
        main()
        status = 0
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    return status, capsys.readouterr().err


def test_two_datasets_train_with_one_alphabet_the_reference_statistics_and_styles_per_dataset(
    two_datasets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lower, mixed = two_datasets
    out = tmp_path / "run"
    preset = tmp_path / "tiny.toml"
    preset.write_text("layers = 2\nmixtures = 3\nwindow_mixtures = 2\nencoder_dim = 8\nembed_dim = 8\neval_every = 2\n")
    status, err = _scribe(capsys, monkeypatch, "train", "--data", "lower", "--data", "mixed", "--mix", "lower=3,mixed-ink=1",
                          "--out", str(out), "--max-steps", "3", "--config", str(preset), *TINY)
    assert status == 0, err
    model = read_checkpoint(out / "last.pth").model
    assert model.alphabet == "".join(sorted(set(_meta(lower)["alphabet"]) | set(_meta(mixed)["alphabet"])))
    np.testing.assert_allclose(model.mean, _meta(lower)["mean"], rtol=1e-6)
    np.testing.assert_allclose(model.std, _meta(lower)["std"], rtol=1e-6)
    assert model.datasets == {"lower": 0.75, "mixed": 0.25}
    assert model.points_per_char == 9.0  # the weighted median: the reference makes 3/4 of the draws
    assert model.simplified_at == _meta(lower)["preprocessing"]["simplify"]["eps"]  # the reference's, which readers thin to
    writers = list(range(100, 106)) + list(range(100, 104))  # the same ids in both datasets, styles of their own
    assert model.style_writers == writers and model.style_datasets == ["lower"] * 6 + ["mixed"] * 4
    assert model.config.styles == 10
    evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert evals and all(set(e["datasets"]) == {"lower", "mixed"} for e in evals)
    last = evals[-1]
    assert last["sequences"] == 4 and all(last["datasets"][name]["sequences"] == 2 for name in ("lower", "mixed"))
    parts = [last["datasets"][name]["alignment_error"] for name in ("lower", "mixed")]
    assert last["alignment_error"] == pytest.approx(sum(parts) / 2)  # two lines each: the plain mean
    best = read_checkpoint(out / "best.pth").training
    assert best is None
    state = read_checkpoint(out / "last.pth").training
    assert state is not None and state["state"]["best_val"] == min(e["datasets"]["lower"]["nll"] for e in evals)
    eval_line = next(line for line in err.splitlines() if "alignment error" in line)
    assert f"(lower {parts[0]:.3f}, mixed {parts[1]:.3f})" in eval_line
    assert "best validation nll" in err and "on lower" in err


def test_a_resumed_two_dataset_run_ends_with_the_same_weights(two_datasets: tuple[Path, Path], tmp_path: Path) -> None:
    data = list(two_datasets)
    common = dict(mix={"lower": 0.3, "mixed": 0.7}, seed=3)  # the smaller dataset is drawn more than its size
    train(tiny_options(data, tmp_path / "whole", max_steps=7, **common))  # type: ignore[arg-type]
    parts = tmp_path / "parts"
    train(tiny_options(data, parts, max_steps=3, **common))  # type: ignore[arg-type]
    assert train(tiny_options(data, parts, max_steps=7, resume=True, **common)).step == 7  # type: ignore[arg-type]
    a, b = (read_checkpoint(run / "last.pth").model.weights for run in (tmp_path / "whole", parts))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    with pytest.raises(ScribeError, match="cannot resume .* trained on lower 0.30, mixed 0.70, this run is on lower 0.50"):
        train(tiny_options(data, parts, max_steps=9, resume=True, mix={"lower": 1, "mixed": 1}))


@pytest.mark.parametrize("kind", ["graves", "recognizer"])
def test_a_run_on_more_data_starts_from_a_model_with_a_smaller_alphabet(
    kind: str, two_datasets: tuple[Path, Path], tmp_path: Path
) -> None:
    lower, mixed = two_datasets
    train(tiny_options(lower, tmp_path / "small", kind=kind, max_steps=2))
    small = read_checkpoint(tmp_path / "small" / "last.pth").model
    start = tmp_path / "small" / "last.pth"
    trainer = Trainer(tiny_options([lower, mixed], tmp_path / "grown", kind=kind, init_from=start), print)
    grown = SimpleNamespace(alphabet=trainer.alphabet.characters,
                            weights={k: v.numpy() for k, v in trainer.model.state_dict().items()})
    assert len(grown.alphabet) > len(small.alphabet)
    name = "text_encoder.embedding.weight" if kind == "graves" else "output.weight"
    for i, character in enumerate(small.alphabet):  # each character keeps its trained row at its new place
        np.testing.assert_array_equal(grown.weights[name][grown.alphabet.index(character) + 2], small.weights[name][i + 2])
    np.testing.assert_array_equal(grown.weights[name][:2], small.weights[name][:2])  # padding / blank and end of text
    if kind == "graves":  # the reference's writers keep their styles; the other dataset's (same ids) start afresh
        styles = grown.weights["style_embedding.weight"]
        np.testing.assert_array_equal(styles[: len(small.style_writers) + 1], small.weights["style_embedding.weight"])
        assert not np.allclose(styles[len(small.style_writers) + 1], small.weights["style_embedding.weight"][1])
    with pytest.raises(ScribeError, match="cannot start from .* it is a"):
        other = "recognizer" if kind == "graves" else "graves"
        Trainer(tiny_options([lower, mixed], tmp_path / "other", kind=other, init_from=start), print)


def test_the_mix_decides_how_often_each_dataset_is_drawn_and_batches_stay_bucketed() -> None:
    rng = random.Random(0)
    sizes = [50, 150]
    lengths = [rng.randrange(20, 400) for _ in range(sum(sizes))]
    draws = epoch_draws(sizes, [0.8, 0.2])
    assert draws == [160, 40]
    sampler = MixedBatchSampler(lengths, 8, sizes, draws, seed=4, pool_batches=5)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        drawn = [i for batch in sampler for i in batch]
        assert len(drawn) == sum(sizes) and len(list(sampler)) == len(sampler)
        share = sum(i < sizes[0] for i in drawn) / len(drawn)
        assert share == pytest.approx(0.8, abs=0.02)
        times = Counter(drawn)
        assert all(times[i] in (3, 4) for i in range(sizes[0]))  # 160 draws of 50 lines: 3 each, 10 once more
        assert all(times[i] <= 1 for i in range(sizes[0], sum(sizes)))  # 40 of 150: no line twice
        spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in sampler])
        assert spread < 0.25 * (max(lengths) - min(lengths))  # lines of similar length batched together
    again = MixedBatchSampler(lengths, 8, sizes, draws, seed=4, pool_batches=5)
    again.set_epoch(1)
    assert list(again) == list(sampler)  # the seed and the epoch decide everything
    plain = MixedBatchSampler(lengths, 8, sizes, epoch_draws(sizes, None), seed=4)
    assert list(plain) == list(BucketBatchSampler(lengths, 8, seed=4))  # no mix: exactly the plain concatenation


def test_the_pieces_of_a_mix() -> None:
    assert parse_mix("a=0.7, b=0.3") == {"a": 0.7, "b": 0.3} and parse_mix({"a": 2}) == {"a": 2.0}
    assert epoch_draws([3, 7], [0.5, 0.5]) == [5, 5] and epoch_draws([3, 4], [1 / 3, 2 / 3]) == [2, 5]
    assert union_alphabet(["ab", "ab"]) == "ab" and union_alphabet(["b a", "aZ"]) == " Zab"
    assert mixed_points_per_char([9.0, 14.0], [0.4, 0.6]) == 14.0 and mixed_points_per_char([None, None], [1, 1]) is None
    styles = StyleTable([("a", 7), ("b", 7)], ["a", "b"])
    ids = styles.indices(torch.tensor([7, 7, -1, 8]), torch.tensor([0, 1, 1, 0]))
    assert ids.tolist() == [1, 2, 0, 0]  # the same writer id in two datasets: two styles; unknown: any writer


def test_datasets_figures_combine_as_if_evaluated_together() -> None:
    one = EvalResult(nll=100.0, nll_per_point=2.0, pen_lift_accuracy=90.0, alignment_error=0.1, sequences=1, points=50)
    three = EvalResult(nll=20.0, nll_per_point=1.0, pen_lift_accuracy=80.0, alignment_error=0.3, sequences=3, points=60)
    both = combine([one, three])
    assert isinstance(both, EvalResult) and (both.sequences, both.points) == (4, 110)
    assert both.nll == pytest.approx(40.0) and both.nll_per_point == pytest.approx(160 / 110)
    assert both.pen_lift_accuracy == pytest.approx((90 * 50 + 80 * 60) / 110) and both.alignment_error == pytest.approx(0.25)
    assert combine([one]) is one
    read = combine([RecognitionResult(10.0, 50.0, 1.0, 2, characters=100, words=10),
                    RecognitionResult(40.0, 20.0, 2.0, 1, characters=50, words=40)])
    assert isinstance(read, RecognitionResult) and read.sequences == 3
    assert (read.cer, read.wer, read.ctc_per_char) == pytest.approx((20.0, 26.0, 4 / 3))
    assert "characters" not in read.to_dict()


def test_a_preset_lists_the_datasets_and_their_mix(two_datasets: tuple[Path, Path], tmp_path: Path) -> None:
    preset = tmp_path / "preset.toml"
    preset.write_text('data = ["lower", "mixed"]\nmix = {lower = 0.7, mixed = 0.3}\n')
    options = resolve_options(preset, {}, lambda: tmp_path)
    assert options.data_dir == list(two_datasets) and options.mix == {"lower": 0.7, "mixed": 0.3}
    preset.write_text('data = "lower"\nmix = "lower=1"\n')
    assert resolve_options(preset, {}, lambda: tmp_path).data_dir == [two_datasets[0]]
    preset.write_text('data = "lower"\ndata_dir = "mixed"\n')
    with pytest.raises(ScribeError, match="both data and data_dir"):
        resolve_options(preset, {}, lambda: tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "lower", "--data", "nosuch"], "unknown dataset 'nosuch'.*lower, mixed"),
        ([*MIX, "lower=1,unipen=1"], "--mix names 'unipen', which is none of the --data"),
        ([*MIX, "lower=1"], "--mix gives no weight to mixed"),
        ([*MIX, "lower=0,mixed=1"], "weight of lower must be a number above 0, not 0.0"),
        ([*MIX, "lower=-1,mixed=1"], "weight of lower must be a number above 0"),
        ([*MIX, "lower=nan,mixed=1"], "weight of lower must be a number above 0, not nan"),
        ([*MIX, "lower=lots,mixed=1"], "weight of lower must be a number above 0, not 'lots'"),
        ([*MIX, "lower"], "--mix 'lower' is not NAME=WEIGHT"),
        (["--data", "lower", "--data", "{home}/datasets/lower"], "--data gives the dataset .* twice"),
        (["--data", "lower", "--data", "{tmp}/unsplit"], "meta.json not found: .*unsplit is not a split dataset"),
    ],
)
def test_each_bad_input_is_one_error_line(
    args: list[str], message: str, two_datasets: tuple[Path, Path], scribe_home: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "unsplit" / "raw").mkdir(parents=True)
    args = [arg.format(home=scribe_home, tmp=tmp_path) for arg in args]
    status, err = _scribe(capsys, monkeypatch, "train", *args, "--out", str(tmp_path / "run"), "--max-steps", "1", *TINY)
    assert status == 1
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert re.search(message, err), err
    assert not (tmp_path / "run" / "last.pth").exists()


def test_eval_reads_any_training_dataset_by_name_with_the_models_alphabet(
    two_datasets: tuple[Path, Path], scribe_home: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    train(tiny_options(list(two_datasets), tmp_path / "run", max_steps=1))
    best = str(tmp_path / "run" / "best.pth")
    status, err = _scribe(capsys, monkeypatch, "eval", "--model", best, "--data", "mixed", "--json", "--device", "cpu")
    assert status == 0, err
    _dataset(scribe_home / "datasets" / "other", {"train": ["x"], "val": ["?!"]}, "other", seed=2, pace=5.0)
    status, err = _scribe(capsys, monkeypatch, "eval", "--model", best, "--data", "other", "--device", "cpu")
    assert status == 1 and err.startswith("error: characters '!?' are not in the model's alphabet"), err
