"""--style-file: reading the user's handwriting in every accepted format, in the model's units."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers.basics import tiny_model_file
from helpers.files import iam_line_points, iam_line_xml, npy_bytes, npy_header_only, npz_bytes, planted_object_npy
from scribe.errors import ScribeError
from scribe.ink.metrics import ADVANCE_PER_X_HEIGHT, line_metrics
from scribe.writing.network import InferenceModel, load_inference_model
from scribe.writing.stylefile import MAX_STYLE_POINTS, _path_strokes, _transform, read_style_bytes, read_style_file


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
    for scale in (1.0, 37.0, 1e-30, 1e8):  # any unit, however small or large, within MAX_COORDINATE
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
    (square,) = _path_strokes("M0 0 h10 v10 H0 z", "me.svg")
    np.testing.assert_allclose(square, [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]])
    (curve,) = _path_strokes("M0 0 Q5 10 10 0", "me.svg")
    assert curve[-1].tolist() == [10, 0] and curve[:, 1].max() == pytest.approx(5, abs=0.2)
    assert len(_path_strokes("M0 0 L1 1 M5 5 L6 6", "me.svg")) == 2
    point = _transform("translate(3 4) scale(2)", "me.svg") @ [1, 1, 1]
    np.testing.assert_allclose(point, [5, 6, 1])
    np.testing.assert_allclose(_transform("rotate(90)", "me.svg") @ [1, 0, 1], [0, 1, 1], atol=1e-12)
    np.testing.assert_allclose(_transform("skewX(45), translate(1)", "me.svg") @ [0, 2, 1], [3, 2, 1])


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


SVG = '<svg xmlns="http://www.w3.org/2000/svg">{}</svg>'
PATH = '<path d="M0 0 L10 10 L20 0"/>'


def svg(body: str) -> bytes:
    return SVG.format(body).encode()


def style_json(strokes: object, text: str = "nnn") -> bytes:
    return json.dumps({"text": text, "strokes": strokes}).encode()


def offsets_npz(offsets: np.ndarray) -> bytes:
    return npz_bytes(offsets=npy_bytes(offsets), text=npy_bytes(np.array("nn")))


def good_offsets(n: int = 12) -> np.ndarray:
    offsets = np.zeros((n, 3), np.float32)
    offsets[1:, 0] = 2.0
    offsets[1:, 1] = np.tile([3.0, -3.0], n)[: n - 1]
    offsets[-1, 2] = 1
    return offsets


def with_value(row: int, column: int, value: float) -> np.ndarray:
    offsets = good_offsets()
    offsets[row, column] = value
    return offsets


IAM_POINT = '<StrokeSet><Stroke><Point x="{}" y="5"/><Point x="3" y="9"/></Stroke></StrokeSet>'


HOSTILE = [
    # SVG: attributes that are not numbers, malformed paths and transforms, overflow
    ("me.svg", svg('<line x1="abc" y1="0" x2="5" y2="5"/>'), "the x1 attribute of a <line> is not a list of finite numbers"),
    ("me.svg", svg('<line x1="1 2" y1="0" x2="5" y2="5"/>'), "is not one number"),
    ("me.svg", svg('<path d="M 0 0 L garbage 5"/>'), "the d attribute of a <path> is not a list of finite numbers"),
    ("me.svg", svg('<path d="M 0 0 L 1e999 5"/>'), "the d attribute of a <path> is not a list of finite numbers"),
    ("me.svg", svg('<path d="0 0 L 5 5"/>'), "does not start with a command"),
    ("me.svg", svg('<path d="M 0 0 L 5"/>'), "command L is followed by 1 numbers, expected sets of 2"),
    ("me.svg", svg('<path d="M 0 0 L 5 5 Z 3"/>'), "command Z is followed by 1 numbers, expected none"),
    ("me.svg", svg(f'<g transform="scale(x)">{PATH}</g>'), r"a transform attribute's scale\(\) is not a list of finite numbers"),
    ("me.svg", svg(f'<g transform="scale(2) wobble(3)">{PATH}</g>'), "not a list of SVG transform functions"),
    ("me.svg", svg(f'<g transform="rotate(1 2)">{PATH}</g>'), r"rotate\(\) has 2 numbers"),
    ("me.svg", svg('<polyline points="0,0 5,x"/>'), "the points of a <polyline>"),
    ("me.svg", svg(f'<g transform="scale(1e300)"><g transform="scale(1e300)">{PATH}</g></g>'), "NaN or infinite"),
    ("me.svg", svg('<path d="M0 0 L2e9 1"/>'), "beyond ±1,000,000,000"),
    ("me.svg", svg('<line x1="0" y1="0" x2="1" y2="1"/>' * (MAX_STYLE_POINTS // 2 + 1)), "over 20,000 points"),
    ("me.svg", svg('<path d="M0 0 ' + "c1 1 2 2 3 3 " * (MAX_STYLE_POINTS // 8 + 1) + '"/>'), "over 20,000 points"),
    ("me.svg", svg("<g/>"), "holds no strokes"),
    # JSON: NaN, Infinity, numbers JSON reads as infinite, shapes that are not pairs, huge values
    ("me.json", b'{"text": "a", "strokes": [[[0, 0], [NaN, 1]]]}', r"NaN is not a number"),
    ("me.json", b'{"text": "a", "strokes": [[[0, 0], [-Infinity, 1]]]}', r"-Infinity is not a number"),
    ("me.json", b'{"text": "a", "strokes": [[[0, 0], [1e400, 1]]]}', "NaN or infinite coordinates"),
    ("me.json", b'{"text": "a", "strokes": [[[0, 0], [1' + b"0" * 400 + b', 1]]]}', "not a list of \\[x, y\\] pairs"),
    ("me.json", style_json([[1, 2, 3]]), "a stroke is not a list of \\[x, y\\] pairs"),
    ("me.json", style_json([[[1, 2, 3], [4, 5, 6]]]), "a stroke is not a list of \\[x, y\\] pairs"),
    ("me.json", style_json([[["a", "b"]]]), "a stroke is not a list of \\[x, y\\] pairs"),
    ("me.json", style_json([{"x": 1}]), "a stroke is not a list of \\[x, y\\] pairs"),
    ("me.json", style_json(5), 'no "strokes" list'),
    ("me.json", b"[" * 100_000 + b"]" * 100_000, "not a scribe style JSON"),
    ("me.json", b"\xff\xfe", "not a scribe style JSON"),
    ("me.json", style_json([[[0, 0], [1e300, 1e300], [2e300, 0]]]), "beyond ±1,000,000,000"),
    ("me.json", style_json([[[i % 7, i % 3] for i in range(MAX_STYLE_POINTS + 1)]]), "over 20,000 points"),
    ("me.json", style_json([[[0, 0]]]), r"not a usable line \(too few points\)"),
    ("me.json", style_json([[[1, 1], [1, 1]]]), r"not a usable line \(no pen movement\)"),
    # .npz: not a zip, records, objects, declared sizes, NaN, a wrong pen column, too many points
    ("me.npz", npy_bytes(good_offsets()), "one .npy array, not an .npz; save it with numpy.savez"),
    ("me.npz", npz_bytes(text=npy_bytes(np.array("nn"))), "missing array\\(s\\) offsets"),
    ("me.npz", offsets_npz(np.zeros(5, dtype=[("dx", "f4"), ("dy", "f4"), ("pen", "f4")])), "offsets is a 1-D array of"),
    ("me.npz", offsets_npz(np.array([["1", "2", "3"]])), "offsets is a 2-D array of <U1, not a 2-D array of numbers"),
    ("me.npz", offsets_npz(good_offsets()[:, :2]), r"expected \(T, 3\)"),
    ("me.npz", npz_bytes(offsets=npy_header_only((10**6, 10**6))), r"declares a \(1000000, 1000000\) array"),
    ("me.npz", npz_bytes(offsets=npy_bytes(np.zeros((2_000_001, 1))), text=b""), "over the 16,000,000 read for one array"),
    ("me.npz", offsets_npz(np.zeros((MAX_STYLE_POINTS + 1, 3), np.float32)), "over 20,000 points"),
    ("me.npz", offsets_npz(with_value(3, 0, np.nan)), "NaN or infinite coordinates"),
    ("me.npz", offsets_npz(with_value(3, 1, -np.inf)), "NaN or infinite coordinates"),
    ("me.npz", offsets_npz(with_value(3, 1, 1e30)), "beyond ±1,000,000,000"),
    ("me.npz", offsets_npz(with_value(3, 2, 7)), r"not a usable line \(pen_up is not 0 or 1\)"),
    ("me.npz", offsets_npz(with_value(0, 0, 5)), r"not a usable line \(first point is not at the origin\)"),
    ("me.npz", npz_bytes(offsets=npy_bytes(good_offsets()), text=npy_bytes(np.array([1, 2]))), "text is a 1-D array"),
    # IAM-OnDB XML: coordinates beyond int32 or not whole, no strokes
    ("me.xml", IAM_POINT.format("1" * 30).encode(), "a <Point> lacks whole-number x/y within 32 bits"),
    ("me.xml", IAM_POINT.format("2.5").encode(), "a <Point> lacks whole-number x/y within 32 bits"),
    ("me.xml", IAM_POINT.format("1" * 5000).encode(), "a <Point> lacks whole-number x/y within 32 bits"),
    ("me.xml", b"<WhiteboardCaptureSession><StrokeSet/></WhiteboardCaptureSession>", "holds no strokes"),
]


@pytest.mark.parametrize(("name", "content", "message"), HOSTILE, ids=[f"{name}: {message[:50]}" for name, _, message in HOSTILE])
def test_hostile_style_files_are_one_line_errors(
    name: str, content: bytes, message: str, model: InferenceModel, tmp_path: Path
) -> None:
    (tmp_path / name).write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy warning may reach the user either
        with pytest.raises(ScribeError, match=message) as info:
            read_style_file(tmp_path / name, "nn", model)
    text = str(info.value)
    assert "\n" not in text and len(text) < 400 and "allow_pickle" not in text and "trust" not in text


def test_an_object_array_in_a_style_npz_is_refused_without_unpickling(model: InferenceModel, tmp_path: Path) -> None:
    sentinel = tmp_path / "SENTINEL"
    (tmp_path / "me.npz").write_bytes(npz_bytes(offsets=planted_object_npy(sentinel)))
    with pytest.raises(ScribeError, match="offsets.npy: holds Python objects, which scribe does not unpickle"):
        read_style_file(tmp_path / "me.npz", "nn", model)
    assert not sentinel.exists()


def test_deeply_nested_svg_groups_are_read_without_recursion(model: InferenceModel, tmp_path: Path) -> None:
    depth = 100_000
    (tmp_path / "deep.svg").write_bytes(svg("<g>" * depth + PATH + "</g>" * depth))
    offsets, text = read_style_file(tmp_path / "deep.svg", "nn", model)
    assert text == "nn" and len(offsets) >= 2 and np.all(np.isfinite(offsets))


def test_negative_iam_coordinates_are_read_as_in_the_real_data(model: InferenceModel, tmp_path: Path) -> None:
    points = iam_line_points("a01-000u-01")
    points[:, 0] -= 1100  # IAM-OnDB's own x goes down to -51
    (tmp_path / "line.xml").write_bytes(iam_line_xml(points))
    offsets, _ = read_style_file(tmp_path / "line.xml", "a move", model)
    assert np.all(np.isfinite(offsets)) and offsets[:, 2].sum() >= 1


def test_a_style_text_the_model_cannot_write_is_refused(model: InferenceModel, tmp_path: Path) -> None:
    (tmp_path / "me.json").write_text(json.dumps({"text": "\u2603 \u2603", "strokes": zigzag_strokes()}))
    with pytest.raises(ScribeError, match="the style text '☃ ☃' of .*me.json has no character the model can write"):
        read_style_file(tmp_path / "me.json", None, model)
    with pytest.raises(ScribeError, match="the style text '(☃ ){20}\\.\\.\\.' of .* has no character the model can write"):
        read_style_file(tmp_path / "me.json", "☃ " * 40, model)


def test_a_style_text_longer_than_a_line_is_refused_before_it_is_encoded(model: InferenceModel) -> None:
    sample = json.dumps({"text": "a" * 100_000, "strokes": zigzag_strokes()}).encode()  # priming would encode it all
    with pytest.raises(ScribeError, match="has 100,000 characters; one line of handwriting has at most 300"):
        read_style_bytes(sample, ".json", "(a sample)", None, model)
    offsets, text = read_style_bytes(sample.replace(b"a" * 100_000, b"zig zag"), ".json", "(a sample)", None, model)
    assert text == "zig zag" and len(offsets) > 2
