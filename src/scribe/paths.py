"""Where scribe keeps its files: one data directory, overridable with SCRIBE_HOME.

Layout (documented in docs/data.md)::

    $SCRIBE_HOME/
        datasets/<name>/downloads/   archives as downloaded
        datasets/<name>/raw/         archives extracted
        datasets/<name>/<split>/     one .npz per sample (train, val, test) + meta.json
        models/                      downloaded model weights
"""

from __future__ import annotations

import os
from pathlib import Path

SPLITS = ("train", "val", "test")


def scribe_home() -> Path:
    """The root data directory: ``$SCRIBE_HOME`` if set, else the platform's user data dir."""
    override = os.environ.get("SCRIBE_HOME")
    if override:
        return Path(override).expanduser()
    import platformdirs  # here: `scribe write` with a shipped model never needs it, and it cost 5 ms of start-up

    return Path(platformdirs.user_data_dir("scribe", appauthor=False))


def dataset_dir(name: str) -> Path:
    """Everything belonging to dataset ``name``."""
    return scribe_home() / "datasets" / name


def downloads_dir(name: str) -> Path:
    """Archives of dataset ``name`` as downloaded (kept so a second run can verify them)."""
    return dataset_dir(name) / "downloads"


def raw_dir(name: str) -> Path:
    """Extracted raw files of dataset ``name``."""
    return dataset_dir(name) / "raw"


def models_dir() -> Path:
    """Downloaded model weights."""
    return scribe_home() / "models"
