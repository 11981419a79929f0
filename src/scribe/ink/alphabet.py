"""The model's character vocabulary: characters <-> integer ids for the text encoder."""

from __future__ import annotations

from collections.abc import Sequence

from scribe.errors import ScribeError


class Alphabet:
    """Maps characters to integer ids for the text encoder.

    Id 0 pads, id 1 marks the end of the text (the attention window is given a
    position past the last character, so that sampling can tell where a line
    ends), and the characters follow from id 2 in the order given.
    """

    PAD = 0
    END = 1
    FIRST_CHAR = 2

    def __init__(self, characters: str) -> None:
        if len(set(characters)) != len(characters):
            raise ValueError("alphabet characters must be unique")
        self.characters = characters
        self._ids = {c: i + self.FIRST_CHAR for i, c in enumerate(characters)}

    def __len__(self) -> int:
        """Vocabulary size, padding and end-of-text ids included."""
        return len(self.characters) + self.FIRST_CHAR

    def __contains__(self, character: str) -> bool:
        return character in self._ids

    def encode(self, text: str, add_end: bool = True) -> list[int]:
        """Character ids of ``text``, followed by the end-of-text id when ``add_end``."""
        missing = sorted({c for c in text if c not in self._ids})
        if missing:
            raise ScribeError(
                f"characters {''.join(missing)!r} are not in the model's alphabet; "
                "replace them or use a model trained on them"
            )
        ids = [self._ids[c] for c in text]
        return ids + [self.END] if add_end else ids

    def decode(self, ids: Sequence[int]) -> str:
        """The characters of ``ids``, skipping padding and end-of-text ids."""
        return "".join(self.characters[i - self.FIRST_CHAR] for i in ids if i >= self.FIRST_CHAR)
