"""The adversarial sweep, kept: hostile destinations, absurd numbers, inputs that would be overwritten, signals.

Every case runs the real command (or the API) and checks the three promises: one
``error:`` line with exit status 1 (no traceback, no Python warning), nothing of the
user's replaced or deleted, and nothing half-written.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.basics import tiny_model_file, tiny_options, write_split_dataset
from helpers.cli import assert_one_line_error, ctrl_c_reaches_it, scribe
from helpers.server import Server
from scribe.atomic import atomic_write
from scribe.errors import ScribeError
from scribe.writing.document import Document, Scribe
from scribe.writing.formats import written_by_scribe
from scribe.writing.layout import PageSetup

LONG_TEXT = "the lazy dog jumps over a quick brown fox and back again\n" * 12


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_file(tmp_path_factory.mktemp("model") / "tiny.npz")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--bias", "nan"], "--bias nan"),
        (["--bias", "inf"], "--bias inf"),
        (["--temperature", "nan"], "--temperature nan"),
        (["--temperature", "-1"], "--temperature -1"),
        (["--temperature", "0"], "--temperature 0"),
        (["--seed", "-1"], "--seed"),
        (["--dpi", "3000"], "dpi is out of range"),
        (["--dpi", "0.0001"], "dpi is out of range"),
        (["--page", "100000x100000"], "out of range"),
        (["--x-height", "1e-9"], "x-height"),
        (["--style-text", "hi"], "give --style-file too"),
    ],
)
def test_absurd_numbers_are_refused_before_any_ink(options: list[str], fragment: str, model: Path, tmp_path: Path) -> None:
    result = scribe("write", "hello", "-o", str(tmp_path / "out.png"), "--model", str(model), *options)
    assert_one_line_error(result, fragment)
    assert list(tmp_path.iterdir()) == []


def test_the_input_is_never_the_output(model: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.svg"
    notes.write_text("hello there")
    result = scribe("write", "--input", str(notes), "-o", str(notes), "--format", "svg", "--model", str(model))
    assert_one_line_error(result, "would overwrite")
    assert notes.read_text() == "hello there"
    page_two = tmp_path / "letter-2.svg"  # would be overwritten by the second page of letter.svg
    page_two.write_text("mine")
    result = scribe("write", "--input", str(page_two), "-o", str(tmp_path / "letter.svg"), "--model", str(model))
    assert_one_line_error(result, "would overwrite")
    assert page_two.read_text() == "mine"


@pytest.mark.parametrize("destination", ["folder", "folder/", "missing/out.svg"])
def test_a_destination_that_cannot_take_a_file_is_refused_before_the_work(
    destination: str, model: Path, tmp_path: Path
) -> None:
    (tmp_path / "folder").mkdir()
    result = scribe("write", "hello", "-o", str(tmp_path / destination), "--model", str(model), "--format", "svg")
    assert_one_line_error(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"] and not any((tmp_path / "folder").iterdir())


def test_a_fifo_is_written_into_not_replaced(model: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.svg"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = scribe("write", "hello", "-o", str(fifo), "--model", str(model))
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and received[0].startswith(b"<?xml")


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_a_device_node_is_written_into_not_replaced(model: Path, tmp_path: Path) -> None:
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    result = scribe("write", "hello", "-o", str(null), "--format", "svg", "--model", str(model))
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.stat().st_mode)


def test_atomic_writes_never_touch_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing the umask, even for a moment, gives other threads' files the wrong permissions."""
    monkeypatch.setattr(os, "umask", lambda mask: pytest.fail("atomic_write changed the process umask"))
    with atomic_write(tmp_path / "new.bin") as handle:
        handle.write(b"x")
    mode = (tmp_path / "new.bin").stat().st_mode & 0o777
    assert mode & 0o600 == 0o600 and not mode & 0o002  # the usual umask applied, not 0600, not world-writable


def test_pages_are_written_as_a_set_and_stale_pages_of_ours_are_removed(model: Path, tmp_path: Path) -> None:
    page = ["--page", "80x60", "--margin", "5", "--model", str(model)]
    result = scribe("write", LONG_TEXT, "-o", str(tmp_path / "notes.svg"), *page)
    assert result.returncode == 0, result.stderr
    long_run = sorted(p.name for p in tmp_path.iterdir())
    assert len(long_run) >= 4 and all(written_by_scribe(tmp_path / name) for name in long_run)
    foreign = tmp_path / f"notes-{len(long_run) + 1}.svg"
    foreign.write_text("a page the user made, numbered like ours")
    result = scribe("write", LONG_TEXT[:100], "-o", str(tmp_path / "notes.svg"), *page)
    assert result.returncode == 0, result.stderr
    written = [line.removeprefix("wrote ") for line in result.stderr.splitlines() if line.startswith("wrote ")]
    assert 1 < len(written) < len(long_run)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([Path(w).name for w in written] + [foreign.name])
    assert foreign.read_text() == "a page the user made, numbered like ours"


def test_a_failure_half_way_through_the_pages_leaves_no_page(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scribe.writing import formats

    document = Scribe(model).write(LONG_TEXT, setup=PageSetup(size=(80.0, 60.0), margin=5.0))
    assert len(document.pages) > 1
    calls = []

    def failing(page: object, setup: object, dpi: float = 150) -> bytes:
        calls.append(page)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return b"\x89PNG"

    monkeypatch.setattr(formats, "page_png", failing)
    with pytest.raises(OSError):
        document.save(tmp_path / "pages.png")
    assert list(tmp_path.iterdir()) == []


def test_endless_input_is_refused(model: Path, tmp_path: Path) -> None:
    result = scribe("write", "--input", "/dev/zero", "-o", str(tmp_path / "x.svg"), "--model", str(model), timeout=60)
    assert_one_line_error(result, "/dev/zero", "write it in parts")


def test_split_refuses_folders_it_did_not_write(tmp_path: Path) -> None:
    from scribe.datasets.split import split_dataset

    project = tmp_path / "myproject"
    (project / "train").mkdir(parents=True)
    (project / "train" / "precious.txt").write_text("my work")
    source = write_split_dataset(tmp_path / "unused", {"train": ["x"]})  # any file: refused before it is read
    with pytest.raises(ScribeError, match="scribe did not write.*`force`"):
        split_dataset("iam-ondb", source, out_dir=project)
    assert (project / "train" / "precious.txt").read_text() == "my work"


def test_ctrl_c_during_writing_says_interrupted_and_leaves_nothing(tmp_path: Path) -> None:
    process = subprocess.Popen(  # the shipped model: a page of it takes seconds
        [sys.executable, "-m", "scribe", "write", LONG_TEXT * 10, "-o", str(tmp_path / "x.svg")],
        stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_reaches_it,
    )
    time.sleep(2.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_training_saves_the_exact_position(tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "scribe", "train", "--data", str(tiny_dataset), "--out", str(out),
               "--max-steps", "5000", "--batch-size", "2", "--hidden", "8", "--layers", "1", "--device", "cpu"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                               preexec_fn=ctrl_c_reaches_it)
    log = out / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not log.is_file() or log.read_text().count('"train"') < 3):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err
    from scribe.training.checkpoint import read_checkpoint

    training = read_checkpoint(out / "last.pth").training
    assert training is not None
    logged = [line for line in log.read_text().splitlines() if '"train"' in line]
    assert training["state"]["step"] == len(logged) >= 3  # nothing trained after the save, nothing lost before it


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.write(None), "`text` must be a string"),
        (lambda s: s.write(b"hello"), "`text` must be a string"),
        (lambda s: s.write("hi", seed=1.5), "`seed` must be a whole number"),
        (lambda s: s.write("hi", style="1"), "`style` must be the number"),
        (lambda s: s.write("hi", attempts=0), "`attempts` must be a whole number"),
        (lambda s: s.write("hi", bias=float("nan")), "`bias`"),
        (lambda s: s.write("hi").to_bytes("tiff"), "unknown output format"),
        (lambda s: s.write("hi", setup=PageSetup(margin="x")), "`margin` must be a number of mm, not 'x'"),
        (lambda s: s.write("hi", setup=PageSetup(size=None)), r"`size` must be \(width, height\)"),
        (lambda s: s.write("hi", setup=PageSetup(ink=3)), "`ink` must be a string"),
        (lambda s: s.write("hi").to_bytes("png", dpi="x"), "`dpi` must be a number, not 'x'"),
        (lambda s: Document([], PageSetup(), []), "a Document needs a list of one or more Page objects"),
        (lambda s: Document(None, PageSetup(), []), "a Document needs a list of one or more Page objects"),  # type: ignore[arg-type]
        (lambda s: Document(s.write("hi").pages, None, []), "a Document's `setup` must be a PageSetup"),  # type: ignore[arg-type]
    ],
)
def test_bad_api_calls_are_scribe_errors_in_api_terms(call: object, message: str, model: Path) -> None:
    with pytest.raises(ScribeError, match=message):
        call(Scribe(model))  # type: ignore[operator]


def test_training_settings_are_checked_before_training(tiny_dataset: Path, tmp_path: Path) -> None:
    for bad in (dict(batch_size=0), dict(hidden=-5), dict(lr=float("nan")), dict(eval_every=0), dict(eval_every="x")):
        with pytest.raises(ScribeError, match=f"`{next(iter(bad))}` must be"):
            tiny_options(tiny_dataset, tmp_path / "run", **bad)
    assert not (tmp_path / "run").exists()
    result = scribe("train", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"), "--batch-size", "0")
    assert_one_line_error(result, "--batch-size must be a whole number at least 1 and at most 65,536, not 0")


def test_utf16_input_is_named_as_such(model: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes("hello there".encode("utf-16"))
    result = scribe("write", "--input", str(notes), "-o", str(tmp_path / "x.svg"), "--model", str(model))
    assert_one_line_error(result, "UTF-16", "iconv -f utf-16")


def test_a_model_with_nan_weights_is_refused(model: Path, tmp_path: Path) -> None:
    from scribe.writing.stored import StoredModel

    stored = StoredModel.load(model)
    stored.weights[next(iter(stored.weights))][0] = np.nan
    stored.save(tmp_path / "diverged.npz")
    result = scribe("write", "hello", "-o", str(tmp_path / "x.svg"), "--model", str(tmp_path / "diverged.npz"))
    assert_one_line_error(result, "NaN or infinite weights", "diverged")


def test_damaged_files_never_suggest_unpickling(tmp_path: Path) -> None:
    from scribe.writing.stored import StoredModel

    evil = tmp_path / "model.npz"
    np.savez(evil, meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ScribeError) as caught:
        StoredModel.load(evil)
    message = str(caught.value)
    assert "allow_pickle" not in message and "trust" not in message and "unsafely" not in message


def test_resume_from_a_best_checkpoint_or_after_a_torn_log(tiny_dataset: Path, tmp_path: Path) -> None:
    from scribe.training.trainer import train

    out = tmp_path / "run"
    train(tiny_options(tiny_dataset, out, max_steps=2))
    with open(out / "metrics.jsonl", "a") as log:
        log.write('{"event": "train", "st')  # the line a crash cut
    assert train(tiny_options(tiny_dataset, out, max_steps=3, resume=True)).step == 3
    (out / "last.pth").write_bytes((out / "best.pth").read_bytes())
    with pytest.raises(ScribeError, match="no training state"):
        train(tiny_options(tiny_dataset, out, max_steps=4, resume=True))


def test_export_names_the_styles_that_do_not_exist(tiny_dataset: Path, tmp_path: Path) -> None:
    from scribe.training.trainer import train

    train(tiny_options(tiny_dataset, tmp_path / "run", max_steps=1))
    result = scribe("export", str(tmp_path / "run" / "best.pth"), str(tmp_path / "m.npz"), "--styles", "0,99")
    assert_one_line_error(result, "--styles [99]")
    assert not (tmp_path / "m.npz").exists()


def test_a_source_without_validation_lines_gets_a_writer_disjoint_one(tmp_path: Path) -> None:
    from helpers.files import make_compact_npz
    from scribe.datasets.split import split_dataset

    arrays = make_compact_npz(tmp_path / "lines.npz", n_lines=24)
    arrays["split"] = np.full_like(arrays["split"], "train")  # a sample of the dataset: official "train" only
    np.savez(tmp_path / "lines.npz", **arrays)
    report = split_dataset("iam-ondb", tmp_path / "lines.npz", out_dir=tmp_path / "out")
    assert report.counts["val"] > 0 and report.notes and "held out" in report.notes[0]


def test_a_closed_stdout_and_a_checkpoint_without_a_kind_are_one_line_errors(model: Path, tmp_path: Path) -> None:
    import torch

    closed = subprocess.run(
        [sys.executable, "-m", "scribe", "write", "hello", "-o", "-", "--model", str(model)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
        preexec_fn=lambda: os.close(1),
    )
    assert closed.returncode == 1 and closed.stderr.strip() == "error: standard output is closed; give -o FILE instead"
    torch.save({"format_version": 1, "state_dict": {}}, tmp_path / "nokind.pth")
    result = scribe("write", "hi", "-o", str(tmp_path / "x.svg"), "--model", str(tmp_path / "nokind.pth"))
    assert_one_line_error(result, "damaged scribe model", "lacks kind")


def test_a_download_killed_half_way_resumes_where_it_stopped(server: Server, scribe_home: Path, tmp_path: Path) -> None:
    import hashlib
    import io
    import zipfile

    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as archive:  # stored, random: the .part grows byte for byte
        for name in ("data/deepwriting_training.npz", "data/deepwriting_validation.npz"):
            archive.writestr(name, np.random.default_rng(len(name)).bytes(400_000))
    body = payload.getvalue()
    url = server.add("/deepwriting_dataset.zip", body, behaviour="stall")  # half the file, then silence
    command = [sys.executable, "-m", "scribe", "download-data", "deepwriting", "--url", url]
    environment = {**os.environ, "SCRIBE_HOME": str(scribe_home)}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env=environment)
    part = scribe_home / "datasets" / "deepwriting" / "downloads" / "deepwriting_dataset.zip.part"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not part.is_file() or part.stat().st_size < len(body) // 2):
        time.sleep(0.05)
    process.kill()  # SIGKILL: no chance to clean up
    process.communicate(timeout=30)
    kept = part.stat().st_size
    assert kept == len(body) // 2
    server.routes["/deepwriting_dataset.zip"].behaviour = "normal"
    again = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)
    assert again.returncode == 0, again.stderr
    assert server.ranges("/deepwriting_dataset.zip")[-1] == f"bytes={kept}-"
    done = part.with_name("deepwriting_dataset.zip")
    assert hashlib.sha256(done.read_bytes()).hexdigest() == hashlib.sha256(body).hexdigest() and not part.exists()


def test_what_a_killed_write_left_is_removed_by_the_next_write(tmp_path: Path) -> None:
    from scribe.atomic import TEMP_SUFFIX

    leftover = tmp_path / f".last.pth.0a1b2c3d{TEMP_SUFFIX}"  # a checkpoint save killed half-way
    leftover.write_bytes(b"half a checkpoint")
    unrelated = tmp_path / f".best.pth.0a1b2c3d{TEMP_SUFFIX}"  # another file's: not this write's business
    unrelated.write_bytes(b"x")
    with atomic_write(tmp_path / "last.pth") as handle:
        handle.write(b"whole")
    assert not leftover.exists() and unrelated.exists() and (tmp_path / "last.pth").read_bytes() == b"whole"


def test_export_refuses_places_that_cannot_take_the_file_and_model_files_as_checkpoints(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    from scribe.training.trainer import train

    train(tiny_options(tiny_dataset, tmp_path / "run", max_steps=1))
    (tmp_path / "afile").write_text("mine")
    for under_a_file in ("afile/m.npz", "afile/deeper/m.npz"):
        result = scribe("export", str(tmp_path / "run" / "best.pth"), str(tmp_path / under_a_file))
        assert_one_line_error(result, "afile is a file, not a folder")
    assert (tmp_path / "afile").read_text() == "mine"
    model_file = tmp_path / "m.npz"
    assert scribe("export", str(tmp_path / "run" / "best.pth"), str(model_file)).returncode == 0
    result = scribe("export", str(model_file), str(tmp_path / "again.npz"))
    assert_one_line_error(result, "is a model file; this needs a training checkpoint")
    for head in (b"", b"\x80\xb7"):  # random bytes, and ones that open like a pickle of an unknown protocol
        (tmp_path / "random.pth").write_bytes(head + os.urandom(4096))
        result = scribe("export", str(tmp_path / "random.pth"), str(tmp_path / "r.npz"))
        assert_one_line_error(result, "not a readable scribe checkpoint")


def test_export_of_a_many_writer_run_asks_for_its_built_in_styles(tmp_path: Path) -> None:
    from scribe.training.trainer import train

    data = write_split_dataset(tmp_path / "many", {"train": ["hello world"] * 33, "val": ["jumps"]})  # 33 writers
    train(tiny_options(data, tmp_path / "run", max_steps=1))
    result = scribe("export", str(tmp_path / "run" / "last.pth"), str(tmp_path / "m.npz"))
    assert_one_line_error(result, "the model has 33 writer styles; choose its built-in ones with --styles")
    assert not (tmp_path / "m.npz").exists()
    assert scribe("export", str(tmp_path / "run" / "last.pth"), str(tmp_path / "m.npz"), "--styles", "3,1").returncode == 0


def test_export_never_writes_over_its_checkpoint(tiny_dataset: Path, tmp_path: Path) -> None:
    from scribe.training.trainer import train

    train(tiny_options(tiny_dataset, tmp_path / "run", max_steps=1))
    checkpoint = tmp_path / "run" / "c.npz"
    checkpoint.write_bytes((tmp_path / "run" / "best.pth").read_bytes())
    before = checkpoint.read_bytes()
    assert_one_line_error(scribe("export", str(checkpoint), str(checkpoint)), "is the checkpoint being exported")
    assert checkpoint.read_bytes() == before


def test_names_too_long_for_the_file_system_are_one_line_errors(model: Path, tmp_path: Path) -> None:
    name = str(tmp_path / ("x" * 300 + ".svg"))
    assert_one_line_error(scribe("write", "hi", "-o", name, "--model", str(model)), "cannot write")


@pytest.mark.parametrize(
    ("preset", "fragment"),
    [
        ("overwrite = \"no\"\n", "--overwrite must be true or false"),
        ("init_from = 5\n", "--init-from must be a path"),
        ("layers = 100000\n", "--layers must be a whole number at least 1 and at most 16"),
        ("lr = 1e300\n", "--lr must be a number above 0 and at most 10"),
    ],
)
def test_presets_with_wrong_types_or_absurd_sizes_are_refused(
    preset: str, fragment: str, tiny_dataset: Path, tmp_path: Path
) -> None:
    (tmp_path / "p.toml").write_text(preset)
    result = scribe("train", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"), "--config", str(tmp_path / "p.toml"))
    assert_one_line_error(result, fragment)
    (tmp_path / "p.toml").write_bytes("lr = 0.1\n".encode("utf-16"))
    result = scribe("train", "--data", str(tiny_dataset), "--config", str(tmp_path / "p.toml"))
    assert_one_line_error(result, "not UTF-8")


def test_a_damaged_training_state_or_meta_json_is_one_line(tiny_dataset: Path, tmp_path: Path) -> None:
    import json

    import torch

    from scribe.training.trainer import train

    out = tmp_path / "run"
    train(tiny_options(tiny_dataset, out, max_steps=1))
    checkpoint = torch.load(out / "last.pth", weights_only=True)
    checkpoint["training"]["state"]["bogus"] = 1
    torch.save(checkpoint, out / "last.pth")
    with pytest.raises(ScribeError, match="training state is damaged"):
        train(tiny_options(tiny_dataset, out, max_steps=2, resume=True))
    meta = json.loads((tiny_dataset / "meta.json").read_text())
    (tiny_dataset / "meta.json").write_text(json.dumps({**meta, "std": [0.0, 1.0, 1.0]}))
    with pytest.raises(ScribeError, match="not a valid scribe meta.json.*std"):
        train(tiny_options(tiny_dataset, tmp_path / "other", max_steps=1))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda m: setattr(m, "points_per_char", float("inf")), "impossible points_per_char"),
        (lambda m: setattr(m, "simplified_at", -3.5), "impossible simplified_at"),
        (lambda m: setattr(m, "builtin_styles", [99]), "impossible built-in styles"),
        (lambda m: setattr(m, "std", np.array([0.0, 1.0, 1.0])), "impossible normalization"),
        (lambda m: m.weights.update({"decoder.head.linear.weight": np.zeros((5, 16), np.float32)}), "output layers"),
    ],
)
def test_model_files_with_impossible_values_are_refused(change: object, fragment: str, model: Path, tmp_path: Path) -> None:
    from scribe.writing.stored import StoredModel

    stored = StoredModel.load(model)
    change(stored)  # type: ignore[operator]
    stored.save(tmp_path / "bad.npz")
    assert_one_line_error(scribe("write", "hi", "-o", str(tmp_path / "x.svg"), "--model", str(tmp_path / "bad.npz")), fragment)


def test_descriptor_names_are_written_in_place_and_stdin_is_refused(model: Path, tmp_path: Path) -> None:
    """``-o /dev/stdout`` with stdout redirected to a file: the file gets the SVG, /dev/stdout stays a link."""
    with open(tmp_path / "o.txt", "wb") as captured:
        result = subprocess.run(
            [sys.executable, "-m", "scribe", "write", "hi", "-o", "/dev/stdout", "--format", "svg", "--model", str(model)],
            stdout=captured, stderr=subprocess.PIPE, text=True, timeout=120,
        )
    assert result.returncode == 0, result.stderr
    assert os.path.islink("/dev/stdout") and (tmp_path / "o.txt").read_bytes().startswith(b"<?xml")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    with open(notes, "rb") as stdin:
        refused = subprocess.run(
            [sys.executable, "-m", "scribe", "write", "hi", "-o", "/dev/stdin", "--format", "svg", "--model", str(model)],
            stdin=stdin, capture_output=True, text=True, timeout=120,
        )
    assert_one_line_error(refused, "standard input")
    assert notes.read_text() == "my notes"
    too_big = scribe("write", "hi", "--page", "2000x2000", "--dpi", "1200", "-o", str(tmp_path / "x.png"), "--model", str(model))
    assert_one_line_error(too_big, "pixels")


def test_an_output_link_to_the_input_is_refused(model: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello there")
    (tmp_path / "out.svg").symlink_to(notes)
    result = scribe("write", "--input", str(notes), "-o", str(tmp_path / "out.svg"), "--model", str(model))
    assert_one_line_error(result, "would overwrite")
    assert notes.read_text() == "hello there"
