"""The one description of a trained model, and its portable file: readable without PyTorch.

A :class:`StoredModel` is what a training checkpoint, the portable ``.npz`` model
file and the NumPy network all mean by "a model": its kind and configuration, the
alphabet it reads, the normalization of its strokes, its writer styles, and its
weights. It is typed and versioned plain data: no pickles, no classes on disk.

``scribe write`` must start fast and work offline, so the models shipped in the
package are ``.npz`` files rather than ``.pth`` checkpoints (importing PyTorch alone
takes longer than writing a page)::

    "meta":           0-d unicode array, JSON of StoredModel.header()
    "param/<name>":   one array per weight (float16 or float32)

The model kinds are one table, :data:`KINDS`; what training needs of each kind
(network builder, loss, evaluation) is its row in :data:`scribe.training.kinds.TRAINING`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from scribe.atomic import atomic_write, make_folder_for
from scribe.errors import ScribeError, reason
from scribe.safeio import read_npz_safely

GRAVES, VAE, RECOGNIZER = "graves", "vae", "recognizer"  # the model kinds, rows of KINDS below
FORMAT_VERSION = 1  # of the header, shared by model files and training checkpoints
PARAM_PREFIX = "param/"
MAX_WEIGHT_BYTES = 1 << 30  # one weight matrix; the shipped model's largest is under 1 MB
#: Largest size of each part of a network: far above any model scribe trains, far below what exhausts memory.
SIZE_LIMITS: dict[str, int] = {
    **dict.fromkeys(("hidden", "embed_dim", "encoder_dim", "stroke_encoder_dim", "channels"), 4096),
    **dict.fromkeys(("latent_dim", "style_dim"), 1024),
    "layers": 16,
    "mixtures": 200,
    "window_mixtures": 100,
    **dict.fromkeys(("styles", "vocab_size"), 100_000),
}
MAX_POINTS_PER_CHAR = 1000.0  # a character takes about 11 points; far more is not handwriting
REQUIRED_HEADER = ("kind", "config", "alphabet", "normalization")  # the rest has defaults in version 1

ConfigT = TypeVar("ConfigT", bound="StoredConfig")


class StoredConfig:
    """A dataclass of hyper-parameters kept in model files and checkpoints as a plain dict."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[ConfigT], values: dict[str, Any]) -> ConfigT:
        """The config from a stored dict; a key this version does not know means another format."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config field(s) {', '.join(unknown)}")
        return cls(**values)


@dataclass
class WriterConfig(StoredConfig):
    """Hyper-parameters of the handwriting models (Graves' MDN-LSTM and the VAE)."""

    kind: str  # GRAVES or VAE
    vocab_size: int  # alphabet size, padding and end-of-text ids included
    embed_dim: int = 64
    encoder_dim: int = 128  # text encoding size (each LSTM direction)
    hidden: int = 400
    layers: int = 3
    mixtures: int = 20  # M, output Gaussians
    window_mixtures: int = 10  # K, attention Gaussians
    # exp(kappa_hat) / kappa_scale is the window's step: the paper's unscaled step
    # races through the text at initialization and the decoder learns to ignore it.
    # Training sets it from the data (twice the points per character) unless given.
    kappa_scale: float = 25.0
    latent_dim: int = 32  # VAE only
    stroke_encoder_dim: int = 256  # VAE only
    # Graves only: learned writer styles, one embedding per training writer plus
    # row 0 for "any writer" (unknown writers, validation, and style dropout).
    styles: int = 0
    style_dim: int = 16

    @property
    def pen_classes(self) -> int:
        """1 Bernoulli logit (pen up) for Graves; 3 classes (down, up, end) for the VAE."""
        return 3 if self.kind == VAE else 1

    @property
    def cond_dim(self) -> int:
        """Size of the per-line conditioning the decoder reads: z (VAE) or a writer style."""
        if self.kind == VAE:
            return self.latent_dim
        return self.style_dim if self.styles else 0


@dataclass
class RecognizerConfig(StoredConfig):
    """Hyper-parameters of the handwriting recognizer (CTC)."""

    vocab_size: int  # alphabet size, padding (= blank) and end-of-text ids included
    kind: str = RECOGNIZER
    channels: int = 128  # convolution width
    hidden: int = 192  # each LSTM direction
    layers: int = 2
    dropout: float = 0.2


ModelConfig = WriterConfig | RecognizerConfig


@dataclass(frozen=True)
class ModelKind:
    """One kind of model scribe trains: its config class, and whether it writes or reads ink."""

    name: str
    config: type[WriterConfig] | type[RecognizerConfig]
    writes: bool
    description: str


KINDS: dict[str, ModelKind] = {
    kind.name: kind
    for kind in (
        ModelKind(GRAVES, WriterConfig, True, "Graves MDN-LSTM with soft attention and learned writer styles"),
        ModelKind(VAE, WriterConfig, True, "SketchRNN-style VAE: a latent style z and the attention decoder"),
        ModelKind(RECOGNIZER, RecognizerConfig, False, "online handwriting recognizer (CTC) that reads ink back"),
    )
}


def model_kind(name: str) -> ModelKind:
    """The row of :data:`KINDS` called ``name``."""
    if name not in KINDS:
        raise ScribeError(f"unknown model kind {name!r}; choose one of {', '.join(KINDS)}")
    return KINDS[name]


@dataclass
class StoredModel:
    """A trained model as plain data: what it is, what it reads, and its weights (float32)."""

    config: ModelConfig
    alphabet: str
    mean: np.ndarray  # (3,) of [dx, dy, pen_up] in the training data's units
    std: np.ndarray  # (3,)
    weights: dict[str, np.ndarray]
    step: int = 0
    style_writers: list[int] = field(default_factory=list)  # dataset writer id of style 1, 2, ...
    style_datasets: list[str] = field(default_factory=list)  # the dataset of each of those writers (ids are per dataset)
    points_per_char: float | None = None  # the training data's median (several datasets: their mix-weighted median)
    simplified_at: float | None = None  # the training ink's Ramer-Douglas-Peucker tolerance (dataset units); None: not recorded
    datasets: dict[str, float] = field(default_factory=dict)  # training datasets -> mix weight, the reference first
    builtin_styles: list[int] | None = None  # curated writer styles in order; None: every style
    style_advances: list[float] = field(default_factory=list)  # width per character of each built-in style

    @property
    def kind(self) -> ModelKind:
        return KINDS[self.config.kind]

    def header(self) -> dict[str, Any]:
        """Everything but the weights, as JSON-ready plain data (also the checkpoint's keys)."""
        return {
            "format_version": FORMAT_VERSION,
            "kind": self.config.kind,
            "config": self.config.to_dict(),
            "alphabet": self.alphabet,
            "normalization": {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]},
            "step": self.step,
            "style_writers": list(self.style_writers),
            "style_datasets": list(self.style_datasets),
            "points_per_char": self.points_per_char,
            "simplified_at": self.simplified_at,
            "datasets": dict(self.datasets),
            "builtin_styles": self.builtin_styles,
            "style_advances": list(self.style_advances),
        }

    @classmethod
    def from_header(cls, header: dict[str, Any], weights: dict[str, np.ndarray], source: str) -> StoredModel:
        """Check a stored header's version and types; raises ScribeError naming ``source``."""
        version = header.get("format_version") if isinstance(header, dict) else None
        if version != FORMAT_VERSION:
            raise ScribeError(
                f"{source} has model format version {version}, this scribe reads version {FORMAT_VERSION}; "
                "upgrade scribe or use a matching model"
            )
        missing = [key for key in REQUIRED_HEADER if key not in header]
        if missing:
            raise ScribeError(f"{source} is a damaged scribe model (it lacks {', '.join(missing)})")
        try:
            config = model_kind(str(header["kind"])).config.from_dict(dict(header["config"]))
            normalization = header["normalization"]
            model = cls(
                config=config,
                alphabet=str(header["alphabet"]),
                mean=_vector(normalization["mean"]),
                std=_vector(normalization["std"]),
                weights={name: np.asarray(value, np.float32) for name, value in weights.items()},
                step=int(header.get("step") or 0),
                style_writers=[int(w) for w in header.get("style_writers") or []],
                style_datasets=[str(d) for d in header.get("style_datasets") or []],
                points_per_char=_optional_float(header.get("points_per_char")),
                simplified_at=_optional_float(header.get("simplified_at")),
                datasets={str(name): float(w) for name, w in dict(header.get("datasets") or {}).items()},
                builtin_styles=None if header.get("builtin_styles") is None else [int(s) for s in header["builtin_styles"]],
                style_advances=[float(a) for a in header.get("style_advances") or []],
            )
        except (KeyError, TypeError, ValueError, ScribeError) as exc:
            raise ScribeError(f"{source} is a damaged scribe model ({reason(exc)})") from exc
        _check_values(model, source)
        broken = sorted(name for name, value in model.weights.items() if not np.isfinite(value).all())
        if broken:
            raise ScribeError(
                f"{source} has NaN or infinite weights ({broken[0]}{' and more' if len(broken) > 1 else ''}): "
                "it was saved from a diverged run; use an earlier checkpoint"
            )
        return model

    def save(self, path: Path, dtype: type = np.float16) -> None:
        """Write the portable model file atomically (weights stored as ``dtype``)."""
        path = Path(path)
        arrays: dict[str, Any] = {PARAM_PREFIX + name: np.asarray(value, dtype=dtype) for name, value in self.weights.items()}
        make_folder_for(path)
        with atomic_write(path) as handle:
            # Stored, not deflated: float16 weights shrink 8% deflated, and inflating them
            # took 20-25 ms of every `scribe write` (a wheel deflates its files anyway).
            np.savez(handle, meta=np.array(json.dumps(self.header())), **arrays)

    @classmethod
    def load(cls, path: Path) -> StoredModel:
        """Read a portable model file (``.npz``), nothing pickled."""
        path = Path(path)
        if not path.is_file():
            raise missing_model_file(path)
        arrays = read_npz_safely(path, "scribe model", objects=False, max_bytes=MAX_WEIGHT_BYTES)
        try:
            header = json.loads(str(arrays["meta"]))
        except (KeyError, ValueError) as exc:
            raise ScribeError(f"{path} is not a readable scribe model file ({reason(exc)})") from exc
        weights = {key[len(PARAM_PREFIX) :]: value for key, value in arrays.items() if key.startswith(PARAM_PREFIX)}
        return cls.from_header(header, weights, str(path))


def _check_values(model: StoredModel, source: str) -> None:
    """Refuse stored numbers no trained model has: sizes below 1, a non-positive scale, NaN statistics."""
    problems = []
    for spec in fields(model.config):
        value = getattr(model.config, spec.name)
        lowest, highest = (0 if spec.name == "styles" else 1), SIZE_LIMITS.get(spec.name, 1 << 30)
        if isinstance(spec.default, int) and (not isinstance(value, int) or not lowest <= value <= highest):
            problems.append(f"{spec.name} {value!r}")
        elif isinstance(spec.default, float) and not (isinstance(value, (int, float)) and _positive(spec.name, value)):
            problems.append(f"{spec.name} {value!r}")
    if not (np.isfinite(model.mean).all() and np.isfinite(model.std).all() and (model.std[:2] > 0).all()):
        problems.append("normalization")
    if model.points_per_char is not None and not 0 < model.points_per_char <= MAX_POINTS_PER_CHAR:
        problems.append(f"points_per_char {model.points_per_char!r}")
    if model.simplified_at is not None and not 0 < model.simplified_at < math.inf:
        problems.append(f"simplified_at {model.simplified_at!r}")
    if model.style_datasets and len(model.style_datasets) != len(model.style_writers):
        problems.append(f"style datasets ({len(model.style_datasets)} for {len(model.style_writers)} writers)")
    if not all(0 < weight <= 1 for weight in model.datasets.values()):
        problems.append("dataset weights")
    if not all(0 < advance <= MAX_POINTS_PER_CHAR for advance in model.style_advances):
        problems.append("style widths")
    learned = getattr(model.config, "styles", 0)
    if model.builtin_styles is not None and not all(0 <= style <= learned for style in model.builtin_styles):
        problems.append(f"built-in styles {model.builtin_styles!r} (it has styles 0 to {learned})")
    if problems:
        raise ScribeError(f"{source} is a damaged scribe model (impossible {', '.join(problems)})")


def _positive(name: str, value: float) -> bool:
    """A finite number above 0 (a dropout may be 0)."""
    return (value >= 0 if name == "dropout" else value > 0) and value < math.inf


def missing_model_file(path: Path) -> ScribeError:
    """The error for a model file or checkpoint that is not where the user said (or is not a file)."""
    if path.is_dir():
        return ScribeError(f"{path} is a folder; give the model file in it (.npz) or a checkpoint (.pth)")
    if path.exists():
        return ScribeError(f"{path} is not a regular file; give a model file (.npz) or a checkpoint (.pth)")
    return ScribeError(f"model file {path} not found; check the path")


def _vector(values: Any) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    if vector.shape != (3,):
        raise ValueError(f"normalization needs 3 values, not shape {vector.shape}")
    return vector


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def read_stored_model(path: Path) -> StoredModel:
    """A model file (``.npz``, no PyTorch needed) or a training checkpoint (``.pth``, loads PyTorch)."""
    path = Path(path)
    if path.suffix == ".npz":
        return StoredModel.load(path)
    from scribe.training import require_torch

    require_torch()
    from scribe.training.checkpoint import read_checkpoint  # imports PyTorch: only for .pth files

    return read_checkpoint(path).model
