"""Full and read-only destinations: one error line, nothing half-written, nothing of the user's lost.

A small tmpfs (or one remounted read-only) stands in for a full disk or a read-only
share. Mounting needs root and a kernel that lets this process mount; elsewhere the
tests skip.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.basics import tiny_model_file, write_split_dataset
from helpers.cli import assert_one_line_error, scribe

Mount = Callable[..., Path]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Mount]:
    """``tmpfs(name, size="1m", read_only=False)``: a fresh tmpfs under tmp_path, unmounted after the test."""
    mounted: list[Path] = []

    def mount(name: str, size: str = "1m", read_only: bool = False) -> Path:
        point = tmp_path / name
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
        mounted.append(point)
        return point

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_writing_onto_a_full_or_read_only_disk(tmpfs: Mount, tmp_path: Path) -> None:
    full, read_only = tmpfs("full", size="64k"), tmpfs("ro", read_only=True)
    (full / "keep.svg").write_text("the user's own file")
    text = " ".join(["handwriting fills the page"] * 40)
    model = str(tiny_model_file(tmp_path / "tiny.npz"))  # an untrained model's long scribbles fill 64k fast
    done = scribe("write", text, "-o", str(full / "keep.svg"), "--model", model, home=tmp_path / "h")
    if done.returncode == 0:  # the page fitted after all: nothing to check about a full disk
        pytest.skip("the page fitted into the small disk")
    last = done.stderr.strip().splitlines()[-1]  # after the untrained model's warnings about its lines
    assert done.returncode == 1 and last.startswith("error: ") and "disk is full" in last and "Traceback" not in done.stderr
    assert (full / "keep.svg").read_text() == "the user's own file"  # the old file stays whole
    assert sorted(p.name for p in full.iterdir()) == ["keep.svg"]  # no temporary file left
    done = scribe("write", "hello", "-o", str(read_only / "out.pdf"), home=tmp_path / "h")
    assert_one_line_error(done, "out.pdf")


def test_splitting_and_extracting_onto_a_full_or_read_only_disk(tmpfs: Mount, tmp_path: Path) -> None:
    source = write_split_dataset(tmp_path / "src", {"train": ["hello world"] * 30, "val": ["jumps"] * 5})
    read_only = tmpfs("ro", read_only=True)
    done = scribe("split", "deepwriting", "--source", str(source), "--out", str(read_only / "split"), home=tmp_path / "h")
    assert done.returncode == 1 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    home = tmpfs("home", size="256k")
    (tmp_path / "release" / "train_r01_v07" / "data").mkdir(parents=True)
    (tmp_path / "release" / "train_r01_v07" / "data" / "big.dat").write_bytes(os.urandom(600_000))
    archive = tmp_path / "unipen.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "release" / "train_r01_v07", arcname="train_r01_v07")
    done = scribe("download-data", "unipen", "--from-file", str(archive), home=home)
    assert_one_line_error(done, "space")
    leftovers = [p for p in home.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers  # no partial copy, no staging folder, no marker
