"""Checkpoints: a :class:`~scribe.writing.stored.StoredModel` as a plain dict, loadable with ``weights_only=True``.

A checkpoint holds the stored model's header (:meth:`StoredModel.header`: format
version, kind, config, alphabet, normalization, step, writer styles, ...) and its
weights as tensors under ``"state_dict"``. ``last.pth`` adds ``"training"``: optimizer,
scheduler and RNG states, the position in the data and the training options, so
that ``--resume`` continues exactly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from scribe.atomic import atomic_write, check_place
from scribe.errors import ScribeError, reason
from scribe.ink.alphabet import Alphabet
from scribe.training.kinds import TRAINING, build_network
from scribe.training.losses import PEN_END, PEN_UP
from scribe.training.networks import HandwritingModel
from scribe.training.recognizer import Recognizer
from scribe.writing.stored import GRAVES, VAE, StoredModel, WriterConfig, missing_model_file, read_stored_model


@dataclass
class Checkpoint:
    """What a ``.pth`` file holds: the model, and for ``last.pth`` the training state."""

    model: StoredModel
    training: dict[str, Any] | None = None


def stored_model(
    network: HandwritingModel | Recognizer, alphabet: Alphabet, mean: np.ndarray, std: np.ndarray, **extra: Any
) -> StoredModel:
    """The network's weights and what it reads as a :class:`StoredModel` (``extra``: step, style_writers, ...)."""
    weights = {name: value.detach().float().cpu().numpy() for name, value in network.state_dict().items()}
    return StoredModel(config=network.config, alphabet=alphabet.characters, mean=mean, std=std, weights=weights, **extra)


def save_checkpoint(model: StoredModel, path: Path, training: dict[str, Any] | None = None) -> None:
    """Write a checkpoint atomically: a temporary file renamed into place."""
    path = Path(path)
    checkpoint: dict[str, Any] = {
        **model.header(),
        "state_dict": {name: torch.from_numpy(np.array(value)) for name, value in model.weights.items()},
    }
    if training is not None:
        checkpoint["training"] = training
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        torch.save(checkpoint, handle)


def read_checkpoint(path: Path) -> Checkpoint:
    """Load and check a scribe checkpoint without running any pickled code."""
    path = Path(path)
    if not path.is_file():
        raise missing_model_file(path)
    if path.suffix == ".npz":
        raise ScribeError(f"{path} is a model file; this needs a training checkpoint (the .pth files a training run writes)")
    try:
        with warnings.catch_warnings():  # a foreign file's first bytes can look like a pickle protocol torch warns of
            warnings.simplefilter("ignore")
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling a foreign file fails in any way; it is never scribe's
        with open(path, "rb") as handle:  # PyTorch files are zip archives; anything else says nothing useful
            is_zip = handle.read(4) == b"PK\x03\x04"
        why = reason(exc) if is_zip and "enforce fail" not in str(exc) else "not a PyTorch file"  # not torch's C++ text
        raise ScribeError(f"{path} is not a readable scribe checkpoint ({why})") from exc
    if not isinstance(raw, dict) or "format_version" not in raw or not isinstance(raw.get("state_dict"), dict):
        raise ScribeError(f"{path} is not a scribe checkpoint (no format_version/state_dict)")
    try:
        weights = {name: tensor.float().numpy() for name, tensor in raw["state_dict"].items()}
    except AttributeError as exc:
        raise ScribeError(f"{path} is a damaged scribe checkpoint (a weight is not a tensor)") from exc
    header = {key: value for key, value in raw.items() if key not in ("state_dict", "training")}
    return Checkpoint(StoredModel.from_header(header, weights, str(path)), raw.get("training"))


MAX_UNCURATED_STYLES = 32  # exporting every style of a many-writer run would write sentences in each, for minutes


def export_model_file(checkpoint: Path, output: Path, styles: list[int] | None = None) -> StoredModel:
    """Turn a training checkpoint into a portable float16 model file (:meth:`StoredModel.save`).

    ``styles`` curates the built-in styles, in order (writer-style ids, 0 = any
    writer); None keeps every learned style. A model that writes then measures each
    built-in style's width per character, which word wrapping uses
    (:func:`scribe.writing.document.calibrate`).
    """
    if Path(output).suffix != ".npz":
        raise ScribeError(f"model files end in .npz, not {Path(output).suffix or '(none)'}; name the output like model.npz")
    if Path(output).exists() and Path(output).resolve() == Path(checkpoint).resolve():
        raise ScribeError(f"{output} is the checkpoint being exported; give the model file another name")
    check_place(Path(output))  # said now, not after the calibration
    model = read_checkpoint(checkpoint).model
    if styles is not None:
        wrong = [style for style in styles if not 0 <= style <= len(model.style_writers)]
        if wrong or not styles:
            raise ScribeError(
                f"the model has styles 0 to {len(model.style_writers)}; `styles` {wrong or 'none given'} are not among them"
            )
    elif model.kind.writes and len(model.style_writers) > MAX_UNCURATED_STYLES:
        raise ScribeError(
            f"the model has {len(model.style_writers):,} writer styles; choose its built-in ones with `styles` "
            f"(at most {MAX_UNCURATED_STYLES} go without: each is measured at export; scripts/rank_styles.py ranks them)"
        )
    model.builtin_styles = styles
    model.weights = {name: value.astype(np.float16).astype(np.float32) for name, value in model.weights.items()}
    if model.kind.writes:  # measured on the weights the file will hold, before anything is written
        from scribe.writing.document import calibrate

        calibrate(model)
    model.save(output)
    return model


def load_network(model: StoredModel, device: torch.device | str = "cpu") -> HandwritingModel | Recognizer:
    """The stored model's network with its weights, in evaluation mode on ``device``."""
    network = build_network(model.config)
    try:
        network.load_state_dict({name: torch.from_numpy(value) for name, value in model.weights.items()})
    except RuntimeError as exc:
        raise ScribeError(f"the model's weights do not fit its config ({reason(exc)})") from exc
    return network.to(device).eval()


def load_model(path: Path, device: torch.device | str = "cpu") -> tuple[StoredModel, HandwritingModel | Recognizer]:
    """A model file or checkpoint, and its network ready to evaluate."""
    model = read_stored_model(Path(path))
    return model, load_network(model, device)


RowMap = list[tuple[int, int]]  # (row in the saved weight, row in the model's)


def initialize_from(model: nn.Module, state_dict: dict[str, np.ndarray], rows: dict[str, RowMap] | None = None) -> list[str]:
    """Copy ``state_dict`` into ``model``, letting the model have grown since it was saved.

    A parameter of the same shape is copied; a weight matrix with more input columns
    (new conditioning appended to a layer's input) gets the saved columns first and
    zeros after them, so the grown model computes exactly what the saved one did.
    A parameter named in ``rows`` (indexed by character or writer, whose tables may
    have grown or been renumbered) keeps its initialization and receives the saved
    rows where ``rows`` maps them. Parameters the saved model lacks keep their
    initialization. Returns their names. Raises ValueError for anything else
    (another architecture, rows of another width).
    """
    own = model.state_dict()
    rows = rows or {}
    unexpected = sorted(set(state_dict) - set(own))
    if unexpected:
        raise ValueError(f"the saved model has parameters this one lacks ({', '.join(unexpected[:3])})")
    with torch.no_grad():
        for name, value in state_dict.items():
            saved, target = torch.from_numpy(np.asarray(value)), own[name]
            grows_inputs = target.dim() == 2 and saved.dim() == 2 and saved.shape[0] == target.shape[0]
            if name in rows and saved.shape[1:] == target.shape[1:]:
                for saved_row, target_row in rows[name]:
                    target[target_row] = saved[saved_row]
            elif saved.shape == target.shape:
                target.copy_(saved)
            elif grows_inputs and saved.shape[1] < target.shape[1]:
                target.zero_()
                target[:, : saved.shape[1]] = saved
            else:
                raise ValueError(f"{name} has shape {tuple(saved.shape)}, this model needs {tuple(target.shape)}")
    return sorted(set(own) - set(state_dict))


def character_rows(saved: str, alphabet: Alphabet) -> RowMap:
    """Rows of a vocabulary-indexed weight: padding and end of text, then every character both alphabets have."""
    special = [(i, i) for i in range(Alphabet.FIRST_CHAR)]
    shared = [(i + Alphabet.FIRST_CHAR, alphabet.encode(c, add_end=False)[0]) for i, c in enumerate(saved) if c in alphabet]
    return special + shared


def start_from(
    network: HandwritingModel | Recognizer, saved: StoredModel, alphabet: Alphabet, styles: list[tuple[str, int]]
) -> int:
    """Initialize a new run's ``network`` from a trained model of the same kind (fine-tuning, a grown model).

    Characters are matched by what they are, so the run's alphabet may have grown
    (new characters start from their initialization); writer styles are matched by
    (dataset, writer), ``styles[i]`` being the run's style i + 1. A model from before
    styles named their datasets had one dataset: its writers are taken to be the
    run's reference dataset's. Returns how many of the saved writer styles found their
    writer in the run. Raises ValueError when the architectures differ.
    """
    if (saved.config.kind, network.config.kind) == (GRAVES, VAE):
        assert isinstance(network, HandwritingModel)
        _start_vae_from_writer(network, saved, alphabet)
        return 0
    if saved.config.kind != network.config.kind:
        raise ValueError(f"it is a {saved.config.kind} model and this run trains a {network.config.kind} model")
    rows = dict.fromkeys(TRAINING[saved.config.kind].character_rows, character_rows(saved.alphabet, alphabet))
    matched: list[tuple[int, int]] = []
    if "style_embedding.weight" in saved.weights:
        reference = styles[0][0] if styles else ""
        saved_keys = zip(saved.style_datasets or [reference] * len(saved.style_writers), saved.style_writers)
        run_index = {key: i + 1 for i, key in enumerate(styles)}
        matched = [(i + 1, run_index[key]) for i, key in enumerate(saved_keys) if key in run_index]
        rows["style_embedding.weight"] = [(0, 0), *matched]  # style 0, "any writer", is every model's
    initialize_from(network, saved.weights, rows)
    return len(matched)


#: The VAE's "end of line" logit when it starts from a Graves writer, which has no such
#: state: about 1 in 400 points at first, so lines end where the window says until it is learnt.
STARTING_END_LOGIT = -6.0


def _start_vae_from_writer(network: HandwritingModel, saved: StoredModel, alphabet: Alphabet) -> None:
    """A VAE whose decoder starts as a trained Graves writer's, reading z where the writer read its style.

    The decoder's input columns for the writer's style vector become z's (extra
    dimensions of z start at zero weight); the writer's pen-up logit becomes the
    'up' class of the VAE's three, 'down' starts at logit 0 and 'end' at
    :data:`STARTING_END_LOGIT`, which together give the writer's own pen lifts; z's map
    to the initial state starts at zero, the writer's zero state. So at step 0 the
    VAE writes as the writer does with z as its style, and only the stroke encoder
    (and the writer styles, which a VAE has no use for) start afresh.
    """
    assert isinstance(saved.config, WriterConfig)  # a Graves writer's
    style_dim, z_dim = saved.config.cond_dim, network.config.latent_dim
    if z_dim < style_dim:
        raise ValueError(f"its writer styles have {style_dim} dimensions, z {z_dim}: set latent_dim = {style_dim} or more")
    weights = {name: value for name, value in saved.weights.items() if not name.startswith("style_embedding.")}
    head = network.decoder.head.linear
    weight, bias = (torch.from_numpy(np.asarray(weights.pop(f"decoder.head.linear.{part}"))) for part in ("weight", "bias"))
    if weight.shape[1] != head.weight.shape[1] or len(weight) - 1 != len(head.weight) - network.config.pen_classes:
        raise ValueError(f"its output layer has shape {tuple(weight.shape)}, this model needs {tuple(head.weight.shape)}")
    initialize_from(network, weights, {"text_encoder.embedding.weight": character_rows(saved.alphabet, alphabet)})
    initial_state = network.decoder.initial_state
    assert initial_state is not None  # every VAE has one
    with torch.no_grad():
        for parameter in (head.weight, head.bias, initial_state.weight, initial_state.bias):
            parameter.zero_()
        head.weight[PEN_UP], head.bias[PEN_UP] = weight[0], bias[0]  # the writer's pen logit is row 0
        head.weight[network.config.pen_classes :], head.bias[network.config.pen_classes :] = weight[1:], bias[1:]
        head.bias[PEN_END] = STARTING_END_LOGIT
