"""The training loop: checkpoints, exact resume, non-finite losses, distributed training."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.basics import SHARED_DATA, needs_shared_data, tiny_options
from scribe.errors import ScribeError
from scribe.ink.alphabet import Alphabet
from scribe.training.checkpoint import load_model, read_checkpoint
from scribe.training.data import collate
from scribe.training.kinds import TRAINING
from scribe.training.options import TrainOptions
from scribe.training.trainer import TrainEvent, train


def _step(path: Path) -> int:
    training = read_checkpoint(path).training
    assert training is not None
    return int(training["state"]["step"])


def test_training_writes_checkpoints_and_a_metrics_log(tiny_dataset: Path, tmp_path: Path) -> None:
    events: list[TrainEvent] = []
    state = train(tiny_options(tiny_dataset, tmp_path / "run", max_steps=8), events.append)
    assert state.step == 8
    reads = [(e.message, e.step, e.total_steps) for e in events if e.kind == "read"]
    files = {split: len(list((tiny_dataset / split).glob("*.npz"))) for split in ("train", "val")}
    assert reads == [(f"{tiny_dataset.name} {split}", n, n) for split, n in files.items()]  # each read once, then done
    assert [e.kind for e in events].index("start") > len(reads) - 1  # reading comes before training
    best, last = read_checkpoint(tmp_path / "run" / "best.pth"), read_checkpoint(tmp_path / "run" / "last.pth")
    assert best.training is None and last.training is not None and last.training["state"]["step"] == 8
    texts = "hello world a quick fox jumps over the lazy dog pack my box with five dozen jugs liquor"
    assert last.model.alphabet == "".join(sorted(set(texts)))
    log = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert sum('"event": "train"' in line for line in log) == 8
    assert sum('"event": "eval"' in line for line in log) >= 2
    stored, network = load_model(tmp_path / "run" / "best.pth")
    assert stored.config.hidden == 16 and stored.step == 8 and not network.training


@pytest.mark.parametrize("kind", ["graves", "vae", "recognizer"])
def test_interrupted_seeded_run_ends_with_the_same_weights(kind: str, tiny_dataset: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    train(tiny_options(tiny_dataset, whole, kind=kind, max_steps=9, seed=5))
    parts = tmp_path / "parts"
    train(tiny_options(tiny_dataset, parts, kind=kind, max_steps=5, seed=5))
    assert _step(parts / "last.pth") == 5
    with open(parts / "metrics.jsonl", "a") as log:  # as if killed at step 6, after the last checkpoint
        log.write(json.dumps({"event": "train", "step": 6, "loss": 0.0}) + "\n")
    state = train(tiny_options(tiny_dataset, parts, kind=kind, max_steps=9, seed=5, resume=True))
    assert state.step == 9
    steps = [json.loads(line)["step"] for line in (parts / "metrics.jsonl").read_text().splitlines() if '"train"' in line]
    assert steps == list(range(1, 10))
    a = read_checkpoint(whole / "last.pth").model.weights
    b = read_checkpoint(parts / "last.pth").model.weights
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_graves_learns_one_style_per_training_writer_and_can_start_from_other_weights(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    train(tiny_options(tiny_dataset, plain, max_steps=4, writer_styles=False))
    train(tiny_options(tiny_dataset, tmp_path / "styled", max_steps=4, init_from=plain / "last.pth"))
    styled = read_checkpoint(tmp_path / "styled" / "last.pth").model
    writers = sorted({int(np.load(p)["writer"]) for p in (tiny_dataset / "train").glob("*.npz")})
    assert styled.style_writers == writers
    assert styled.config.styles == len(writers)
    first_step = [json.loads(line) for line in (tmp_path / "styled" / "metrics.jsonl").read_text().splitlines()][0]
    plain_steps = [json.loads(line) for line in (plain / "metrics.jsonl").read_text().splitlines()]
    assert first_step["loss"] < plain_steps[0]["loss"]  # it starts from the trained weights, not from scratch
    with pytest.raises(ScribeError, match="cannot start from"):
        train(tiny_options(tiny_dataset, tmp_path / "wider", max_steps=1, hidden=17, init_from=plain / "last.pth"))


def test_starting_from_a_styled_model_says_how_many_styles_carried_over(tiny_dataset: Path, tmp_path: Path) -> None:
    train(tiny_options(tiny_dataset, tmp_path / "styled", max_steps=2))
    writers = len(read_checkpoint(tmp_path / "styled" / "last.pth").model.style_writers)
    notes: list[str] = []

    def keep_notes(event: TrainEvent) -> None:
        notes.extend([event.message] if event.kind == "note" else [])

    train(tiny_options(tiny_dataset, tmp_path / "again", max_steps=1, init_from=tmp_path / "styled" / "last.pth"), keep_notes)
    assert notes == [f"{writers} of the {writers} writer styles of last.pth carried over"]
    renamed = tmp_path / "renamed-split"  # the same writers, in a folder of another name: their styles start afresh
    shutil.copytree(tiny_dataset, renamed)
    train(tiny_options(renamed, tmp_path / "other", max_steps=1, init_from=tmp_path / "styled" / "last.pth"), keep_notes)
    assert notes[-1].startswith(f"0 of the {writers} writer styles") and "match by dataset folder name" in notes[-1]


def test_a_vae_can_start_from_a_trained_writer(tiny_dataset: Path, tmp_path: Path) -> None:
    """`scribe train --kind vae --init-from WRITER`: the decoder starts trained, reading z as it read a style."""
    train(tiny_options(tiny_dataset, tmp_path / "writer", max_steps=6))
    started = tmp_path / "started"
    writer = tmp_path / "writer" / "last.pth"
    with pytest.raises(ScribeError, match="set latent_dim = 16 or more"):  # z must have room for the style vector
        train(tiny_options(tiny_dataset, tmp_path / "narrow", kind="vae", max_steps=1, init_from=writer))
    train(tiny_options(tiny_dataset, started, kind="vae", latent_dim=16, max_steps=1, init_from=writer))
    train(tiny_options(tiny_dataset, tmp_path / "fresh", kind="vae", latent_dim=16, max_steps=1))
    first_loss = {name: json.loads((tmp_path / name / "metrics.jsonl").read_text().splitlines()[0])["loss"]
                  for name in ("started", "fresh")}
    assert first_loss["started"] < first_loss["fresh"]
    assert read_checkpoint(started / "last.pth").model.config.kind == "vae"


def test_resume_without_a_checkpoint_is_a_user_error(tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ScribeError, match="cannot resume"):
        train(tiny_options(tiny_dataset, tmp_path / "none", max_steps=1, resume=True))


def test_persistent_non_finite_loss_stops_with_the_last_checkpoint_intact(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    train(tiny_options(tiny_dataset, out, max_steps=4))
    before = read_checkpoint(out / "last.pth")
    graves = TRAINING["graves"]

    def poisoned_loss(*args: object) -> tuple[torch.Tensor, dict[str, float]]:
        loss, figures = graves.loss(*args)  # type: ignore[arg-type]
        return loss * float("nan"), figures

    monkeypatch.setitem(TRAINING, "graves", dataclasses.replace(graves, loss=poisoned_loss))
    events: list[TrainEvent] = []
    with pytest.raises(ScribeError, match="diverged"):
        train(tiny_options(tiny_dataset, out, max_steps=100, resume=True), events.append)
    assert any(e.kind == "skip" for e in events)
    after = read_checkpoint(out / "last.pth")
    assert _step(out / "last.pth") == before.training["state"]["step"] == 4
    for name, weights in before.model.weights.items():
        np.testing.assert_array_equal(after.model.weights[name], weights, err_msg=name)


def test_a_sample_with_nan_is_refused_when_the_data_is_loaded(tiny_dataset: Path, tmp_path: Path) -> None:
    path = sorted((tiny_dataset / "val").glob("*.npz"))[0]
    with np.load(path) as sample:
        fields = dict(sample)
    fields["offsets"][1:, 0] = np.nan
    np.savez(path, **fields)
    with pytest.raises(ScribeError, match=f"sample {path} is not a usable line \\(non-finite values\\)"):
        train(tiny_options(tiny_dataset, tmp_path / "run", max_steps=2))
    assert not (tmp_path / "run" / "best.pth").exists()


def test_a_second_run_into_the_same_folder_needs_resume_or_overwrite(tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny_options(tiny_dataset, out, max_steps=1))
    first = (out / "best.pth").read_bytes()
    with pytest.raises(ScribeError, match="already holds a training run.*`resume`.*`overwrite`"):
        train(tiny_options(tiny_dataset, out, max_steps=1, seed=9))
    assert (out / "best.pth").read_bytes() == first
    train(tiny_options(tiny_dataset, out, max_steps=1, seed=9, overwrite=True))
    log = (out / "metrics.jsonl").read_text().splitlines()
    assert sum('"event": "train"' in line for line in log) == 1  # the old run's log is gone with it


def test_broken_checkpoints_give_one_line_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(ScribeError, match="not a readable scribe checkpoint"):
        read_checkpoint(text)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(ScribeError, match="not a scribe checkpoint"):
        read_checkpoint(tmp_path / "other.pth")
    torch.save({"format_version": 99, "state_dict": {}}, tmp_path / "future.pth")
    with pytest.raises(ScribeError, match="format version 99"):
        read_checkpoint(tmp_path / "future.pth")
    good = tmp_path / "good.pth"
    torch.save({"format_version": 1, "state_dict": {"w": torch.zeros(100)}}, good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ScribeError, match="not a readable scribe checkpoint"):
        read_checkpoint(truncated)


def test_checkpoints_refuse_pickled_code(tmp_path: Path) -> None:
    sentinel = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple:
            return (os.system, (f"touch {sentinel}",))

    evil = tmp_path / "evil.pth"
    torch.save({"format_version": 1, "state_dict": {}, "x": Payload()}, evil)
    with pytest.raises(ScribeError):
        read_checkpoint(evil)
    assert not sentinel.exists()


def test_ddp_with_two_cpu_processes(tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "scribe", "train", "--data", str(tiny_dataset), "--out", str(out), "--max-steps", "3",
        "--batch-size", "2", "--hidden", "16", "--device", "cpu", "--config", str(tmp_path / "tiny.toml"),
    ]
    (tmp_path / "tiny.toml").write_text(
        "layers = 2\nmixtures = 3\nwindow_mixtures = 2\nencoder_dim = 8\nembed_dim = 8\neval_every = 2\n"
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert _step(out / "last.pth") == 3


def test_eval_command_prints_both_metrics_and_json(tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny_options(tiny_dataset, out, kind="vae", max_steps=2))
    common = [sys.executable, "-m", "scribe", "eval", "--model", str(out / "best.pth"), "--data", str(tiny_dataset)]
    text = subprocess.run(common + ["--per-batch", "--batch-size", "1"], capture_output=True, text=True, timeout=120)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.strip().splitlines()
    assert len(lines) == 3  # two validation lines, one batch each, then the total
    assert all("pen-lift accuracy" in line and "nats per sequence" in line and "kl" in line for line in lines)
    as_json = subprocess.run(common + ["--json"], capture_output=True, text=True, timeout=120)
    figures = json.loads(as_json.stdout)
    assert 0 <= figures["pen_lift_accuracy"] <= 100 and figures["nll"] > 0 and figures["kl"] >= 0
    assert figures["sequences"] == 2
    exported = subprocess.run(
        [sys.executable, "-m", "scribe", "export", str(out / "best.pth"), str(tmp_path / "vae.npz")],
        capture_output=True,
        text=True,
    )
    assert exported.returncode == 0, exported.stderr
    common[common.index("--model") + 1] = str(tmp_path / "vae.npz")
    from_model_file = json.loads(subprocess.run(common + ["--json"], capture_output=True, text=True, timeout=120).stdout)
    assert from_model_file["nll"] == pytest.approx(figures["nll"], rel=1e-2)  # float16 weights, same model


def test_eval_command_rejects_a_file_that_is_not_a_checkpoint(tiny_dataset: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "model.pth"
    bogus.write_bytes(b"\x00" * 64)
    result = subprocess.run(
        [sys.executable, "-m", "scribe", "eval", "--model", str(bogus), "--data", str(tiny_dataset)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


@needs_shared_data
def test_real_data_smoke(tmp_path: Path) -> None:
    """Split the 100-line IAM-OnDB sample, train a few steps of both models, evaluate."""
    from scribe.datasets.split import split_dataset
    from scribe.training.data import StrokeDataset
    from scribe.training.evaluation import evaluate

    with np.load(SHARED_DATA / "iam_ondb_lines_sample100.npz") as sample:
        arrays = dict(sample)
    arrays["split"] = np.full_like(arrays["split"], "")  # all 100 are official 'train': split by writer instead
    np.savez(tmp_path / "lines.npz", **arrays)
    data = tmp_path / "iam"
    report = split_dataset("iam-ondb", tmp_path / "lines.npz", out_dir=data, seed=0)
    assert report.counts["train"] > 50 and report.counts["val"] > 0
    for kind in ("graves", "vae"):
        options = tiny_options(data, tmp_path / kind, kind=kind, max_steps=3, batch_size=4, eval_every=3, eval_batches=1)
        assert train(options).step == 3
        _, network = load_model(tmp_path / kind / "best.pth")
        result = evaluate(network, StrokeDataset(data, "val"), max_batches=1)
        assert result.sequences > 0 and torch.isfinite(torch.tensor(result.nll))


@needs_shared_data
def test_window_reads_real_lines_at_the_writing_pace(tmp_path: Path) -> None:
    """A short real-data training: the window must move through the text as the pen moves along the line.

    NLL falls even when the window is ignored; the alignment error (window focus vs
    pen progress, as fractions of the line) tells a window that reads the text at
    the writing's pace (about 0.07 here) from one that lags (~0.37) or races ahead.
    """
    from scribe.datasets.split import split_dataset
    from scribe.training.data import StrokeDataset
    from scribe.training.evaluation import evaluate

    with np.load(SHARED_DATA / "iam_ondb_lines_sample100.npz") as sample:
        arrays = dict(sample)
    arrays["split"] = np.full_like(arrays["split"], "")
    np.savez(tmp_path / "lines.npz", **arrays)
    data = tmp_path / "iam"
    report = split_dataset("iam-ondb", tmp_path / "lines.npz", out_dir=data, seed=0, simplify_eps=8.0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic, so the same result, on any machine
    architecture = dict(hidden=64, layers=2, mixtures=5, window_mixtures=3, encoder_dim=32, embed_dim=16)
    options = TrainOptions(
        data_dir=data, out_dir=tmp_path / "run", architecture={**architecture, "kappa_scale": report.points_per_char},
        batch_size=8, lr=3e-3, lr_warmup=10, max_steps=150, eval_every=150, seed=0,
    )
    try:
        train(options)
    finally:
        torch.set_num_threads(threads)
    stored, network = load_model(tmp_path / "run" / "best.pth")
    val = StrokeDataset(data, "val", alphabet=Alphabet(stored.alphabet), stats=(stored.mean, stored.std))
    result = evaluate(network, val)
    assert result.alignment_error < 0.15, result
    batch = collate([val[i] for i in range(len(val))])
    with torch.no_grad():
        out = network(batch.offsets, batch.offsets_mask, batch.text_ids, batch.text_mask).decoder
    lines = torch.arange(len(batch.texts))
    last = batch.offsets_mask[:, 1:].sum(dim=1) - 1
    characters = batch.text_mask.sum(dim=1).float() - 1
    focus_at = lambda step: (out.phi[lines, step].argmax(dim=-1).float() / characters).median().item()  # noqa: E731
    quarter, half, end = focus_at(last // 4), focus_at(last // 2), focus_at(last)
    assert quarter < half < end, (quarter, half, end)  # it moves forward through the text ...
    assert 0.1 < quarter < 0.45 and 0.5 < end < 1.3, (quarter, end)  # ... neither stuck nor racing to the end


def test_a_planted_link_in_the_run_folder_is_refused(tiny_dataset: Path, tmp_path: Path) -> None:
    """A link named like a run file would make training (or its resume) write wherever it points."""
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").symlink_to(target)
    for resume in (False, True):
        with pytest.raises(ScribeError, match=r"metrics\.jsonl is a link; a run writes only its own files"):
            train(tiny_options(tiny_dataset, run, max_steps=2, resume=resume))
    assert target.read_text() == "keep me"
