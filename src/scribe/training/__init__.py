"""The training room: the only part of scribe that imports PyTorch (an optional extra).

Its modules import torch at the top, except :mod:`scribe.training.options`, which
the command line reads to show training's defaults without loading PyTorch.
"""

from __future__ import annotations

import importlib.util

from scribe.errors import ScribeError

INSTALL_HINT = "pip install 'scribe-handwriting[train]'"


def require_torch() -> None:
    """Raise a one-line ScribeError when PyTorch is not installed (writing never needs it)."""
    if importlib.util.find_spec("torch") is None:
        raise ScribeError(f"training, evaluation and checkpoints need PyTorch, which is not installed: {INSTALL_HINT}")
