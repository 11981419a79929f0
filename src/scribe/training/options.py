"""What ``scribe train`` can set, its defaults (written once, here and in the model configs), and presets.

Two kinds of settings: the training loop's (:class:`TrainOptions` fields) and the
network's architecture, whose defaults are the fields of the kind's config class
(:class:`scribe.writing.stored.WriterConfig`, :class:`~scribe.writing.stored.RecognizerConfig`).
A TOML preset (``--config``) may set either with the same flat names; flags given on
the command line win over it, and :func:`resolve_options` is the one place they merge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from scribe.errors import ScribeError
from scribe.safeio import read_toml
from scribe.training.sources import data_folders, parse_mix
from scribe.writing.stored import GRAVES, KINDS, SIZE_LIMITS, ModelKind, model_kind

#: Config fields that come from the data, never from options.
DATA_FIELDS = frozenset({"kind", "vocab_size", "styles"})
PATH_OPTIONS = ("out_dir", "init_from")
#: Preset keys that are another name of a setting: ``data``, as the flag says, is ``data_dir``.
ALIASES = {"data": "data_dir"}
MAX_PRESET_BYTES = 65_536


@dataclass
class TrainOptions:
    """The training loop's settings; ``architecture`` overrides the kind's config defaults.

    ``data_dir`` lists the split datasets, the reference first (see
    :mod:`scribe.training.sources`); one name or path stands for a list of one.
    """

    data_dir: list[Path]
    out_dir: Path
    kind: str = GRAVES
    architecture: dict[str, Any] = field(default_factory=dict)  # e.g. {"hidden": 256, "layers": 3}
    epochs: int = 30
    max_steps: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    lr_warmup: int = 200  # steps of linear warm-up
    lr_half_life: int = 20_000  # steps for the learning rate to halve after warm-up
    min_lr_fraction: float = 0.05
    grad_clip: float = 5.0
    writer_styles: bool = True  # Graves: learn one style embedding per training writer
    style_dropout: float = 0.1  # fraction of lines trained as "any writer" (style 0)
    kl_weight: float = 1.0  # final weight of the KL term (VAE)
    kl_anneal_steps: int = 5_000  # steps over which the KL weight rises from 0 (VAE)
    free_bits: float = 0.25  # KL floor per latent dimension, nats (VAE)
    max_points: int | None = 1_200  # longer training lines are left out
    eval_every: int = 500
    eval_batches: int | None = None  # validate on at most this many batches
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    overwrite: bool = False  # replace the run already in out_dir (without it, that is refused)
    init_from: Path | None = None  # start from these weights (fine-tuning, a grown model)
    mix: dict[str, float] | None = None  # dataset name -> share of the draws; None: proportional to their sizes

    def __post_init__(self) -> None:
        """Refuse settings that cannot train (a zero batch, a NaN learning rate, a string for a number)."""
        model_kind(self.kind)
        self.data_dir = data_folders(self.data_dir)
        if self.mix is not None:
            self.mix = parse_mix(self.mix)
        check_settings({spec.name: getattr(self, spec.name) for spec in fields(self)}, self.architecture)

    @property
    def model_kind(self) -> ModelKind:
        return KINDS[self.kind]

    def to_dict(self) -> dict[str, Any]:
        """Plain values (paths as strings), as a checkpoint keeps them."""
        plain = asdict(self)
        plain["data_dir"] = [str(path) for path in self.data_dir]
        return {k: str(v) if isinstance(v, Path) else v for k, v in plain.items()}


@dataclass(frozen=True)
class Range:
    """The numbers a setting accepts: from ``lowest`` (excluded when ``above``) to ``highest``."""

    lowest: float
    highest: float | None = None
    whole: bool = True
    above: bool = False

    def check(self, name: str, value: Any) -> None:
        """Raise a one-line ScribeError naming the setting unless ``value`` is in range."""
        number = isinstance(value, int) if self.whole else isinstance(value, (int, float))
        if isinstance(value, bool) or not number or not math.isfinite(value) or not self._holds(value):
            what, shown = ("a whole number", "{:,.0f}") if self.whole else ("a number", "{:g}")
            bound = f"above {self.lowest:g}" if self.above else f"at least {shown.format(self.lowest)}"
            upper = f" and at most {shown.format(self.highest)}" if self.highest is not None else ""
            raise ScribeError(f"`{name}` must be {what} {bound}{upper}, not {value!r}")

    def _holds(self, value: float) -> bool:
        low_ok = value > self.lowest if self.above else value >= self.lowest
        return low_ok and (self.highest is None or value <= self.highest)


POSITIVE, FRACTION = Range(0, whole=False, above=True), Range(0, 1, whole=False)
#: The range of every numeric setting; an architecture size not named here goes from 1 to its SIZE_LIMITS.
RANGES: dict[str, Range] = {
    **dict.fromkeys(("epochs", "max_steps", "lr_half_life", "eval_every", "eval_batches"), Range(1, 10**9)),
    "batch_size": Range(1, 65_536),
    "lr": Range(0, 10, whole=False, above=True),
    **dict.fromkeys(("grad_clip", "kappa_scale"), POSITIVE),
    **dict.fromkeys(("min_lr_fraction", "style_dropout", "dropout"), FRACTION),
    **dict.fromkeys(("lr_warmup", "kl_anneal_steps"), Range(0, 10**9)),
    "seed": Range(0, 2**32 - 1),  # what NumPy's and PyTorch's generators take
    **dict.fromkeys(("kl_weight", "free_bits"), Range(0, whole=False)),
    "max_points": Range(2),
}


_TYPES: dict[str, type] = {
    **dict.fromkeys(("resume", "overwrite", "writer_styles"), bool),
    **dict.fromkeys(("device", "kind"), str),
    **dict.fromkeys(("out_dir", "init_from"), Path),
}
_TYPE_NAMES = {bool: "true or false", str: "a string", Path: "a path (a string)"}


def check_settings(loop: dict[str, Any], architecture: dict[str, Any]) -> None:
    """Refuse a setting out of its range (:data:`RANGES`) or of the wrong type; None means unset."""
    for name, value in loop.items():
        if name in RANGES and value is not None:
            RANGES[name].check(name, value)
    for name, value in architecture.items():
        RANGES.get(name, Range(1, SIZE_LIMITS.get(name))).check(name, value)
    for name, value in loop.items():  # the rest must at least have the right type (a preset may say anything)
        expected = _TYPES.get(name)
        if expected is not None and value is not None and not isinstance(value, expected):
            raise ScribeError(f"`{name}` must be {_TYPE_NAMES[expected]}, not {value!r}")


def option_default(name: str) -> Any:
    """The default of a :class:`TrainOptions` field (for ``--help``)."""
    spec = next(f for f in fields(TrainOptions) if f.name == name)
    return spec.default if spec.default is not MISSING else None


def architecture_names(kind: ModelKind) -> list[str]:
    """The architecture settings of ``kind``: its config fields that do not come from the data."""
    return [f.name for f in fields(kind.config) if f.name not in DATA_FIELDS]


def architecture_default(name: str) -> str:
    """An architecture setting's default per kind, e.g. ``400 (graves, vae), 192 (recognizer)``."""
    by_value: dict[Any, list[str]] = {}
    for kind in KINDS.values():
        spec = {f.name: f for f in fields(kind.config)}.get(name)
        if spec is not None:
            by_value.setdefault(spec.default, []).append(kind.name)
    return ", ".join(f"{value} ({', '.join(kinds)})" for value, kinds in by_value.items())


def _unaliased(values: dict[str, Any], preset: Path | None) -> dict[str, Any]:
    """``values`` with every alias (:data:`ALIASES`) under its setting's name; both names at once is refused."""
    values = dict(values)
    for alias, name in ALIASES.items():
        if alias in values:
            if name in values:
                where = f" in {preset}" if preset is not None else ""
                raise ScribeError(f"both {alias} and {name} are set{where}; they are one setting, keep one")
            values[name] = values.pop(alias)
    return values


def resolve_options(
    preset: Path | None, given: dict[str, Any], default_data_dir: Callable[[], Path]
) -> TrainOptions:
    """Defaults, then the preset's values, then ``given`` (the flags set on the command line).

    Every key is either a :class:`TrainOptions` field or an architecture setting of the
    chosen kind; anything else is refused, naming it and where it came from.
    """
    preset_values = _unaliased(read_toml(preset, "the preset", MAX_PRESET_BYTES) if preset is not None else {}, preset)
    values = {**preset_values, **_unaliased(given, None)}
    kind = model_kind(str(values.pop("kind", GRAVES)))
    loop = {f.name for f in fields(TrainOptions)} - {"kind", "architecture"}
    names = architecture_names(kind)
    try:  # the preset's own values, also those a flag overrides: a wrong one is a mistake in the file
        check_settings({k: v for k, v in preset_values.items() if k in loop and k not in PATH_OPTIONS},
                       {k: v for k, v in preset_values.items() if k in names})
    except ScribeError as exc:
        raise ScribeError(f"{exc} (in {preset})") from None
    architecture = {k: values.pop(k) for k in names if k in values}
    unknown = sorted(set(values) - loop)
    if unknown:
        where = f" in {preset}" if preset is not None else ""
        raise ScribeError(f"unknown training setting(s) {', '.join(unknown)}{where} for a {kind.name} model")
    for key in PATH_OPTIONS:
        if isinstance(values.get(key), str):
            values[key] = Path(values[key])
    values.setdefault("out_dir", Path("runs") / kind.name)
    if values.get("data_dir") is None:
        values["data_dir"] = default_data_dir()
    return TrainOptions(kind=kind.name, architecture=architecture, **values)
