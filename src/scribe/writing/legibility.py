"""Legibility: write texts with a generator, read them back with a recognizer, count the errors.

The measurement behind ``scribe legibility`` (see docs/legibility.md):

1. the generator writes every text as one line, exactly as ``scribe write`` would
   (same default bias and style, failed lines resampled);
2. the recognizer (:mod:`scribe.writing.reader`, the NumPy twin of
   :mod:`scribe.training.recognizer`) reads the generated ink, and, when the
   texts come from a split dataset, the real ink of the same texts;
3. character and word error rates are edit distances between what was asked for
   and what was read, summed over all lines and divided by the length of the
   texts (so long lines weigh more, as in the handwriting-recognition literature).

The real-ink error rate is the yardstick: the recognizer is imperfect, and a
generator whose ink reads as well as real handwriting scores the same.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein

from scribe.ink.text import fit_to_alphabet
from scribe.progress import ProgressFn, no_progress
from scribe.writing.network import InferenceModel
from scribe.writing.reader import InkReader, fold_look_alikes
from scribe.writing.sampling import DEFAULT_ATTEMPTS, SamplingOptions, write_lines

MISREAD_LISTED = 10  # characters listed in a report's most-misread table
PUNCTUATION = set(".,;:!?'\"-()")
#: Kinds of character whose misreadings are counted apart: a model trained on prose
#: can read well overall and still fail every digit. "first letters" are the first
#: character of each line, whatever it is.
CHARACTER_CLASSES = {
    "lowercase": str.islower,
    "capitals": str.isupper,
    "digits": str.isdigit,
    "punctuation": PUNCTUATION.__contains__,
    "symbols": lambda char: not char.isalnum() and not char.isspace() and char not in PUNCTUATION,
}
FIRST_LETTERS = "first letters"
#: Text sets shipped with scribe (``scribe legibility --texts NAME``), in ``scribe/writing/texts/``.
TEXT_SETS = {
    "real-world": "what users write that prose lacks: addresses, dates, phone numbers, prices, names with rare capitals",
}


def text_set_path(name_or_path: Path) -> Path:
    """The file of a shipped text set called ``name_or_path``, or the path itself."""
    if str(name_or_path) in TEXT_SETS and not name_or_path.exists():
        return Path(__file__).parent / "texts" / f"{name_or_path}.txt"  # as registry.shipped_path finds the weights
    return name_or_path


@dataclass
class ErrorRates:
    """Error rates of readings against their references, in percent."""

    cer: float
    wer: float
    misread: Counter = field(default_factory=Counter)  # reference character -> times misread or dropped
    occurrences: Counter = field(default_factory=Counter)  # reference character -> times it occurs
    first_misread: int = 0  # lines whose first character was misread or dropped
    lines: int = 0  # lines with at least one character

    def by_class(self) -> dict[str, tuple[int, int]]:
        """Times misread and occurrences of each of :data:`CHARACTER_CLASSES`, and of first letters."""
        counts = {
            name: (
                sum(n for char, n in self.misread.items() if belongs(char)),
                sum(n for char, n in self.occurrences.items() if belongs(char)),
            )
            for name, belongs in CHARACTER_CLASSES.items()
        }
        counts[FIRST_LETTERS] = (self.first_misread, self.lines)
        return counts


def error_rates(references: list[str], readings: list[str]) -> ErrorRates:
    """Character and word error rates over all lines (total edits / total reference length).

    Edit distances are Levenshtein's, computed by rapidfuzz (C++; a pure-Python
    dynamic programme took ~2 s for 1,000 lines, rapidfuzz 2 ms). A reference
    character that is substituted or deleted counts as misread.
    """
    char_edits = word_edits = chars = words = 0
    misread: Counter = Counter()
    occurrences: Counter = Counter()
    first_misread = lines = 0
    for reference, reading in zip(references, readings):
        operations = Levenshtein.editops(reference, reading)
        char_edits += len(operations)
        wrong = [op.src_pos for op in operations if op.tag in ("replace", "delete")]
        misread.update(reference[position] for position in wrong)
        occurrences.update(reference)
        first_misread += 0 in wrong
        lines += bool(reference)
        chars += len(reference)
        word_edits += Levenshtein.distance(reference.split(), reading.split())
        words += len(reference.split())
    cer, wer = 100.0 * char_edits / max(chars, 1), 100.0 * word_edits / max(words, 1)
    return ErrorRates(cer, wer, misread, occurrences, first_misread, lines)


def folded_cer(references: list[str], readings: list[str]) -> float:
    """The character error rate with look-alike shapes folded (:data:`~scribe.writing.reader.LOOK_ALIKES`).

    A well-drawn "0207" reads "o2o7" to a reader without context: the strict CER
    counts two errors, this one none, so digits and capitals are judged by their shapes.
    """
    return error_rates([fold_look_alikes(t) for t in references], [fold_look_alikes(r) for r in readings]).cer


@dataclass
class LineReading:
    """One text: what the generated ink (and the real ink, when known) read as."""

    text: str
    generated: str
    real: str | None
    finished: bool  # the generated line ended where its text ends


@dataclass
class LegibilityReport:
    """What ``scribe legibility`` prints."""

    generated_cer: float
    generated_wer: float
    real_cer: float | None  # None when no real ink of the texts is known
    real_wer: float | None
    generated_folded_cer: float  # the CER with look-alike shapes (0/o/O, 1/l/I, ...) counted as one
    real_folded_cer: float | None
    completion_rate: float  # percent of generated lines that ended where their text ends
    most_misread: list[tuple[str, int, int]]  # (character, times misread, occurrences) in generated ink
    by_class: dict[str, tuple[int, int]]  # class -> (times misread, occurrences) in generated ink
    real_by_class: dict[str, tuple[int, int]] | None
    lines: list[LineReading]

    def to_dict(self) -> dict:
        return {
            "generated_cer": self.generated_cer,
            "generated_wer": self.generated_wer,
            "real_cer": self.real_cer,
            "real_wer": self.real_wer,
            "generated_folded_cer": self.generated_folded_cer,
            "real_folded_cer": self.real_folded_cer,
            "completion_rate": self.completion_rate,
            "texts": len(self.lines),
            "most_misread": [{"char": c, "misread": n, "occurrences": total} for c, n, total in self.most_misread],
            "misread_by_class": _class_table(self.by_class),
            "real_misread_by_class": None if self.real_by_class is None else _class_table(self.real_by_class),
        }


def _class_table(counts: dict[str, tuple[int, int]]) -> dict[str, dict[str, float]]:
    return {
        name: {"misread": n, "occurrences": total, "rate": 100.0 * n / total}
        for name, (n, total) in counts.items() if total
    }


def measure_legibility(
    generator: InferenceModel,
    reader: InkReader,
    texts: list[str],
    options: SamplingOptions,
    *,
    real_lines: list[np.ndarray] | None = None,
    seed: int = 0,
    attempts: int = DEFAULT_ATTEMPTS,
    candidates: int = 1,
    verifier: InkReader | None = None,
    progress: ProgressFn = no_progress,
) -> LegibilityReport:
    """Write ``texts``, read the ink back, and compare with the real ink of the same texts.

    Each text is fitted to the generator's alphabet before it is written (as ``scribe
    write`` does) but scored as given: a character the model cannot write counts as
    misread, so that models with different alphabets compare fairly. A text with
    nothing writable reads as nothing. With ``candidates`` above 1 the texts are
    written as verified writing does, the ``verifier`` choosing among candidates; a
    verifier other than ``reader`` keeps the score from rewarding ink that only the
    verifier reads right.
    """
    fitted = [fit_to_alphabet(text, generator.alphabet)[0].strip() for text in texts]
    writable = [i for i, text in enumerate(fitted) if text]
    chooser = (verifier or reader) if candidates > 1 else None
    written = write_lines(
        generator, [fitted[i] for i in writable], options, seed=seed, attempts=attempts, candidates=candidates,
        reader=chooser, progress=progress,
    )
    if chooser is reader:  # verified writing has read every kept line with this very recognizer
        read_back = [line.reading or "" for line in written]
    else:
        read_back = reader.read([line.offsets for line in written])
    readings = dict(zip(writable, read_back))
    finished = dict(zip(writable, (line.finished for line in written)))
    generated = [readings.get(i, "") for i in range(len(texts))]
    real = reader.read(real_lines) if real_lines is not None else None
    generated_rates = error_rates(texts, generated)
    real_rates = error_rates(texts, real) if real is not None else None
    most = generated_rates.misread.most_common(MISREAD_LISTED)
    return LegibilityReport(
        generated_cer=generated_rates.cer,
        generated_wer=generated_rates.wer,
        real_cer=real_rates.cer if real_rates else None,
        real_wer=real_rates.wer if real_rates else None,
        generated_folded_cer=folded_cer(texts, generated),
        real_folded_cer=folded_cer(texts, real) if real is not None else None,
        completion_rate=100.0 * sum(finished.values()) / max(len(texts), 1),
        most_misread=[(char, n, generated_rates.occurrences[char]) for char, n in most],
        by_class=generated_rates.by_class(),
        real_by_class=real_rates.by_class() if real_rates else None,
        lines=[
            LineReading(text, read, real[i] if real is not None else None, finished.get(i, False))
            for i, (text, read) in enumerate(zip(texts, generated))
        ],
    )
