"""UNIPEN: the format reader (scribe.datasets.unipen_format), the dataset (scribe.datasets.unipen) and its split."""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from helpers.basics import SHARED_DATA, needs_shared_data
from helpers.cli import scribe
from helpers.unipen import DIGITS, WORDS, add_damaged_files, make_unipen_tree
from scribe.datasets import unipen, unipen_size
from scribe.datasets.download import download_dataset
from scribe.datasets.meta import read_sample, sample_files
from scribe.datasets.split import split_dataset
from scribe.datasets.unipen_format import (
    DataSet,
    Segment,
    Unusable,
    delineated,
    parse_segment,
    read_data_file,
    segment_strokes,
    statements,
    unescape_label,
)
from scribe.errors import ScribeError
from scribe.ink.metrics import line_metrics
from scribe.ink.strokes import split_strokes, validate_offsets

UNIPEN_SAMPLES = SHARED_DATA / "unipen"


# --------------------------------------------------------------------------- the format


@pytest.mark.parametrize(
    ("delineation", "expected"),
    [
        ("3", [(3, 0, None)]),
        ("1-3", [(1, 0, None), (2, 0, None), (3, 0, None)]),
        ("1:40-3,5", [(1, 40, None), (2, 0, None), (3, 0, None), (5, 0, None)]),
        ("6:0-6:12", [(6, 0, 12)]),
        ("71-71:30,75", [(71, 0, 30), (75, 0, None)]),
        ("9:0-11:5", [(9, 0, None), (10, 0, None), (11, 0, 5)]),
        ("2:4", [(2, 4, None)]),
    ],
)
def test_delineations_follow_unipen_def(delineation: str, expected: list) -> None:
    assert delineated(delineation, 100) == expected


@pytest.mark.parametrize("bad", ["5-2", "1-100", "x", "1--2", "-3", "1:a"])
def test_impossible_delineations_are_unusable(bad: str) -> None:
    with pytest.raises(Unusable):
        delineated(bad, 100)


def test_labels_unescape_and_segments_parse() -> None:
    assert unescape_label(r"\"BIZ\\ biz\@") == '"BIZ\\ biz@'
    assert unescape_label("two\nlines\ttab") == "two lines tab"
    segment = parse_segment('CHARACTER 0:50-0:56 OK  "\\@"')
    assert segment == Segment("CHARACTER", "0:50-0:56", "OK", "@")
    assert parse_segment("WORD") == Segment("WORD", "?", "?", "")
    assert parse_segment('TEXT 131-151 OK "238$ + 154% = 366.52"').label == "238$ + 154% = 366.52"


def test_statements_split_at_keywords_in_the_first_column() -> None:
    text = ".VERSION 1.0\n.COMMENT a\n .NOT_A_KEYWORD\n.PEN_DOWN\n1 2\n3 4\n.5 .6\n.PEN_UP\n"
    assert [keyword for keyword, _ in statements(text)] == ["VERSION", "COMMENT", "PEN_DOWN", "PEN_UP"]
    assert statements(text)[2][1].split() == ["1", "2", "3", "4", ".5", ".6"]


def _one_set(text: str, tmp_path: Path) -> DataSet:
    (tmp_path / "include").mkdir(exist_ok=True)
    path = tmp_path / "f.dat"
    path.write_text(text)
    (data_set,) = read_data_file(path, tmp_path / "include")
    return data_set


def test_empty_pen_streams_are_not_counted_and_hover_is_not_ink(tmp_path: Path) -> None:
    text = (
        ".COORD X Y T\n.PEN_DOWN\n1 2 0\n3 4 10\n.PEN_UP\n.PEN_DOWN\n5 6 20\n7 8 30\n"
        ".PEN_UP\n7 9 40\n8 9 50\n.PEN_DOWN\n9 9 60\n9 8 70\n"
        '.SEGMENT WORD 0-3 ? "ab"\n'
    )
    data_set = _one_set(text, tmp_path)
    assert [c.pen_down for c in data_set.components] == [True, True, False, True]  # the empty .PEN_UP is skipped
    strokes = segment_strokes(data_set, data_set.segments[0])
    assert [s.tolist() for s in strokes] == [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 9], [9, 8]]]  # T dropped


def test_start_set_restarts_the_component_count(tmp_path: Path) -> None:
    text = '.PEN_DOWN\n1 1\n2 2\n.START_SET two\n.PEN_DOWN\n5 5\n6 6\n.SEGMENT CHARACTER 0 ? "x"\n'
    data_set = _one_set(text, tmp_path)
    assert data_set.name == "two"
    assert segment_strokes(data_set, data_set.segments[0])[0].tolist() == [[5, 5], [6, 6]]


@pytest.mark.parametrize(
    ("block", "reason"),
    [("1 2 3\n", "columns"), ("1 x\n", "numbers"), ("1e40 2\n", "absurd"), ("nan 1\n", "non-finite")],
)
def test_damaged_pen_blocks_are_unusable_when_cut(tmp_path: Path, block: str, reason: str) -> None:
    data_set = _one_set(f'.COORD X Y\n.PEN_DOWN\n{block}.SEGMENT CHARACTER 0 ? "x"\n', tmp_path)
    with pytest.raises(Unusable, match=reason):
        segment_strokes(data_set, data_set.segments[0])


# --------------------------------------------------------------------------- the dataset on a built release


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = make_unipen_tree(tmp_path / "train_r01_v07")
    add_damaged_files(root)
    return root


def test_reader_cuts_segments_and_counts_what_it_skips(release: Path) -> None:
    read = unipen.read_tree(release)
    assert Counter(p.category for p in read.pieces) == {"1a": 5 * len(DIGITS) + 2, "7": 5 * len(WORDS)}
    assert read.skipped == {
        "data file with a missing include file": 2,
        "data file with an include cycle": 1,
        "data file with an include path leaving the include/ folder": 1,
        "degenerate ink (no extent, or points at the origin)": 1,
        "quality BAD": 1,
        "a segment naming components that are not in its set": 1,
    }
    quote = next(p for p in read.pieces if p.text == '"')
    assert len(quote.strokes) == 1
    assert len(next(p for p in read.pieces if p.text == "H").strokes) == 2
    assert all(len(p.strokes) == 2 for p in read.pieces if p.text in DIGITS)  # hover points left out
    assert len({p.writer for p in read.pieces}) == 6  # the five .WRITER_IDs of nested includes, and odd.dat's w9
    names = ("alice", "bob", "carol", "dora", "eve")
    assert not [p for p in read.pieces if any(name in p.sample_id for name in names)]  # names stay out of the data


def test_keep_bad_keeps_bad_segments(release: Path) -> None:
    assert "quality BAD" not in unipen.read_tree(release, keep_bad=True).skipped


def test_y_direction_is_measured_per_source(release: Path) -> None:
    scales = unipen.measure_sources(unipen.read_tree(release).pieces)
    assert scales["upw"].y_up and not scales["dnw"].y_up
    assert scales["dnw"].downward_fraction < unipen_size.Y_DOWN_BELOW < scales["upw"].downward_fraction


def _written(out: Path) -> list[tuple[np.ndarray, str, int]]:
    return [read_sample(path) for split in ("train", "val", "test") for path in sorted((out / split).glob("*.npz"))]


def test_split_writes_upright_samples_of_iam_size(release: Path, tmp_path: Path) -> None:
    report = split_dataset("unipen", release, out_dir=tmp_path / "out", seed=1)
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["breakdown"] == {"category": {"1a": 52, "7": 15}, "source": {"dnw": 26, "upw": 41}}
    assert set(meta["preprocessing"]["sources"]) == {"upw", "dnw"}
    assert sum(report.counts.values()) == 67
    samples = _written(tmp_path / "out")
    for offsets, text, _ in samples:
        assert validate_offsets(offsets) is None
        first_stroke = split_strokes(offsets)[0]
        if text in DIGITS:  # every glyph starts with a bar drawn from its top down: y up means it falls
            assert first_stroke[-1, 1] < first_stroke[0, 1]
    heights = [line_metrics(o).x_height for o, text, _ in samples if text in WORDS]
    assert abs(np.median(heights) / unipen_size.IAM_ONDB_X_HEIGHT - 1) < 0.15
    splits_of_writer: dict[int, set[str]] = {}
    for split in ("train", "val", "test"):
        for path in sample_files(tmp_path / "out", split) if report.counts[split] else []:
            splits_of_writer.setdefault(read_sample(path)[2], set()).add(split)
    assert all(len(splits) == 1 for splits in splits_of_writer.values())  # writer-disjoint


def test_categories_choose_what_is_read(release: Path, tmp_path: Path) -> None:
    report = split_dataset("unipen", release, out_dir=tmp_path / "out", options={"categories": ["7"]})
    assert report.breakdown["category"] == {"7": 15}
    with pytest.raises(ScribeError, match="unknown UNIPEN category 9z"):
        split_dataset("unipen", release, out_dir=tmp_path / "o2", options={"categories": ["9z"]})
    with pytest.raises(ScribeError, match="iam-ondb has no setting `categories`; it applies to unipen"):
        split_dataset("iam-ondb", release, out_dir=tmp_path / "o3", options={"categories": ["7"]})


def test_the_archive_is_read_like_the_tree(release: Path, tmp_path: Path) -> None:
    archive = tmp_path / "unipen-CDROM-train_r01_v07.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(release, arcname="train_r01_v07")
    from_tree = split_dataset("unipen", release, out_dir=tmp_path / "a", seed=1)
    from_archive = split_dataset("unipen", archive, out_dir=tmp_path / "b", seed=1)
    assert from_tree.counts == from_archive.counts and from_tree.skipped == from_archive.skipped
    assert not list(Path(tmp_path).glob("scribe-unipen-*"))


def test_download_data_takes_the_archive_or_an_unpacked_copy(release: Path, tmp_path: Path, scribe_home: Path) -> None:
    archive = tmp_path / unipen.ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(release, arcname="train_r01_v07")
    imported = download_dataset("unipen", from_files=[archive])
    assert [f.action for f in imported.files] == ["imported"]
    assert unipen.find_tree(imported.raw_dir) == imported.raw_dir / "train_r01_v07"
    assert sum(split_dataset("unipen", seed=1).counts.values()) == 67  # from raw/, into the dataset folder

    copied = download_dataset("unipen", from_files=[release], force=True)
    assert [f.action for f in copied.files] == ["copied"] and copied.files[0].sha256 == ""
    assert [f.action for f in download_dataset("unipen", from_files=[release]).files] == ["already present"]
    (release / "include" / "link.dat").symlink_to("/etc/passwd")
    with pytest.raises(ScribeError, match="link.dat is a link or a special file"):
        download_dataset("unipen", from_files=[release], force=True)
    with pytest.raises(ScribeError, match="is a folder, which has no SHA256"):
        download_dataset("unipen", from_files=[release], sha256=["0" * 64], force=True)
    assert (imported.raw_dir / "train_r01_v07" / "data").is_dir()  # a refused copy leaves the earlier one


def test_an_archive_that_brings_no_release_leaves_nothing_behind(release: Path, tmp_path: Path, scribe_home: Path) -> None:
    zeros, other = tmp_path / "zeros.tgz", tmp_path / "other.tgz"
    zeros.write_bytes(bytes(1 << 20))  # all zeros reads as an empty tar
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("not handwriting")
    with tarfile.open(other, "w:gz") as tar:
        tar.add(tmp_path / "notes", arcname="notes")
    with pytest.raises(ScribeError, match=r"zeros.tgz holds no files \(an empty or all-zero archive\?\)"):
        download_dataset("unipen", from_files=[zeros])
    with pytest.raises(ScribeError, match="holds no UNIPEN release"):
        download_dataset("unipen", from_files=[other])
    dataset = scribe_home / "datasets" / "unipen"
    assert sorted(p.name for p in dataset.rglob("*")) == ["downloads", "raw"]  # no copy, no files, no marker
    download_dataset("unipen", from_files=[release])
    with pytest.raises(ScribeError, match="holds no files"):
        download_dataset("unipen", from_files=[zeros])
    assert (dataset / "raw" / release.name / "data").is_dir()  # what an earlier run brought stays


def test_split_cli_prints_the_breakdown_and_refuses_bad_categories(release: Path, tmp_path: Path) -> None:
    done = scribe("split", "unipen", "--source", str(release), "--out", str(tmp_path / "o"), "--categories", "1a", timeout=300)
    assert done.returncode == 0 and "by category: 1a 52" in done.stderr and "by source: dnw 20, upw 32" in done.stderr
    bad = scribe("split", "unipen", "--source", str(release), "--out", str(tmp_path / "p"), "--categories", "1a,42", timeout=300)
    assert bad.returncode == 1 and bad.stderr.startswith("error: unknown UNIPEN category 42 in --categories")
    assert "Traceback" not in bad.stderr and not (tmp_path / "p").exists()
    other = scribe("split", "iam-ondb", "--source", str(release), "--keep-bad", "--out", str(tmp_path / "q"), timeout=300)
    assert other.returncode == 1 and "iam-ondb has no setting --keep-bad; it applies to unipen" in other.stderr


# --------------------------------------------------------------------------- real data


@needs_shared_data
@pytest.mark.shared_data
def test_art_sample_splits_upright_with_its_symbols(tmp_path: Path) -> None:
    report = split_dataset("unipen", UNIPEN_SAMPLES / "raw_sample_art", out_dir=tmp_path / "art")
    assert report.breakdown["category"] == {"1a": 170, "1b": 1042, "1d": 193, "2": 3706, "7": 933, "8": 185}
    assert set("$%@&") <= set(report.alphabet)
    samples = _written(tmp_path / "art")
    assert all(validate_offsets(o) is None and set(t) <= set(report.alphabet) for o, t, _ in samples)
    equations = [o for o, t, _ in samples if t == "238$ + 154% = 366.52"]
    assert len(equations) >= 2  # every art writer wrote it
    for equation in equations:
        strokes = split_strokes(equation)
        falling = np.mean([s[-1, 1] < s[0, 1] for s in strokes if s[-1, 1] != s[0, 1]])
        assert falling > 0.6  # digits and symbols drawn top down: upright, not mirrored in y
        metrics = line_metrics(equation)
        assert metrics.right - metrics.left > 4 * (metrics.top - metrics.bottom)  # one line, written left to right


@needs_shared_data
@pytest.mark.shared_data
def test_ceb_sample_loses_its_damaged_ink(tmp_path: Path) -> None:
    """ceb's ink has runs and lone points at the origin; none may reach a sample as a jump across the pad."""
    report = split_dataset("unipen", UNIPEN_SAMPLES / "raw_sample_ceb", out_dir=tmp_path / "ceb")
    samples = _written(tmp_path / "ceb")
    assert sum(report.counts.values()) == len(samples) > 700
    for offsets, _, _ in samples:
        assert validate_offsets(offsets) is None
        in_stroke = np.concatenate([np.diff(s, axis=0) for s in split_strokes(offsets) if len(s) > 1])
        assert np.hypot(in_stroke[:, 0], in_stroke[:, 1]).max() < 8 * unipen_size.IAM_ONDB_X_HEIGHT  # a dropout jumps cm
    meta = json.loads((tmp_path / "ceb" / "meta.json").read_text())
    assert meta["preprocessing"]["sources"]["ceb"]["y_up"]


@needs_shared_data
@pytest.mark.shared_data
def test_whole_archive_segments_per_category() -> None:
    """Every data file of the release, its segments parsed (the ink is read by the split, minutes on 2 cores)."""
    counts: Counter[str] = Counter()
    with tarfile.open(UNIPEN_SAMPLES / "train_r01_v07.tar.gz") as archive:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and len(parts) > 3 and parts[1] == "data":
                text = archive.extractfile(member).read().decode("latin-1")  # type: ignore[union-attr]
                for keyword, argument in statements(text):
                    if keyword == "SEGMENT":
                        counts[parts[2], parse_segment(argument).kind] += 1
    # The CD-ROM's published counts for 1a, 1b, 1d; the rest as this (patched) copy has them.
    assert counts[("1a", "CHARACTER")] == 15_953
    assert counts[("1b", "CHARACTER")] == 28_069
    assert counts[("1d", "CHARACTER")] == 17_286
    assert counts[("7", "WORD")] >= 85_000 and counts[("8", "TEXT")] >= 14_544


def test_a_samples_name_gives_back_its_source_and_category() -> None:
    """Composed lines pick UNIPEN's character and word samples by the tags in their file names."""
    name = unipen.sample_id("art-x", "1b", "0a1b2c3d", 42)
    assert name == "art-x-1b-0a1b2c3d-00042" and unipen.sample_tags(name) == ("art-x", "1b")
    assert unipen.sample_tags("a01-000u-01") == ("", "")  # an IAM-OnDB line's name
