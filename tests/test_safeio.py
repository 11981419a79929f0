"""The safe readers of scribe.safeio, through every reader built on them: damaged and hostile dataset files.

Each file here is one a user could be handed (a truncated download, a hand-made
array, a planted pickle, a header declaring terabytes): every one must end in a
one-line ScribeError naming the file, or be read as it is, with no warning, no
unpickling and no large allocation.
"""

from __future__ import annotations

import os
import pickle
import tarfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers.files import (
    DEEPWRITING_LABEL_KEYS,
    iam_line_points,
    iam_line_xml,
    make_compact_npz,
    make_deepwriting_npz,
    make_iam_raw_tree,
    make_iam_tars,
    npy_bytes,
    npy_header_only,
    npz_bytes,
    object_array,
    planted_object_npy,
    splice_npz_member,
)
from scribe.datasets.deepwriting import read_deepwriting_npz
from scribe.datasets.iam_ondb import read_compact_lines, read_iam_ondb_raw, read_iam_ondb_tars, read_iam_ondb_xml
from scribe.datasets.meta import read_sample
from scribe.errors import ScribeError
from scribe.safeio import npz_member_names, read_npz_safely

# ---------------------------------------------------------------- DeepWriting

def _deepwriting_cases() -> list[tuple[str, Callable[[dict[str, Any]], bytes], str]]:
    """(array to replace, its new bytes from what make_deepwriting_npz wrote, the message expected)."""
    labels = DEEPWRITING_LABEL_KEYS[0]

    def nan_labels(written: dict[str, Any]) -> bytes:
        floats = [label.astype(np.float64) for label in written[labels]]
        floats[0][1] = np.nan
        return npy_bytes(object_array(floats))

    return [
        (labels, nan_labels, f"{labels} is a 1-D array of float64, not a 1-D array of integers"),
        ("word_labels", lambda w: npy_bytes(object_array([x.astype(float) for x in w["word_labels"]])), "not a 1-D array of"),
        ("subject_labels", lambda w: npy_bytes(w["subject_labels"].astype(float)), "subject_labels is a 1-D array of float64"),
        ("mean", lambda w: npy_bytes(w["mean"].astype(str)), "mean is a 1-D array of <U.*, not a 1-D array of numbers"),
        ("std", lambda w: npy_bytes(np.array([1.0, np.nan, 1.0])), "std holds NaN or infinite values"),
        ("mean", lambda w: npy_bytes(np.zeros(4)), r"mean has shape \(4,\), expected \(3,\)"),
        ("eoc_labels", lambda w: npy_bytes(object_array([x[:-1] for x in w["eoc_labels"]])), "eoc_labels has shape"),
        ("sow_labels", lambda w: npy_bytes(object_array([x[None] for x in w["sow_labels"]])), "sow_labels is a 2-D array"),
        ("strokes", lambda w: npy_bytes(object_array([x[None] for x in w["strokes"]])), "strokes is a 3-D array of float32"),
        ("strokes", lambda w: npy_bytes(np.array(1.0)), r"strokes, texts, .* do not have one entry per sample"),
        ("texts", lambda w: npy_bytes(np.arange(len(w["texts"]))), "texts is a 1-D array of int64, not a 1-D array of text"),
        ("alphabet", lambda w: npy_bytes(np.array("abc")), "alphabet is a 0-D array of <U3, not a 1-D array of text"),
        ("strokes", lambda w: b"this is not an array", "strokes.npy: not a valid .npy array"),
        ("strokes", lambda w: npy_header_only((10**6, 10**6)), r"strokes.npy: declares a \(1000000, 1000000\) array"),
        ("mean", lambda w: npy_header_only((-3,)), r"mean.npy: declares a \(-3,\) array"),
    ]


@pytest.mark.parametrize(("key", "build", "message"), _deepwriting_cases(), ids=[case[2][:40] for case in _deepwriting_cases()])
def test_deepwriting_damaged_arrays_are_one_line_errors(
    tmp_path: Path, key: str, build: Callable[[dict[str, Any]], bytes], message: str
) -> None:
    path = tmp_path / "deepwriting_training.npz"
    splice_npz_member(path, key, build(make_deepwriting_npz(path, n_samples=2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ScribeError, match=message) as info:
            read_deepwriting_npz(path)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(path))


def test_deepwriting_strokes_beyond_float32_are_left_to_the_split_quietly(tmp_path: Path) -> None:
    path = tmp_path / "deepwriting_training.npz"
    written = make_deepwriting_npz(path, n_samples=2)
    strokes = [x.astype(np.float64) for x in written["strokes"]]
    strokes[0][2, 0] = 1e300
    splice_npz_member(path, "strokes", npy_bytes(object_array(strokes)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        samples = read_deepwriting_npz(path).samples
    assert not np.all(np.isfinite(samples[0].offsets)) and np.all(np.isfinite(samples[1].offsets))


def test_npz_members_over_the_size_cap_are_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "dw.npz"
    make_deepwriting_npz(path, n_samples=2)
    with pytest.raises(ScribeError, match=r"dw.npz: \w+.npy is [\d,]+ bytes, over the 100 read for one array"):
        read_npz_safely(path, "DeepWriting", max_bytes=100)


# ---------------------------------------------------------------- compact IAM-OnDB line file


def _compact_cases() -> list[tuple[Callable[[dict[str, np.ndarray]], None], str]]:
    """(how to damage what make_compact_npz wrote, the message expected)."""

    def set_item(key: str, index: int, value: float) -> Callable[[dict[str, np.ndarray]], None]:
        def damage(written: dict[str, np.ndarray]) -> None:
            written[key] = written[key].astype(np.float64) if np.isnan(value) else written[key]
            written[key][index] = value

        return damage

    def retype(key: str, convert: Callable[[np.ndarray], np.ndarray]) -> Callable[[dict[str, np.ndarray]], None]:
        return lambda written: written.update({key: convert(written[key])})

    def swap(written: dict[str, np.ndarray]) -> None:
        written["line_offsets"][[1, 2]] = written["line_offsets"][[2, 1]]

    def swap_unsigned(written: dict[str, np.ndarray]) -> None:  # unsigned differences never look negative
        swap(written)
        written["line_offsets"] = written["line_offsets"].astype(np.uint64)

    return [
        (retype("points", lambda a: a.astype(str)), "points is a 2-D array of <U6, not a 2-D array of numbers"),
        (set_item("points", 5, np.nan), "points holds NaN or infinite values"),
        (swap, "line_offsets do not partition points"),
        (retype("line_offsets", lambda a: a.astype(np.uint64)), ""),  # unsigned, in order: read as it is
        (swap_unsigned, "line_offsets do not partition points"),
        (set_item("line_offsets", 1, 10**6), "line_offsets do not partition points"),
        (retype("line_offsets", lambda a: a.astype(np.float64)), "line_offsets is a 1-D array of float64, not .* integers"),
        (retype("line_offsets", lambda a: a[None]), "line_offsets is a 2-D array"),
        (retype("writer_ids", lambda a: a.astype(str)), "writer_ids is a 1-D array of <U.*, not a 1-D array of integers"),
        (retype("texts", lambda a: object_array(list(a))), "texts.npy: holds Python objects, which scribe does not unpickle"),
    ]


@pytest.mark.parametrize(("damage", "message"), _compact_cases(), ids=[case[1][:40] or "fine" for case in _compact_cases()])
def test_compact_damaged_arrays_are_one_line_errors(
    tmp_path: Path, damage: Callable[[dict[str, np.ndarray]], None], message: str
) -> None:
    written = make_compact_npz(tmp_path / "lines.npz", n_lines=4)
    damage(written)
    np.savez(tmp_path / "lines.npz", **written)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if not message:
            assert len(read_compact_lines(tmp_path / "lines.npz")) == 4
            return
        with pytest.raises(ScribeError, match=message) as info:
            read_compact_lines(tmp_path / "lines.npz")
    assert "\n" not in str(info.value) and "allow_pickle" not in str(info.value)


# ---------------------------------------------------------------- IAM-OnDB's original layout


def tar_gz_declaring(path: Path, name: str, declared_size: int) -> Path:
    """Write a ``.tar.gz`` whose one member ``name`` declares ``declared_size`` bytes but holds 4."""
    info = tarfile.TarInfo(name)
    info.size = declared_size
    with tarfile.open(path, "w:gz") as archive:
        archive.fileobj.write(info.tobuf(archive.format, archive.encoding, archive.errors) + b"<x/>".ljust(512, b"\0"))
    return path


def test_a_huge_line_file_in_a_tarball_is_refused_unread(tmp_path: Path) -> None:
    _, ascii_tar = make_iam_tars(make_iam_raw_tree(tmp_path / "tree"), tmp_path / "tars")
    huge = tar_gz_declaring(tmp_path / "tars" / "lineStrokes-all.tar.gz", "lineStrokes/a01/a01-000u-01.xml", 3 * 2**29)
    expected = r"lineStrokes-all.tar.gz: 'lineStrokes/a01/a01-000u-01.xml' is 1,610,612,736 bytes, over the 50,000,000"
    with pytest.raises(ScribeError, match=expected):
        read_iam_ondb_tars(huge, ascii_tar)
    with pytest.raises(ScribeError, match=expected):
        read_iam_ondb_raw(tmp_path / "tars")


def test_a_huge_line_file_in_a_tree_is_refused_unread(tmp_path: Path) -> None:
    tree = make_iam_raw_tree(tmp_path)
    line = tree / "lineStrokes" / "a01" / "a01-000" / "a01-000u-01.xml"
    os.truncate(line, 60_000_000)  # sparse: nothing is written
    with pytest.raises(ScribeError, match="a01-000u-01.xml is 60,000,000 bytes, over the 50,000,000 of any IAM-OnDB"):
        read_iam_ondb_raw(tree)


@pytest.mark.parametrize("x", ["1" * 30, "2147483648", "2.5", "1" * 5000, "", "0x10"])
def test_xml_coordinates_beyond_int32_or_not_whole_are_errors(x: str) -> None:
    document = f'<StrokeSet><Stroke><Point x="{x}" y="1"/><Point x="4" y="2"/></Stroke></StrokeSet>'.encode()
    with pytest.raises(ScribeError, match=r"^x.xml: a <Point> lacks whole-number x/y within 32 bits; the file is damaged"):
        read_iam_ondb_xml(document, source="x.xml")


def test_xml_negative_coordinates_are_read_as_the_real_data_has_them() -> None:
    points = iam_line_points("a01-000u-01")
    points[:, 0] -= 1100  # IAM-OnDB's raw x goes down to -51
    np.testing.assert_array_equal(read_iam_ondb_xml(iam_line_xml(points)), points)
    assert read_iam_ondb_xml(b"<StrokeSet/>").shape == (0, 3)


# ---------------------------------------------------------------- per-sample files of a split dataset


def _sample_file(path: Path, **overrides: bytes | None) -> Path:
    """A per-sample file as ``scribe split`` writes it, with ``overrides`` as raw member bytes (None: left out)."""
    offsets = np.array([[0, 0, 0], [2, 3, 0], [2, -3, 1]], np.float32)
    members = {"offsets": npy_bytes(offsets), "text": npy_bytes(np.array("hi")), "writer": npy_bytes(np.array(7))}
    path.write_bytes(npz_bytes(**{k: v for k, v in {**members, **overrides}.items() if v is not None}))
    return path


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"offsets": npy_bytes(np.zeros(3, dtype=[("dx", "f4"), ("dy", "f4"), ("pen", "f4")]))}, "offsets is a 1-D array of \\["),
        ({"offsets": npy_bytes(np.array([["0", "0", "1"]]))}, "offsets is a 2-D array of <U1, not an array of numbers"),
        ({"offsets": npy_header_only((10**6, 10**6), "<f4")}, r"offsets.npy: declares a \(1000000, 1000000\) array"),
        ({"offsets": npy_bytes(np.array([[0, 0, 0], [np.nan, 1, 1]]))}, r"is not a usable line \(non-finite values\)"),
        ({"writer": npy_bytes(np.array(np.nan))}, "writer is a 0-D array of float64, not a 0-D array of integers"),
        ({"writer": npy_bytes(np.array([1, 2]))}, "writer is a 1-D array of int64, not a 0-D array"),
        ({"text": npy_bytes(np.array(5))}, "text is a 0-D array of int64, not a 0-D array of text"),
        ({"writer": b"\x93NUMPY garbage"}, "writer.npy: not a valid .npy array"),
    ],
)
def test_damaged_sample_files_are_one_line_errors(tmp_path: Path, overrides: dict[str, bytes | None], message: str) -> None:
    with pytest.raises(ScribeError, match=message) as info:
        read_sample(_sample_file(tmp_path / "s.npz", **overrides))
    assert str(info.value).endswith("run `scribe split` again") and "\n" not in str(info.value)


def test_sample_files_are_read_without_pickle(tmp_path: Path) -> None:
    offsets, text, writer = read_sample(_sample_file(tmp_path / "good.npz"))
    assert (offsets.shape, text, writer) == ((3, 3), "hi", 7)
    sentinel = tmp_path / "SENTINEL"
    with pytest.raises(ScribeError, match="offsets.npy: holds Python objects, which scribe does not unpickle"):
        read_sample(_sample_file(tmp_path / "planted.npz", offsets=planted_object_npy(sentinel)))
    assert not sentinel.exists()
    (tmp_path / "pickle.npz").write_bytes(pickle.dumps({"offsets": [1, 2, 3]}))
    with pytest.raises(ScribeError, match="not a readable .npz archive") as info:
        read_sample(tmp_path / "pickle.npz")
    assert "allow_pickle" not in str(info.value) and "trust" not in str(info.value)
    with pytest.raises(ScribeError, match=r"missing array\(s\) writer"):
        read_sample(_sample_file(tmp_path / "nowriter.npz", writer=None))


def test_devices_and_links_to_them_are_not_read_as_npz(tmp_path: Path) -> None:
    """A link to /dev/zero named like a dataset file must neither hang detection nor be read without end."""
    planted = tmp_path / "deepwriting_training.npz"
    planted.symlink_to("/dev/zero")
    assert npz_member_names(planted) == set()
    with pytest.raises(ScribeError, match=r"is not a plain file \(a device, a pipe, or missing\)"):
        read_npz_safely(planted, "DeepWriting")
