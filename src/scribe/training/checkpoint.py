"""Checkpoints: plain dicts of tensors and basic types, loadable with ``weights_only=True``.

Every checkpoint holds what is needed to use the model on its own::

    {"format_version": 1, "kind": "graves" | "vae" | "recognizer",
     "config": ModelConfig (RecognizerConfig) as dict, "alphabet": str,
     "normalization": {"mean": [3 floats], "std": [3 floats]},
     "state_dict": {...}, "step": int,
     "style_writers": [dataset writer id of style 1, 2, ...]}   # Graves with writer styles

``last.pth`` adds ``"training"``: optimizer, scheduler and RNG states, the position in
the data and the training options, so that ``--resume`` continues exactly.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from scribe.ink.alphabet import Alphabet
from scribe.atomic import atomic_write
from scribe.training.data import StyleTable
from scribe.errors import ScribeError
from scribe.training.networks import HandwritingModel, ModelConfig
from scribe.writing.stored import read_model_file, write_model_file
from scribe.training.recognizer import Recognizer, RecognizerConfig

FORMAT_VERSION = 1


def save_checkpoint(checkpoint: dict, path: Path) -> None:
    """Write ``checkpoint`` to ``path`` atomically: a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        torch.save(checkpoint, handle)


def read_checkpoint(path: Path) -> dict:
    """Load and check a scribe checkpoint without running any pickled code."""
    path = Path(path)
    if not path.is_file():
        raise ScribeError(f"model file {path} not found; check the path")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScribeError(f"{path} is not a readable scribe checkpoint ({reason[:120]})") from exc
    if not isinstance(checkpoint, dict) or "format_version" not in checkpoint or "state_dict" not in checkpoint:
        raise ScribeError(f"{path} is not a scribe checkpoint (no format_version/state_dict)")
    if checkpoint["format_version"] != FORMAT_VERSION:
        raise ScribeError(
            f"{path} has checkpoint format version {checkpoint['format_version']}, this scribe reads "
            f"version {FORMAT_VERSION}; upgrade scribe or use a matching checkpoint"
        )
    return checkpoint


@dataclass
class LoadedModel:
    """A model ready to use, with what it needs to read text and write strokes."""

    model: HandwritingModel | Recognizer
    alphabet: Alphabet
    mean: np.ndarray
    std: np.ndarray
    step: int
    checkpoint: dict
    styles: StyleTable


def load_model(path: Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Build the model stored in ``path``, a checkpoint or a model file (in eval mode, on ``device``)."""
    path = Path(path)
    if path.suffix == ".npz":
        stored = read_model_file(path)
        checkpoint = {**stored, "state_dict": {k: torch.from_numpy(v) for k, v in stored["state_dict"].items()}}
    else:
        checkpoint = read_checkpoint(path)
    try:
        model = build_model(checkpoint["config"])
        model.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})
        normalization = checkpoint["normalization"]
        loaded = LoadedModel(
            model=model.to(device).eval(),
            alphabet=Alphabet(checkpoint["alphabet"]),
            mean=np.asarray(normalization["mean"], dtype=np.float32),
            std=np.asarray(normalization["std"], dtype=np.float32),
            step=int(checkpoint.get("step", 0)),
            checkpoint=checkpoint,
            styles=StyleTable([int(w) for w in checkpoint.get("style_writers", [])]),
        )
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ScribeError(f"{path} is a damaged scribe checkpoint ({str(exc).splitlines()[0][:120]})") from exc
    return loaded


def build_model(config: dict) -> HandwritingModel | Recognizer:
    """The untrained network a checkpoint's ``config`` describes."""
    if config.get("kind") == "recognizer":
        return Recognizer(RecognizerConfig.from_dict(config))
    return HandwritingModel(ModelConfig.from_dict(config))


def model_checkpoint(
    model: HandwritingModel | Recognizer,
    alphabet: Alphabet,
    mean: np.ndarray,
    std: np.ndarray,
    step: int,
    styles: StyleTable | None = None,
    points_per_char: float | None = None,
) -> dict:
    """The self-contained part of a checkpoint (everything but the training state)."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": model.config.kind,
        "config": model.config.to_dict(),
        "alphabet": alphabet.characters,
        "normalization": {"mean": [float(v) for v in mean], "std": [float(v) for v in std]},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "step": step,
        "style_writers": list(styles.writers) if styles is not None else [],
        "points_per_char": points_per_char,
    }


def export_model_file(checkpoint: dict, path: Path) -> None:
    """Save the model of a checkpoint as a portable float16 model file (:mod:`scribe.writing.stored`)."""
    state = {name: tensor.float().numpy() for name, tensor in checkpoint["state_dict"].items()}
    write_model_file({**checkpoint, "state_dict": state}, path)


def initialize_from(model: HandwritingModel, state_dict: dict[str, torch.Tensor]) -> list[str]:
    """Copy ``state_dict`` into ``model``, letting the model have grown since it was saved.

    A parameter of the same shape is copied; a weight matrix with more input columns
    (new conditioning appended to a layer's input) gets the saved columns first and
    zeros after them, so the grown model computes exactly what the saved one did;
    parameters the saved model lacks keep their initialization. Returns their names.
    Raises ValueError for anything else (another architecture, another alphabet size).
    """
    own = model.state_dict()
    unexpected = sorted(set(state_dict) - set(own))
    if unexpected:
        raise ValueError(f"the saved model has parameters this one lacks ({', '.join(unexpected[:3])})")
    with torch.no_grad():
        for name, saved in state_dict.items():
            target = own[name]
            grows_inputs = target.dim() == 2 and saved.dim() == 2 and saved.shape[0] == target.shape[0]
            if saved.shape == target.shape:
                target.copy_(saved)
            elif grows_inputs and saved.shape[1] < target.shape[1]:
                target.zero_()
                target[:, : saved.shape[1]] = saved
            else:
                raise ValueError(f"{name} has shape {tuple(saved.shape)}, this model needs {tuple(target.shape)}")
    return sorted(set(own) - set(state_dict))
