"""--style-file: reading the user's handwriting in every accepted format, in the model's units."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import iam_line_points, iam_line_xml, tiny_model_file
from scribe.errors import ScribeError
from scribe.ink.metrics import ADVANCE_PER_X_HEIGHT, line_metrics
from scribe.writing.network import InferenceModel, load_inference_model
from scribe.writing.stylefile import _path_strokes, _transform, read_style_file


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> InferenceModel:
    return load_inference_model(tiny_model_file(tmp_path_factory.mktemp("m") / "tiny.npz"))


def zigzag_strokes(scale: float = 1.0) -> list[list[list[float]]]:
    """Three 'n'-like strokes in screen coordinates (y down), `scale` units per x-height."""
    strokes = []
    for k in range(3):
        x0 = k * 3.0
        stroke = [[x0 + 0.25 * i, 1.0 - (i % 4 in (1, 2))] for i in range(9)]
        strokes.append([[x * scale, y * scale] for x, y in stroke])
    return strokes


def model_x_height(model: InferenceModel) -> float:
    return model.points_per_char * float(model.mean[0]) / ADVANCE_PER_X_HEIGHT


def test_json_strokes_are_scaled_to_the_models_x_height(model: InferenceModel, tmp_path: Path) -> None:
    for scale in (1.0, 37.0):
        path = tmp_path / f"me-{scale}.json"
        path.write_text(json.dumps({"text": "nnn", "strokes": zigzag_strokes(scale)}))
        offsets, text = read_style_file(path, None, model)
        assert text == "nnn" and offsets.shape[1] == 3 and np.all(offsets[0] == 0)
        assert int(offsets[:, 2].sum()) == 3  # three strokes survive
        assert line_metrics(offsets).x_height == pytest.approx(model_x_height(model), rel=0.1)
        assert offsets[1:, 1].max() > 0  # y was flipped to point up


def test_svg_paths_polylines_and_transforms(model: InferenceModel, tmp_path: Path) -> None:
    strokes = zigzag_strokes(10.0)
    polyline = " ".join(f"{x},{y}" for x, y in strokes[0])
    path_d = "M" + " L".join(f"{x} {y}" for x, y in strokes[1])
    svg = f"""<?xml version="1.0"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 20">
  <g transform="translate(5 2)"><polyline points="{polyline}" fill="none"/><path d="{path_d}"/></g>
  <path d="M 60 10 c 2 -10 4 -10 6 0 s 4 10 6 0"/>
</svg>"""
    (tmp_path / "me.svg").write_text(svg)
    offsets, text = read_style_file(tmp_path / "me.svg", "nnn", model)
    assert text == "nnn" and int(offsets[:, 2].sum()) == 3
    with pytest.raises(ScribeError, match="does not say what it shows"):
        read_style_file(tmp_path / "me.svg", None, model)


def test_path_commands_and_transforms_by_hand() -> None:
    (square,) = _path_strokes("M0 0 h10 v10 H0 z")
    np.testing.assert_allclose(square, [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]])
    (curve,) = _path_strokes("M0 0 Q5 10 10 0")
    assert curve[-1].tolist() == [10, 0] and curve[:, 1].max() == pytest.approx(5, abs=0.2)
    assert len(_path_strokes("M0 0 L1 1 M5 5 L6 6")) == 2
    point = _transform("translate(3 4) scale(2)") @ [1, 1, 1]
    np.testing.assert_allclose(point, [5, 6, 1])
    np.testing.assert_allclose(_transform("rotate(90)") @ [1, 0, 1], [0, 1, 1], atol=1e-12)


def test_npz_samples_and_iam_xml_lines(model: InferenceModel, tmp_path: Path) -> None:
    offsets = np.zeros((12, 3), np.float32)
    offsets[1:, 0] = 2.0
    offsets[1:, 1] = np.tile([3.0, -3.0], 6)[:11]
    offsets[[5, 11], 2] = 1
    np.savez(tmp_path / "sample.npz", offsets=offsets, text=np.array("nn"))
    read, text = read_style_file(tmp_path / "sample.npz", None, model)
    assert text == "nn" and int(read[:, 2].sum()) == 2
    (tmp_path / "line.xml").write_bytes(iam_line_xml(iam_line_points("a01-000u-01")))
    read, text = read_style_file(tmp_path / "line.xml", "a move to stop", model)
    assert text == "a move to stop" and read[:, 2].sum() >= 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("me.txt", b"hello", "unknown kind of file"),
        ("me.json", b'{"text": "a"}', "not a scribe style JSON"),
        ("me.json", b'{"text": "a", "strokes": []}', "holds no strokes"),
        ("me.svg", b"<svg><path", "malformed XML"),
        ("me.svg", b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>', "refusing"),
        ("me.npz", b"not a zip", "not a stroke .npz"),
    ],
)
def test_bad_style_files_are_one_line_errors(
    name: str, content: bytes, message: str, model: InferenceModel, tmp_path: Path
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ScribeError, match=message):
        read_style_file(tmp_path / name, "a", model)
