"""The dataset readers (scribe.datasets.deepwriting, .iam_ondb), detection and the safe readers of scribe.safeio."""

from __future__ import annotations

import os
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from helpers.basics import SHARED_DATA, needs_shared_data
from helpers.files import (
    DEEPWRITING_LABEL_KEYS,
    DEFAULT_IAM_FORMS,
    iam_line_points,
    iam_line_xml,
    make_compact_npz,
    make_deepwriting_npz,
    make_iam_raw_tree,
    make_iam_tars,
    npy_bytes,
    object_array,
    splice_npz_member,
    write_iam_split_lists,
)
from scribe.datasets.deepwriting import find_deepwriting_npz, read_deepwriting_npz
from scribe.datasets.iam_ondb import (
    parse_iam_ascii,
    read_compact_lines,
    read_iam_ondb_raw,
    read_iam_ondb_tars,
    read_iam_ondb_xml,
)
from scribe.datasets.split import detect_source
from scribe.errors import ScribeError
from scribe.safeio import parse_xml_safely


def detected(path: Path) -> tuple[str, str]:
    """(dataset name, source format) that detection finds at ``path``."""
    spec, found = detect_source(path)
    return spec.name, found.source_format

# ---------------------------------------------------------------- DeepWriting


def test_deepwriting_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deepwriting_training.npz"
    written = make_deepwriting_npz(path, n_samples=5)
    result = read_deepwriting_npz(path)

    assert len(result.samples) == 5
    assert result.alphabet == list(written["alphabet"])
    assert result.preprocessing == list(written["preprocessing"])
    np.testing.assert_array_equal(result.mean, written["mean"])
    np.testing.assert_array_equal(result.std, written["std"])
    for i, (sample, raw) in enumerate(zip(result.samples, written["raw_offsets"])):
        expected = raw.copy()
        expected[:, 1] *= -1  # the file's y points down, ours up
        expected[-1, 2] = 1.0  # the last point ends the last stroke
        assert sample.offsets.dtype == np.float32
        np.testing.assert_allclose(sample.offsets, expected, rtol=1e-5, atol=1e-5)
        assert sample.points is None
        assert sample.sample_id == f"deepwriting_training-{i:05d}"
        assert sample.text == written["texts"][i]
        assert sample.writer == written["subject_labels"][i]
        assert sample.official_split == "train"
        assert set(sample.labels) == set(DEEPWRITING_LABEL_KEYS)
        for key in DEEPWRITING_LABEL_KEYS:
            assert sample.labels[key].dtype == np.int32
            np.testing.assert_array_equal(sample.labels[key], written[key][i])


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("deepwriting_validation.npz", None, "val"),
        ("deepwriting_training.npz", None, "train"),
        ("other.npz", None, None),
        ("other.npz", "train", "train"),
    ],
)
def test_deepwriting_split_from_name(tmp_path: Path, name: str, given: str | None, expected: str | None) -> None:
    make_deepwriting_npz(tmp_path / name, n_samples=1)
    assert read_deepwriting_npz(tmp_path / name, official_split=given).samples[0].official_split == expected


@pytest.mark.parametrize(("payload", "refused"), [("system", f"{os.system.__module__}.system"), ("exec", "builtins.exec")])
def test_deepwriting_malicious_pickle_is_refused_without_running(tmp_path: Path, payload: str, refused: str) -> None:
    path = tmp_path / "deepwriting_training.npz"
    written = make_deepwriting_npz(path, with_pickle_payload=True, payload=payload)

    expected = f"refusing to unpickle {refused} from .*strokes.npy: not a numeric array; the file may be malicious"
    with pytest.raises(ScribeError, match=expected):
        read_deepwriting_npz(path)
    assert not written["sentinel"].exists()


def test_deepwriting_non_numeric_element_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dw.npz"
    make_deepwriting_npz(path, n_samples=2)
    splice_npz_member(path, "strokes", npy_bytes(object_array([np.zeros((3, 3), np.float32), "text"])))
    with pytest.raises(ScribeError, match="not a numeric array"):
        read_deepwriting_npz(path)


def test_deepwriting_missing_keys_and_corrupt_zip(tmp_path: Path) -> None:
    np.savez(tmp_path / "partial.npz", strokes=np.zeros(3))
    with pytest.raises(ScribeError, match="missing array.*mean"):
        read_deepwriting_npz(tmp_path / "partial.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(ScribeError, match="not a readable .npz"):
        read_deepwriting_npz(tmp_path / "broken.npz")


def test_deepwriting_truncated_member_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dw.npz"
    make_deepwriting_npz(path, n_samples=2)
    with zipfile.ZipFile(path) as archive:
        strokes = archive.read("strokes.npy")
    splice_npz_member(path, "strokes", strokes[: len(strokes) // 2])
    with pytest.raises(ScribeError, match="dw.npz: strokes.npy"):
        read_deepwriting_npz(path)


def test_find_deepwriting_npz(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    make_deepwriting_npz(tmp_path / "b" / "deepwriting_validation.npz", 1)
    make_deepwriting_npz(tmp_path / "deepwriting_training.npz", 1)
    make_compact_npz(tmp_path / "iam_ondb_lines.npz", 3)
    expected = [tmp_path / "b" / "deepwriting_validation.npz", tmp_path / "deepwriting_training.npz"]
    assert find_deepwriting_npz(tmp_path) == expected


# ---------------------------------------------------------------- IAM-OnDB XML and ascii


def test_xml_points_and_end_of_stroke() -> None:
    points = iam_line_points("a01-000u-01")
    parsed = read_iam_ondb_xml(iam_line_xml(points))
    assert parsed.dtype == np.int32
    np.testing.assert_array_equal(parsed, points)
    assert parsed[-1, 2] == 1


def test_xml_from_path(tmp_path: Path) -> None:
    points = iam_line_points("a01-000u-02")
    (tmp_path / "a01-000u-02.xml").write_bytes(iam_line_xml(points))
    np.testing.assert_array_equal(read_iam_ondb_xml(tmp_path / "a01-000u-02.xml"), points)
    with pytest.raises(ScribeError, match="missing.xml: cannot read"):
        read_iam_ondb_xml(tmp_path / "missing.xml")


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><a>&x;</a>',
        b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "x">]><a>&x;</a>'.encode("utf-16"),
    ],
)
def test_xml_doctype_is_refused(document: bytes) -> None:
    with pytest.raises(ScribeError, match="DOCTYPE"):
        read_iam_ondb_xml(document)


SVG_DOCTYPE = b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'


def test_xml_plain_doctype_is_accepted_where_allowed() -> None:
    document = b'<?xml version="1.0"?>' + SVG_DOCTYPE + b'<svg xmlns="http://www.w3.org/2000/svg"><path d="M 0 0"/></svg>'
    root = parse_xml_safely(document, "me.svg", "an SVG drawing", allow_doctype=True)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and len(root) == 1
    with pytest.raises(ScribeError, match="me.svg: refusing an XML file with DOCTYPE"):
        parse_xml_safely(document, "me.svg", "an SVG drawing")  # the default refuses any DOCTYPE


@pytest.mark.parametrize(
    "document",
    [
        b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>',
        b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg/>',  # declared, never used: refused all the same
        b'<!DOCTYPE svg [<!ENTITY a SYSTEM "file:///etc/passwd">]><svg>&a;</svg>',
        b'<!DOCTYPE svg [<!ENTITY % p SYSTEM "http://example.org/x.dtd"> %p;]><svg/>',
    ],
)
def test_xml_entity_declarations_are_refused_even_with_a_doctype_allowed(document: bytes) -> None:
    with pytest.raises(ScribeError) as info:
        parse_xml_safely(document, "me.svg", "an SVG drawing", allow_doctype=True)
    assert str(info.value) == "me.svg: refusing an XML file with DOCTYPE/ENTITY declarations; it is not an SVG drawing"


def test_xml_malformed_is_an_error() -> None:
    with pytest.raises(ScribeError, match="x.xml: malformed XML"):
        read_iam_ondb_xml(b"<StrokeSet><Stroke>", source="x.xml")


def test_parse_iam_ascii_takes_csr_lines_only() -> None:
    text = "OCR:\n\nthe ocr text\n\nCSR:\n\nfirst line \n\nsecond line\n\n"
    assert parse_iam_ascii(text) == ["first line", "second line"]
    assert parse_iam_ascii("OCR:\n\nonly ocr\n") == []


# ---------------------------------------------------------------- IAM-OnDB raw layout


def _expected_ids(forms: dict[str, list[str]]) -> list[str]:
    return sorted(f"{form}-{n:02d}" for form, lines in forms.items() for n in range(1, len(lines) + 1))


def test_raw_tree_pairs_lines_with_csr(tmp_path: Path) -> None:
    calls = []
    read = read_iam_ondb_raw(make_iam_raw_tree(tmp_path / "raw"), progress=lambda done, total: calls.append((done, total)))

    assert [s.sample_id for s in read.samples] == _expected_ids(DEFAULT_IAM_FORMS)
    for sample in read.samples:
        form, number = sample.sample_id.rsplit("-", 1)
        assert sample.text == DEFAULT_IAM_FORMS[form][int(number) - 1]
        np.testing.assert_array_equal(sample.points, iam_line_points(sample.sample_id))
        assert (sample.writer, sample.official_split, sample.offsets) == (-1, None, None)
    assert read.skipped == {}
    assert calls[-1] == (7, 7)


def test_raw_tree_may_be_nested(tmp_path: Path) -> None:
    make_iam_raw_tree(tmp_path / "raw" / "lineStrokes-all")
    shutil.move(tmp_path / "raw" / "lineStrokes-all" / "ascii", tmp_path / "raw" / "ascii")
    assert len(read_iam_ondb_raw(tmp_path).samples) == 7


def test_raw_tree_and_tars_give_identical_samples(tmp_path: Path) -> None:
    tree = make_iam_raw_tree(tmp_path / "tree")
    linestrokes_tar, ascii_tar = make_iam_tars(tree, tmp_path / "tars")
    from_tree = read_iam_ondb_raw(tree)
    from_tars = read_iam_ondb_raw(tmp_path / "tars")
    direct = read_iam_ondb_tars(linestrokes_tar, ascii_tar)

    for other in (from_tars, direct):
        assert [(s.sample_id, s.text) for s in other.samples] == [(s.sample_id, s.text) for s in from_tree.samples]
        for a, b in zip(other.samples, from_tree.samples):
            np.testing.assert_array_equal(a.points, b.points)


def test_raw_skips_are_counted_by_reason(tmp_path: Path) -> None:
    forms = {"a01-000u": ["one", "two"], "a01-001w": ["only one"], "b02-010": ["Please Enter Transcription here", "ok"]}
    tree = make_iam_raw_tree(tmp_path, forms)
    (tree / "lineStrokes" / "a01" / "a01-001" / "a01-001w-02.xml").write_bytes(iam_line_xml(iam_line_points("x-01")))
    (tree / "ascii" / "a01" / "a01-000" / "a01-000u.txt").unlink()

    read = read_iam_ondb_raw(tree)
    assert [s.sample_id for s in read.samples] == ["b02-010-02"]
    assert read.skipped == {
        "no ascii transcription file for the form": 2,
        "form has more line files than transcript lines": 2,
        "no transcript for the line": 1,
    }


def test_raw_official_splits_accept_form_and_line_ids(tmp_path: Path) -> None:
    tree = make_iam_raw_tree(tmp_path)
    write_iam_split_lists(
        tree,
        {
            "trainset.txt": ["a01-000u"],
            "testset_v.txt": ["a01-001w-01"],
            "testset_t.txt": ["a01-001w-02"],
            "testset_f.txt": ["b02-010"],
        },
    )
    splits = {s.sample_id: s.official_split for s in read_iam_ondb_raw(tree).samples}
    assert splits == {
        "a01-000u-01": "train",
        "a01-000u-02": "train",
        "a01-000u-03": "train",
        "a01-001w-01": "val1",
        "a01-001w-02": "val2",
        "b02-010-01": "test",
        "b02-010-02": "test",
    }


def test_raw_without_data_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ScribeError, match="no IAM-OnDB data found"):
        read_iam_ondb_raw(tmp_path)


# ---------------------------------------------------------------- compact line file


def test_compact_lines(tmp_path: Path) -> None:
    written = make_compact_npz(tmp_path / "lines.npz", n_lines=12)
    samples = read_compact_lines(tmp_path / "lines.npz")

    assert len(samples) == 12
    offsets = written["line_offsets"]
    for i, sample in enumerate(samples):
        np.testing.assert_array_equal(sample.points, written["points"][offsets[i] : offsets[i + 1]])
        assert sample.sample_id == written["line_ids"][i]
        assert sample.text == written["texts"][i]
        assert sample.writer == written["writer_ids"][i]
        assert sample.official_split == (written["split"][i] or None)
        assert sample.blacklisted == written["blacklisted"][i]
    assert {s.official_split for s in samples} == {"train", "val1", "val2", "test", None}
    assert sum(s.blacklisted for s in samples) == 3


def test_compact_missing_keys_are_named(tmp_path: Path) -> None:
    written = make_compact_npz(tmp_path / "full.npz", n_lines=3)
    np.savez(tmp_path / "partial.npz", **{k: v for k, v in written.items() if k not in ("split", "texts")})
    with pytest.raises(ScribeError, match="missing array.*split, texts"):
        read_compact_lines(tmp_path / "partial.npz")


def test_compact_inconsistent_offsets_are_an_error(tmp_path: Path) -> None:
    written = make_compact_npz(tmp_path / "lines.npz", n_lines=3)
    written["line_offsets"][-1] += 5
    np.savez(tmp_path / "lines.npz", **written)
    with pytest.raises(ScribeError, match="line_offsets do not partition points"):
        read_compact_lines(tmp_path / "lines.npz")


# ---------------------------------------------------------------- detection


def test_detect_source(tmp_path: Path) -> None:
    make_deepwriting_npz(tmp_path / "dw.npz", 1)
    make_compact_npz(tmp_path / "lines.npz", 2)
    tree = make_iam_raw_tree(tmp_path / "tree")
    make_iam_tars(tree, tmp_path / "tars")
    (tmp_path / "dwdir").mkdir()
    make_deepwriting_npz(tmp_path / "dwdir" / "x.npz", 1)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()

    assert detected(tmp_path / "dw.npz") == ("deepwriting", "deepwriting-npz")
    assert detected(tmp_path / "dwdir") == ("deepwriting", "deepwriting-npz")
    assert detected(tmp_path / "lines.npz") == ("iam-ondb", "iam-ondb-compact")
    assert detected(tree) == ("iam-ondb", "iam-ondb-raw")
    assert detected(tmp_path / "tars") == ("iam-ondb", "iam-ondb-raw")
    for bad in (tmp_path / "notes.txt", tmp_path / "missing", tmp_path / "empty"):
        with pytest.raises(ScribeError, match="DeepWriting .npz"):
            detect_source(bad)


# ---------------------------------------------------------------- real data (skipped when absent)


@needs_shared_data
def test_real_deepwriting_sample() -> None:
    result = read_deepwriting_npz(SHARED_DATA / "deepwriting_validation_sample.npz")
    assert len(result.samples) == 705
    assert len(result.alphabet) == 70 and result.alphabet[0] == ""
    first = result.samples[0]
    assert first.text == "you set about using it? And which of those"
    assert first.writer == 10094 and first.official_split == "val"
    assert all(s.writer >= 10000 for s in result.samples)
    pens = np.concatenate([s.offsets[:, 2] for s in result.samples])
    assert set(np.unique(pens).tolist()) == {0.0, 1.0}
    # pen=1 ends a stroke: the step after it (the jump to the next stroke) is long.
    steps = np.concatenate([np.hypot(s.offsets[:-1, 0], s.offsets[:-1, 1]) for s in result.samples])
    jumps = np.concatenate([np.hypot(s.offsets[1:, 0], s.offsets[1:, 1]) for s in result.samples])
    ends = np.concatenate([s.offsets[:-1, 2] == 1 for s in result.samples])
    assert jumps[ends].mean() > 5 * steps[ends].mean()


@needs_shared_data
def test_real_iam_raw_sample_matches_compact_file() -> None:
    read = read_iam_ondb_raw(SHARED_DATA / "iam_ondb_raw_sample")
    assert [s.text for s in read.samples] == [
        "A MOVE to stop Mr . Gaitskell",
        "from nomnating any more Labour",
        "life Peers is to be made at a",
        "meeting of Labour M Ps tomorrow",
        "Mr . Michael Foot has put down a",
        "resolution on the subject",
    ]
    compact = {s.sample_id: s for s in read_compact_lines(SHARED_DATA / "iam_ondb_lines.npz")}
    for sample in read.samples:
        np.testing.assert_array_equal(sample.points, compact[sample.sample_id].points)
        assert sample.text == compact[sample.sample_id].text


@needs_shared_data
def test_real_compact_file() -> None:
    samples = read_compact_lines(SHARED_DATA / "iam_ondb_lines.npz")
    assert len(samples) == 12186
    assert sum(len(s.points) for s in samples) == 7651052
    assert Counter(s.official_split for s in samples) == {"train": 5364, "val1": 1438, "val2": 1518, "test": 3859, None: 7}
    assert sum(s.blacklisted for s in samples) == 300
    assert len({s.writer for s in samples if s.writer >= 0}) == 196


@needs_shared_data
def test_real_detect_source() -> None:
    assert detected(SHARED_DATA / "deepwriting_validation_sample.npz") == ("deepwriting", "deepwriting-npz")
    assert detected(SHARED_DATA / "iam_ondb_lines.npz") == ("iam-ondb", "iam-ondb-compact")
    assert detected(SHARED_DATA / "iam_ondb_raw_sample") == ("iam-ondb", "iam-ondb-raw")
