"""Composed lines: isolated UNIPEN characters set side by side into lines (scribe.datasets.composed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers.cli import assert_one_line_error, scribe
from helpers.unipen import make_unipen_tree
from scribe.datasets.composed import Hand, compose, compose_lines, placement, read_hands
from scribe.datasets.composed_text import LONGEST_LINE, composed_text
from scribe.datasets.meta import read_sample, sample_files
from scribe.datasets.split import split_dataset
from scribe.errors import ScribeError
from scribe.ink.strokes import split_strokes, strokes_to_offsets

WORDS = ("harbour", "minimum", "Zurich", "quay")


def _box(width: float, height: float) -> np.ndarray:
    """A glyph as two strokes: its left edge drawn down, then its bottom edge (y up, a box corner)."""
    left = np.column_stack([np.zeros(5), np.linspace(height, 0, 5)])
    bottom = np.column_stack([np.linspace(0, width, 5), np.zeros(5)])
    return strokes_to_offsets([left + [0, 7], bottom + [0, 7]], y_down=False)  # drawn 7 units up in its box


def _hand() -> Hand:
    hand = Hand(writer=3, source="src", cap_height=40.0, x_height=20.0)
    return hand


@pytest.fixture(scope="module")
def unipen_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unipen")
    release = make_unipen_tree(root / "train_r01_v07")
    split_dataset("unipen", release, out_dir=root / "split", seed=1, val_fraction=0.3, test_fraction=0.3)
    return root / "split"


def test_characters_stand_where_their_kind_stands() -> None:
    hand = _hand()
    text = "Ag1- '"
    glyphs = [_box(10, 40), _box(10, 30), _box(4, 40), _box(8, 2), _box(2, 8)]
    offsets = compose(text, glyphs, hand, np.random.default_rng(0))
    strokes = split_strokes(offsets)
    assert len(strokes) == 2 * len(glyphs)  # every stroke kept, none joined
    boxes = [np.concatenate(strokes[i : i + 2]) for i in range(0, len(strokes), 2)]
    bottom = lambda ink: ink[:, 1].min()  # noqa: E731
    top = lambda ink: ink[:, 1].max()  # noqa: E731
    baseline = bottom(boxes[0])  # the line starts at the A's first point: heights count from the A's bottom
    tolerance = 6 * 0.04 * hand.cap_height  # two characters' wobble, three standard deviations each
    assert abs(top(boxes[1]) - baseline - hand.x_height) < tolerance  # g hangs from the x-height
    assert abs(bottom(boxes[2]) - baseline) < tolerance  # 1 on the baseline
    assert abs((top(boxes[3]) + bottom(boxes[3])) / 2 - baseline - 0.5 * hand.x_height) < tolerance  # - centred
    assert abs(top(boxes[4]) - baseline - hand.cap_height) < tolerance  # ' hangs from the capital height
    lefts = [ink[:, 0].min() for ink in boxes]
    rights = [ink[:, 0].max() for ink in boxes]
    gaps = np.array(lefts[1:]) - np.array(rights[:-1])
    assert (gaps > 0).all()  # left to right, none overlapping
    assert gaps[3] > gaps[2]  # the space before the quote is wider than a letter gap


def test_placement_covers_the_kinds_of_character() -> None:
    assert placement("q", 40, 20) == ("top", 20)
    assert placement("(", 40, 20) == ("centre", 18.0)
    assert placement(",", 40, 20) == ("top", 5.0)
    assert placement("Q", 40, 20) == ("bottom", 0.0)


def test_texts_are_reproducible_short_and_full_of_digits() -> None:
    texts = [composed_text(np.random.default_rng(seed), WORDS) for seed in range(300)]
    assert texts == [composed_text(np.random.default_rng(seed), WORDS) for seed in range(300)]
    assert all(0 < len(text) <= LONGEST_LINE and text == text.strip() for text in texts)
    assert np.mean([any(c.isdigit() for c in text) for text in texts]) > 0.6
    assert np.mean([any(c.isupper() for c in text) for text in texts]) > 0.3
    assert len(set(texts)) > 290


def test_hands_come_from_single_characters_of_one_writer(unipen_split: Path) -> None:
    hands, words = read_hands(unipen_split, "train")
    assert hands and set(words) <= {"minimum", "xenon", "summer"}
    for hand in hands:
        assert set(hand.glyphs) <= set("1234567890")
        assert hand.cap_height > 0 and 0 < hand.x_height < hand.cap_height


def test_composed_dataset_is_a_writer_disjoint_reproducible_split(unipen_split: Path, tmp_path: Path) -> None:
    report = compose_lines(unipen_split, tmp_path / "a", 40, seed=5)
    assert report.counts == {"train": 40, "val": 4, "test": 4}
    writers: dict[str, set[int]] = {}
    for split in ("train", "val", "test"):
        for path in sample_files(tmp_path / "a", split):
            offsets, text, writer = read_sample(path)
            assert text and set(text) <= set("1234567890 ")  # the fixture's hands write digits only
            assert len(split_strokes(offsets)) >= 2 * len(text.replace(" ", ""))
            writers.setdefault(split, set()).add(writer)
    assert not writers["train"] & (writers["val"] | writers["test"])
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["dataset"] == "unipen-composed" and meta["counts"]["train"] == 40
    assert meta["preprocessing"]["simplify"]["eps"] == 3.5  # the characters' own, which a model trained on them records
    compose_lines(unipen_split, tmp_path / "b", 40, seed=5)
    for path in sample_files(tmp_path / "a", "train"):
        assert path.read_bytes() == (tmp_path / "b" / "train" / path.name).read_bytes()


def test_only_a_unipen_split_composes(unipen_split: Path, tmp_path: Path) -> None:
    meta = json.loads((unipen_split / "meta.json").read_text())
    other = tmp_path / "other"
    other.mkdir()
    (other / "meta.json").write_text(json.dumps({**meta, "dataset": "iam-ondb"}))
    with pytest.raises(ScribeError, match="not of unipen"):
        compose_lines(other, tmp_path / "out", 10)
    with pytest.raises(ScribeError, match="at least 1"):
        compose_lines(unipen_split, tmp_path / "out", 0)
    assert not (tmp_path / "out").exists()


def test_compose_lines_command(unipen_split: Path, tmp_path: Path) -> None:
    done = scribe("compose-lines", str(unipen_split), "--out", str(tmp_path / "c"), "--lines", "20")
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stderr and "train 20" in done.stderr
    refused = scribe("compose-lines", str(tmp_path / "nothing"), "--out", str(tmp_path / "d"))
    assert_one_line_error(refused, "nothing")
