"""Everything tests share: tiny files in the exact formats scribe reads, tiny models, a local HTTP server.

Tests must not depend on the real datasets, so each builder writes a small,
deterministic file with the same keys, dtypes and layout as the real thing and
returns what it wrote, for assertions. The fixtures that use these live in
``conftest.py``; no test module imports another.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from scribe.training.options import TrainOptions


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="../shared/data is absent (real datasets are not part of the repository)"
)



def make_line(rng: np.random.Generator, n_strokes: int, points_per_stroke: int) -> np.ndarray:
    """A random but plausible line of handwriting as offsets ``[dx, dy, pen_up]``."""
    rows = []
    for _ in range(n_strokes):
        steps = np.column_stack(
            [rng.normal(2.0, 1.0, points_per_stroke), rng.normal(0.0, 2.0, points_per_stroke), np.zeros(points_per_stroke)]
        )
        steps[-1, 2] = 1.0
        rows.append(steps)
    offsets = np.concatenate(rows).astype(np.float32)
    offsets[0, :2] = 0.0
    return offsets


def write_split_dataset(root: Path, texts_by_split: dict[str, list[str]], seed: int = 0) -> Path:
    """Write a split dataset (meta.json + <split>/<id>.npz) as ``scribe split`` does."""
    rng = np.random.default_rng(seed)
    all_offsets = []
    for split, texts in texts_by_split.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(texts):
            offsets = make_line(rng, n_strokes=len(text.split()) + 1, points_per_stroke=3 + 2 * len(text) // 3)
            all_offsets.append(offsets)
            np.savez(
                root / split / f"{split}-{i:03d}.npz",
                offsets=offsets,
                text=np.array(text),
                writer=np.array(100 + i, dtype=np.int64),
            )
    stacked = np.concatenate(all_offsets)
    meta = {
        "format_version": 1,
        "dataset": "tiny",
        "alphabet": "".join(sorted({c for texts in texts_by_split.values() for t in texts for c in t})),
        "mean": stacked.mean(axis=0).tolist(),
        "std": stacked.std(axis=0).tolist(),
        "counts": {split: len(texts) for split, texts in texts_by_split.items()},
    }
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def tiny_model_file(path: Path, kind: str = "graves", styles: int = 0) -> Path:
    """An untrained tiny model saved as a portable model file (.npz), as shipped models are."""
    import torch

    from scribe.ink.alphabet import Alphabet
    from scribe.training.checkpoint import stored_model
    from scribe.training.networks import HandwritingModel
    from scribe.writing.stored import WriterConfig

    torch.manual_seed(0)
    alphabet = Alphabet("abcdefghijklmnopqrstuvwxyz ")
    config = WriterConfig(
        kind=kind, vocab_size=len(alphabet), hidden=16, layers=2, mixtures=3, window_mixtures=2,
        encoder_dim=8, embed_dim=8, latent_dim=4, stroke_encoder_dim=8, styles=styles, style_dim=4,
    )
    model = HandwritingModel(config)
    mean, std = np.array([2.0, 0.0, 0.1]), np.array([5.0, 5.0, 0.3])
    stored_model(model, alphabet, mean, std, step=1, points_per_char=4.0).save(path)
    return path


TINY_WRITER = dict(hidden=16, layers=2, mixtures=3, window_mixtures=2, encoder_dim=8, embed_dim=8, latent_dim=4)
TINY_RECOGNIZER = dict(hidden=16, layers=2)


def tiny_options(data: Path, out: Path, **overrides: object) -> TrainOptions:
    """Training options for a few fast steps of a tiny model of ``overrides["kind"]`` (default graves)."""
    from scribe.training.options import resolve_options

    tiny = TINY_RECOGNIZER if overrides.get("kind") == "recognizer" else TINY_WRITER
    values: dict[str, object] = dict(
        data_dir=data, out_dir=out, batch_size=2, lr=3e-3, lr_warmup=2, eval_every=4, kl_anneal_steps=5, **tiny
    )
    values.update(overrides)
    return resolve_options(None, values, lambda: data)


# --------------------------------------------------------------------------- dataset files

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


# --------------------------------------------------------------------------- a local HTTP server

@dataclass
class Route:
    """What the server does for one path: ``behaviour`` and the body it serves."""

    body: bytes
    behaviour: str = "normal"  # normal | cut-once | ignore-range | 404 | 403 | 500-once
    hits: int = 0


@dataclass
class Server:
    """The running test server: register routes, read the requests it saw."""

    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def add(self, path: str, body: bytes, behaviour: str = "normal") -> str:
        self.routes[path] = Route(body, behaviour)
        return self.base + path

    def ranges(self, path: str) -> list[str | None]:
        return [headers.get("Range") for p, headers in self.requests if p == path]


def make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            server.requests.append((self.path, dict(self.headers)))
            route = server.routes.get(self.path)
            if route is None or route.behaviour == "404":
                self.send_error(404)
                return
            route.hits += 1
            if route.behaviour == "403":
                self.send_error(403)
            elif route.behaviour == "500-once" and route.hits == 1:
                self.send_error(500)
            elif route.behaviour == "ignore-range":
                self._send(route.body, 0)
            elif route.behaviour == "cut-once" and route.hits == 1:
                self._send(route.body, self._range_start(), cut=True)
            else:
                self._send(route.body, self._range_start())

        def _range_start(self) -> int:
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            return int(match.group(1)) if match else 0

        def _send(self, body: bytes, start: int, cut: bool = False) -> None:
            if start >= len(body) and start:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            rest = body[start:]
            if cut:
                self.wfile.write(rest[: len(rest) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            else:
                self.wfile.write(rest)

    return Handler
