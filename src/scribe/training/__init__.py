"""The training room: the only part of scribe that imports PyTorch (an optional extra).

Its modules import torch at the top, except :mod:`scribe.training.options`, which
the command line reads to show training's defaults without loading PyTorch.
"""

from __future__ import annotations

import importlib.util

from scribe.errors import ScribeError

INSTALL_HINT = "pip install 'scribe-handwriting[train]'"


#: What the ``[train]`` extra installs and the training room imports (writing needs neither).
EXTRA_MODULES = {"torch": "PyTorch", "rapidfuzz": "rapidfuzz"}


def require_torch() -> None:
    """Raise a one-line ScribeError when the ``[train]`` extra (PyTorch, rapidfuzz) is not installed."""
    missing = [name for module, name in EXTRA_MODULES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise ScribeError(
            f"training, evaluation and checkpoints need {' and '.join(missing)} (not installed): {INSTALL_HINT}"
        )
