"""The model registry: one table of every model scribe knows by name.

A model is either shipped inside the package (``scribe/writing/weights/``, so writing works
offline right after ``pip install``) or downloaded on first use from a URL, checked
against its size and SHA-256, and cached in ``$SCRIBE_HOME/models/``. Wherever a
command takes ``--model``, a registry name or a path to a model file (``.npz``) or
training checkpoint (``.pth``) works.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scribe.errors import ScribeError
from scribe.paths import models_dir
from scribe.progress import ProgressFn, no_progress
from scribe.writing.stored import GRAVES, RECOGNIZER, missing_model_file


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: in the package (``package_file``) or at ``url``."""

    name: str
    kind: str  # a key of scribe.writing.stored.KINDS
    description: str
    package_file: str | None = None  # file name under scribe/writing/weights/
    url: str | None = None
    sha256: str | None = None
    size: int | None = None  # bytes

    @property
    def filename(self) -> str:
        return self.package_file or self.url.rsplit("/", 1)[-1]  # type: ignore[union-attr]


REGISTRY: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in [
        ModelEntry(
            name="graves-iam-unipen",
            kind=GRAVES,
            description="Graves MDN-LSTM with attention and writer styles, trained on IAM-OnDB, UNIPEN and lines "
            "composed from UNIPEN's characters: prose, digits, capitals and symbols (the default).",
            package_file="graves-iam-unipen.npz",
        ),
        ModelEntry(
            name="graves-iam",
            kind=GRAVES,
            description="Graves MDN-LSTM with attention and writer styles, trained on IAM-OnDB alone (the previous default).",
            package_file="graves-iam.npz",
        ),
        ModelEntry(
            name="recognizer-iam-unipen-e10",
            kind=RECOGNIZER,
            description="Online handwriting recognizer (CTC) trained on IAM-OnDB and UNIPEN simplified at 10 units, "
            "reading any ink thinned as much: prose, digits, capitals and symbols (the default reader of "
            "`scribe legibility` and verified writing).",
            package_file="recognizer-iam-unipen-e10.npz",
        ),
        ModelEntry(
            name="recognizer-iam-unipen",
            kind=RECOGNIZER,
            description="Online handwriting recognizer (CTC) trained on IAM-OnDB and UNIPEN at the default "
            "simplification: prose, digits, capitals and symbols (the previous default reader).",
            package_file="recognizer-iam-unipen.npz",
        ),
        ModelEntry(
            name="recognizer-iam",
            kind=RECOGNIZER,
            description="Online handwriting recognizer (CTC) trained on IAM-OnDB alone; a second, independent reader.",
            package_file="recognizer-iam.npz",
        ),
    ]
}
DEFAULT_MODEL = "graves-iam-unipen"
DEFAULT_RECOGNIZER = "recognizer-iam-unipen-e10"  # reads ink for `scribe legibility` and verified writing


def shipped_path(entry: ModelEntry) -> Path:
    """Where a packaged model file lives inside the installed package."""
    assert entry.package_file is not None, f"{entry.name} is not a shipped model"
    # The folder beside this module: importlib.resources gave the same path for 5 ms of start-up (its
    # tempfile machinery serves zipped packages, which a model read by path cannot come from anyway).
    return Path(__file__).parent / "weights" / entry.package_file


def cached_path(entry: ModelEntry) -> Path:
    """Where a downloaded model is kept."""
    return models_dir() / entry.filename


def installed_path(entry: ModelEntry) -> Path | None:
    """The model's file if it is available without downloading, else None."""
    path = shipped_path(entry) if entry.package_file else cached_path(entry)
    return path if path.is_file() else None


def download_model(name: str, progress: ProgressFn = no_progress) -> Path:
    """Fetch a registered model into the cache (verified), or return it if already there."""
    entry = registry_entry(name)
    present = installed_path(entry)
    if present is not None:
        return present
    if entry.url is None:
        raise ScribeError(f"model {name!r} should ship with scribe but its file is missing; reinstall scribe")
    from scribe.datasets.download import download_file  # imports requests: only when downloading

    return download_file(entry.url, cached_path(entry), sha256=entry.sha256, size=entry.size, progress=progress)


def _unknown(name: str) -> ScribeError:
    return ScribeError(f"unknown model {name!r}; choose one of {', '.join(REGISTRY)} (see `scribe models`) or give a path")


def registry_entry(name: str) -> ModelEntry:
    if name not in REGISTRY:
        raise _unknown(name)
    return REGISTRY[name]


def resolve_model(name_or_path: str | Path, progress: ProgressFn = no_progress) -> Path:
    """A registry name (downloaded if needed) or an existing path -> the model's file."""
    text = str(name_or_path)
    if text in REGISTRY:
        return download_model(text, progress)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if path.exists() or path.suffix in (".npz", ".pth") or "/" in text:
        raise missing_model_file(path)
    raise _unknown(text)
