"""The portable model file: a trained model as one NumPy ``.npz``, readable without PyTorch.

``scribe write`` must start fast and work offline, so the models shipped in the
package are stored in this format rather than as ``.pth`` checkpoints: importing
PyTorch alone takes longer than writing a page. The file holds exactly the
self-contained part of a checkpoint (:mod:`scribe.training.checkpoint`)::

    "meta":           0-d unicode array, JSON {"format_version", "kind", "config",
                      "alphabet", "normalization", "step", "style_writers",
                      "points_per_char", "builtin_styles", "style_advances"}
    "param/<name>":   one array per entry of the model's state_dict (float16 or float32)

Nothing in it is pickled: it is read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from scribe.atomic import atomic_write
from scribe.errors import ScribeError

MODEL_FILE_VERSION = 1
PARAM_PREFIX = "param/"
META_KEYS = (
    "format_version", "kind", "config", "alphabet", "normalization", "step",
    "style_writers", "points_per_char", "builtin_styles", "style_advances",
)


def write_model_file(model: dict, path: Path, dtype: type = np.float16) -> None:
    """Write ``model`` (a checkpoint dict whose state_dict holds NumPy arrays) atomically to ``path``."""
    path = Path(path)
    meta = {key: model.get(key) for key in META_KEYS}
    meta["format_version"] = MODEL_FILE_VERSION
    arrays = {PARAM_PREFIX + name: np.asarray(value, dtype=dtype) for name, value in model["state_dict"].items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        np.savez_compressed(handle, meta=np.array(json.dumps(meta)), **arrays)


def read_model_file(path: Path) -> dict:
    """A model file as a checkpoint-shaped dict with float32 NumPy arrays in ``state_dict``."""
    path = Path(path)
    if not path.is_file():
        raise ScribeError(f"model file {path} not found; check the path")
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            state = {
                key[len(PARAM_PREFIX) :]: npz[key].astype(np.float32) for key in npz.files if key.startswith(PARAM_PREFIX)
            }
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ScribeError(f"{path} is not a readable scribe model file ({str(exc)[:120]})") from exc
    if not isinstance(meta, dict) or meta.get("format_version") != MODEL_FILE_VERSION:
        raise ScribeError(
            f"{path} has model file version {meta.get('format_version') if isinstance(meta, dict) else '?'}, "
            f"this scribe reads version {MODEL_FILE_VERSION}; upgrade scribe or use a matching model"
        )
    return {**meta, "state_dict": state}
