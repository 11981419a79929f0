"""Dataset files in the exact formats scribe reads (and hostile variants of them)."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    pass


DEEPWRITING_ALPHABET = ["", *"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'.,-()/"]
DEEPWRITING_LABEL_KEYS = ("char_labels", "eoc_labels", "soc_labels", "eow_labels", "sow_labels", "word_labels")

DEFAULT_IAM_FORMS = {
    "a01-000u": ["A MOVE to stop Mr . Gaitskell", "from nominating any more Labour", "life Peers is to be made"],
    "a01-001w": ["a resolution on the subject", "and he is to be backed by Mr ."],
    "b02-010": ["Will Griffiths , M P for", "Manchester Exchange ."],
}


class _PicklePayload:
    """An object whose unpickling runs ``call(*args)``: what a hostile DeepWriting file would carry."""

    def __init__(self, call: Any, args: tuple[Any, ...]) -> None:
        self.call, self.args = call, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.call, self.args


def object_array(items: list[Any]) -> np.ndarray:
    """A 1-D object array holding ``items`` as elements (np.array would try to stack them)."""
    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        array[i] = item
    return array


def _deepwriting_raw_offsets(rng: np.random.Generator, ends_mid_stroke: bool) -> np.ndarray:
    """One sample's de-normalized ``[dx, dy, pen]`` in DeepWriting's orientation (y down).

    pen=1 marks the last point of each stroke, as in the real files; a sample
    cut mid-stroke (as real ~300-point crops are) ends with pen=0.
    """
    rows = []
    for _ in range(int(rng.integers(2, 5))):
        n = int(rng.integers(3, 9))
        stroke = np.column_stack([rng.normal(0.8, 0.5, n), rng.normal(0.0, 1.0, n), np.zeros(n)])
        stroke[-1, 2] = 1.0
        rows.append(stroke)
    offsets = np.concatenate(rows)
    offsets[0, :2] = 0.0
    if ends_mid_stroke:
        offsets[-1, 2] = 0.0
    return offsets


def splice_npz_member(path: Path, key: str, data: bytes) -> None:
    """Replace ``<key>.npy`` inside an existing ``.npz`` with raw bytes."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[f"{key}.npy"] = data
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def npy_bytes(array: np.ndarray) -> bytes:
    """An array serialized as a ``.npy`` member, pickling object arrays as NumPy does."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_header_only(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """A ``.npy`` member whose header declares ``shape`` but that holds no data: loading it naively allocates it all."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def planted_object_npy(sentinel: Path) -> bytes:
    """A ``.npy`` object array whose unpickling would create the file ``sentinel`` (through ``os.system``)."""
    return npy_bytes(object_array([np.zeros((3, 3)), _PicklePayload(os.system, (f"touch '{sentinel}'",))]))


def npz_bytes(**members: bytes) -> bytes:
    """An ``.npz`` (a zip) holding each ``name=bytes`` as ``name.npy``, whatever the bytes are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return buffer.getvalue()


def make_deepwriting_npz(
    path: Path, n_samples: int = 4, seed: int = 0, with_pickle_payload: bool = False, payload: str = "system"
) -> dict[str, Any]:
    """Write a DeepWriting ``.npz`` with the real file's keys and dtypes; return what was written.

    ``strokes`` is an object array of float32 (T, 3) normalized offsets
    (``(dx, dy) - mean) / std``, pen raw 0/1, y down); labels are object arrays of
    int32 (T,). Besides every written key, the result holds ``raw_offsets``: the
    de-normalized per-sample offsets in the file's orientation (float64).

    ``with_pickle_payload`` splices into ``strokes`` an element whose unpickling
    would create the file ``result["sentinel"]`` through ``os.system``
    (``payload="system"``) or ``builtins.exec`` (``payload="exec"``).
    """
    rng = np.random.default_rng(seed)
    raw = [_deepwriting_raw_offsets(rng, ends_mid_stroke=i % 2 == 1) for i in range(n_samples)]
    stacked = np.concatenate(raw)
    mean, std = stacked.mean(axis=0).astype(np.float32), stacked.std(axis=0).astype(np.float32)
    strokes = []
    for offsets in raw:
        normalized = offsets.astype(np.float32)
        normalized[:, :2] = (offsets[:, :2] - mean[:2]) / std[:2]
        strokes.append(normalized)
    texts = [f"sample {i} text" for i in range(n_samples)]
    written: dict[str, Any] = {
        "strokes": object_array(strokes),
        "texts": np.array(texts),
        "subject_labels": np.array([10000 + 7 * i for i in range(n_samples)], dtype=np.int64),
        "alphabet": np.array(DEEPWRITING_ALPHABET),
        "mean": mean,
        "std": std,
        "min": stacked.min(axis=0).astype(np.float64),
        "max": stacked.max(axis=0).astype(np.float64),
        "preprocessing": np.array(
            ["scale", "scale", "origin_translation", "relative_representation", "normalization", "normalization"]
        ),
    }
    for key in DEEPWRITING_LABEL_KEYS:
        written[key] = object_array([rng.integers(0, 3, len(offsets)).astype(np.int32) for offsets in raw])
    # Word indices (1-based) that ink every word of "sample i text", in order, as whole lines do.
    written["word_labels"] = object_array(
        [(1 + np.arange(len(offsets)) * 3 // len(offsets)).astype(np.int32) for offsets in raw]
    )
    np.savez(path, **written)
    written["raw_offsets"] = raw
    if with_pickle_payload:
        written["sentinel"] = sentinel = path.parent / "SENTINEL"
        if payload == "system":
            evil = _PicklePayload(os.system, (f"touch '{sentinel}'",))
        else:
            evil = _PicklePayload(exec, (f"open({str(sentinel)!r}, 'w').close()",))
        splice_npz_member(path, "strokes", npy_bytes(object_array([*strokes[:-1], evil])))
    return written


def iam_line_points(line_id: str) -> np.ndarray:
    """The deterministic int32 (N, 3) ``[x, y, end_of_stroke]`` points of a fixture line, y down."""
    rng = np.random.default_rng(zlib.crc32(line_id.encode()))
    rows = []
    x = 1000
    for _ in range(int(rng.integers(2, 5))):
        n = int(rng.integers(3, 8))
        xs = x + np.cumsum(rng.integers(1, 30, n))
        ys = 3200 + rng.integers(-150, 150, n)
        ends = np.zeros(n, dtype=np.int64)
        ends[-1] = 1
        rows.append(np.column_stack([xs, ys, ends]))
        x = int(xs[-1]) + 40
    return np.concatenate(rows).astype(np.int32)


def iam_line_xml(points: np.ndarray) -> bytes:
    """A ``lineStrokes`` XML document in IAM-OnDB's layout for ``points`` ([x, y, end_of_stroke])."""
    strokes, current = [], []
    for i, (x, y, end) in enumerate(points.tolist()):
        current.append(f'      <Point x="{x}" y="{y}" time="{838.55 + i / 100:.2f}"/>')
        if end:
            opening = '    <Stroke colour="black" start_time="838.55" end_time="839.14">\n'
            strokes.append(opening + "\n".join(current) + "\n    </Stroke>")
            current = []
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        "<WhiteboardCaptureSession>\n"
        "  <WhiteboardDescription>\n"
        '    <SensorLocation corner="top_left"/>\n'
        '    <DiagonallyOppositeCoords x="6210" y="3406"/>\n'
        '    <VerticallyOppositeCoords x="993" y="3406"/>\n'
        '    <HorizontallyOppositeCoords x="6210" y="2917"/>\n'
        "  </WhiteboardDescription>\n"
        "  <StrokeSet>\n" + "\n".join(strokes) + "\n  </StrokeSet>\n"
        "</WhiteboardCaptureSession>\n"
    ).encode("iso-8859-1")


def iam_ascii_text(csr_lines: list[str]) -> str:
    """A form transcription file with an ``OCR:`` section (different wrapping) and the ``CSR:`` section."""
    ocr = " ".join(csr_lines)
    return f"OCR:\n\n{ocr}\n\nCSR:\n\n" + "\n".join(csr_lines) + "\n"


def _form_dirs(form_id: str) -> Path:
    """IAM-OnDB's nesting: ``a01-000u`` lives in ``a01/a01-000/``."""
    writer_group, number = form_id.split("-")[:2]
    return Path(writer_group[:3]) / f"{writer_group}-{number[:3]}"


def make_iam_raw_tree(root: Path, forms: dict[str, list[str]] | None = None) -> Path:
    """Write IAM-OnDB's original layout under ``root`` and return ``root``.

    For each form id -> CSR lines: ``lineStrokes/<a01>/<a01-000>/<form>-NN.xml``
    (one per line, points from :func:`iam_line_points`) and
    ``ascii/<a01>/<a01-000>/<form>.txt``. Default: :data:`DEFAULT_IAM_FORMS`.
    """
    forms = DEFAULT_IAM_FORMS if forms is None else forms
    for form_id, lines in forms.items():
        stroke_dir = root / "lineStrokes" / _form_dirs(form_id)
        ascii_dir = root / "ascii" / _form_dirs(form_id)
        stroke_dir.mkdir(parents=True, exist_ok=True)
        ascii_dir.mkdir(parents=True, exist_ok=True)
        (ascii_dir / f"{form_id}.txt").write_text(iam_ascii_text(lines))
        for number in range(1, len(lines) + 1):
            line_id = f"{form_id}-{number:02d}"
            (stroke_dir / f"{line_id}.xml").write_bytes(iam_line_xml(iam_line_points(line_id)))
    return root


def write_iam_split_lists(root: Path, lists: dict[str, list[str]]) -> None:
    """Write IAM-OnDB task lists, e.g. ``{"trainset.txt": ["a01-000u"], "testset_f.txt": ["b02-010-02"]}``."""
    for file_name, entries in lists.items():
        (root / file_name).write_text("".join(f"{entry}\n" for entry in entries))


def make_iam_tars(tree_root: Path, out_dir: Path) -> tuple[Path, Path]:
    """Pack a tree from :func:`make_iam_raw_tree` as ``lineStrokes-all.tar.gz`` and ``ascii-all.tar.gz``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tars = []
    for folder, name in (("lineStrokes", "lineStrokes-all.tar.gz"), ("ascii", "ascii-all.tar.gz")):
        tar_path = out_dir / name
        with tarfile.open(tar_path, "w:gz") as archive:
            archive.add(tree_root / folder, arcname=folder)
        tars.append(tar_path)
    return tars[0], tars[1]


def make_compact_npz(path: Path, n_lines: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    """Write an ``iam_ondb_lines.npz`` with every key; return the arrays written.

    Splits cycle through train, val1, val2, test and "" (no split); every
    fourth line is blacklisted; writers cycle through three ids and -1.
    """
    rng = np.random.default_rng(seed)
    lines, texts, line_ids, form_ids = [], [], [], []
    for i in range(n_lines):
        form_id = f"a{i // 3:02d}-{i:03d}x"
        line_id = f"{form_id}-{i % 3 + 1:02d}"
        points = iam_line_points(line_id)
        points[:, 0] += int(rng.integers(-20, 20))
        lines.append(points)
        texts.append(f"line {i} of the tiny set")
        line_ids.append(line_id)
        form_ids.append(form_id)
    lengths = [len(points) for points in lines]
    written = {
        "points": np.concatenate(lines).astype(np.int16),
        "times_cs": np.concatenate([np.arange(n, dtype=np.int32) * 2 for n in lengths]),
        "line_offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "texts": np.array(texts, dtype="<U64"),
        "line_ids": np.array(line_ids, dtype="<U11"),
        "form_ids": np.array(form_ids, dtype="<U8"),
        "writer_ids": np.array([[10010, 10020, 10030, -1][i % 4] for i in range(n_lines)], dtype=np.int32),
        "split": np.array([["train", "val1", "val2", "test", ""][i % 5] for i in range(n_lines)], dtype="<U5"),
        "blacklisted": np.array([i % 4 == 3 for i in range(n_lines)]),
    }
    np.savez(path, **written)
    return written
