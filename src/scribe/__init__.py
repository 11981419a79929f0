"""scribe: turn text into realistic, human-like handwriting.

    >>> from scribe import write
    >>> write("Dear Ada, thank you for the letter.").save("letter.pdf")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Document", "Scribe", "StyleMix", "write", "__version__"]

if TYPE_CHECKING:
    from scribe.writing.document import Document, Scribe, write
    from scribe.writing.styles import StyleMix


def __getattr__(name: str) -> Any:
    """Load the writing API on first use, so that ``scribe --version`` and training stay light."""
    if name in ("Document", "Scribe", "write"):
        from scribe.writing import document

        return getattr(document, name)
    if name == "StyleMix":
        from scribe.writing.styles import StyleMix

        return StyleMix
    raise AttributeError(f"module 'scribe' has no attribute {name!r}")
