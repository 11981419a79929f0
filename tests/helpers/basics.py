"""The real-data switch, tiny split datasets, tiny models and training options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from scribe.training.options import TrainOptions


SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # ../shared/data beside the checkout

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
