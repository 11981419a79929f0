"""Style features and the writer identifier: slant, width and shape measured as a reader sees them."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.basics import SHARED_DATA, needs_shared_data
from scribe.ink.strokes import points_to_offsets, simplify_offsets
from scribe.ink.style import FEATURE_NAMES, WriterIdentifier, style_features


def arches(letters: int, lean_degrees: float = 0.0, width: float = 1.0, seed: int = 0) -> np.ndarray:
    """A line of 'n'-like arches, one stroke per word of 4, leaning right by ``lean_degrees``, as offsets (y up)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, letters * np.pi, letters * 12)
    x = width * 10 * t / np.pi + rng.normal(0, 0.2, t.size)
    y = 10 * np.abs(np.sin(t)) + rng.normal(0, 0.2, t.size)
    x = x + np.tan(np.deg2rad(lean_degrees)) * y
    lifts = np.zeros(t.size)
    lifts[47::48] = 1
    return points_to_offsets(np.stack([x, y, lifts], axis=1), y_down=False)


def feature(name: str, offsets: np.ndarray, text: str = "nnnnnnnnnnnn") -> float:
    return float(style_features(offsets, text)[FEATURE_NAMES.index(name)])


def test_slant_and_width_are_measured_as_drawn() -> None:
    upright, leaning = feature("slant", arches(12)), feature("slant", arches(12, lean_degrees=20))
    assert abs(upright) < np.deg2rad(5) and np.rad2deg(leaning - upright) == pytest.approx(20, abs=6)
    narrow, wide = feature("width per character", arches(12)), feature("width per character", arches(12, width=2.0))
    assert wide / narrow == pytest.approx(2.0, rel=0.15)
    moved = arches(12)
    moved[0, :2] = [500.0, -300.0]  # the whole line elsewhere on the tablet
    np.testing.assert_allclose(style_features(moved, "n" * 12), style_features(arches(12), "n" * 12), atol=1e-9)
    assert len(style_features(arches(12), "n" * 12)) == len(FEATURE_NAMES)


def test_the_identifier_tells_writers_apart_by_their_hands() -> None:
    hands = {1: dict(lean_degrees=0.0), 2: dict(lean_degrees=25.0), 3: dict(width=1.8)}
    rows = [(w, style_features(arches(12, seed=s, **hand), "n" * 12)) for w, hand in hands.items() for s in range(6)]
    identifier = WriterIdentifier.fit(np.array([f for _, f in rows]), [w for w, _ in rows])
    for writer, hand in hands.items():
        unseen = style_features(arches(12, seed=99, **hand), "n" * 12)
        assert identifier.ranked(unseen[None])[0, 0] == writer


@needs_shared_data
def test_real_writers_are_told_apart_far_above_chance() -> None:
    """IAM-OnDB's sample: each writer's last line is put down to one of them, trained on the others' lines."""
    data = np.load(SHARED_DATA / "iam_ondb_lines_sample100.npz", allow_pickle=False)
    lines: dict[int, list[np.ndarray]] = {}
    for k, writer in enumerate(data["writer_ids"]):
        points = data["points"][data["line_offsets"][k] : data["line_offsets"][k + 1]]
        row = style_features(simplify_offsets(points_to_offsets(points), 10.0), str(data["texts"][k]))
        lines.setdefault(int(writer), []).append(row)
    writers = [w for w, rows in lines.items() if len(rows) >= 4]
    training = [(w, row) for w in writers for row in lines[w][:-1]]
    identifier = WriterIdentifier.fit(np.array([row for _, row in training]), [w for w, _ in training])
    ranked = identifier.ranked(np.array([lines[w][-1] for w in writers]))
    top1 = np.mean(ranked[:, 0] == np.array(writers))
    assert len(writers) >= 10 and top1 >= 0.5, f"{top1:.0%} of {len(writers)} writers (chance {1 / len(writers):.0%})"
