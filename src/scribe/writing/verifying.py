"""Verified writing: each line read back as soon as it is written, and a misread one drawn again.

It runs inside each share's continuous batch (:mod:`scribe.writing.sampling`): a
written line waits to be read with others, and a line that reads wrong (or that the
attention window objects to) is drawn again, until it has been drawn ``candidates``
times, in the rows that finished lines leave, while the rest of the text is still
being written. Reading and rewriting thus keep both cores busy instead of waiting for
a whole page's first drafts, and no round of a page's rewrites runs in a small batch
of its own (a 250-line document: 6.9 s instead of 11.8 s, docs/model-card.md).

A line keeps its first sample that reads right, else the one the window objects to
least and, among those, the one most likely to say its text (CTC's probability of the
text, :meth:`InkReader.check`). A reader slips on good ink now and then ("Mheet"):
the probability still weighs such a line by all its ink, where the count of edits in
the best-path reading weighs one slip like a missing letter and ties most samples.
Samples are considered in the order they were drawn whether they were drawn one at a
time or at once, so a line comes out the same whichever lines share its batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scribe.writing.checks import SampledLine
from scribe.writing.reader import READ_BATCH, InkReader, Reading, fold_look_alikes

NARROW_ROWS = READ_BATCH  # a batch with fewer rows being written has rows to spare for more candidates


@dataclass(frozen=True)
class Verification:
    """How written lines are checked: the reader, and how many samples a misread line may get, the first included."""

    reader: InkReader
    candidates: int
    rewrites: bool = True  # False: lines are only read (a line allowed one sampling is never drawn again)


def note_reading(line: SampledLine, reading: Reading, reader: InkReader) -> None:
    """Record on ``line`` what it reads as, how many edits that is from its text (look-alikes folded), and its likelihood."""
    from rapidfuzz.distance import Levenshtein  # here: writing without verification never needs it (10 ms a start)

    line.reading = reading.text
    line.misread = Levenshtein.distance(fold_look_alikes(reader.readable(line.text)), fold_look_alikes(reading.text))
    line.likelihood = reading.likelihood


@dataclass
class _Rewrite:
    """A misread line being drawn again: its samples so far in the order drawn, and how many are not yet read."""

    first: SampledLine
    candidates: dict[int, SampledLine] = field(default_factory=dict)  # by number, from 0
    drawn: int = 0
    pending: int = 0

    def choice(self) -> SampledLine:
        """The sample to keep of those drawn: the first that reads right, else the best ranked (the earliest of equals)."""
        samples = [self.first, *(self.candidates[number] for number in range(self.drawn))]
        return next((sample for sample in samples if sample.reads_right), min(samples, key=lambda sample: sample.rank))


class Verifier:
    """The lines of one continuous batch waiting to be read, and the misread lines being drawn again.

    Lines are known by their index in the batch's texts. :meth:`take` queues a written
    line, :meth:`read` reads the queue and says which lines are final and which
    candidates to draw; the batch draws them and hands each back to :meth:`take`.
    While the batch is busy a misread line's candidates are drawn one at a time, until
    one reads right or the line has ``candidates`` samples (on the benchmark page that
    kept the same lines as drawing them all at once, with a tenth fewer samples); once
    it runs narrow, with no line waiting, the rest are drawn at once, as they then cost
    little more than one.
    """

    def __init__(self, verification: Verification, texts: list[str]) -> None:
        self.verification = verification
        self.texts = texts
        self.unread: list[tuple[int, SampledLine, int | None]] = []  # (text, line, its candidate number or None)
        self.rewrites: dict[int, _Rewrite] = {}

    def take(self, text: int, line: SampledLine, candidate: int | None) -> None:
        """Queue a written line for reading: a first sample (``candidate`` None) or candidate number ``candidate``."""
        self.unread.append((text, line, candidate))

    def read_when_due(self, writing: int, waiting: int) -> tuple[list[tuple[int, SampledLine]], list[tuple[int, int]]]:
        """Read the queued lines if it is time, given the lines being ``writing`` and ``waiting`` to start in the batch:
        the lines now final (text, line), and the candidates to draw (text, number from 0).

        It is time when a reader's batch is ready, or when no line waits to start and as
        many wait to be read as are still being written (rewrites then start while the
        batch is still wide). A batch narrower than :data:`NARROW_ROWS`, with nothing
        waiting, has rows to spare: a misread line's remaining candidates are drawn at once.
        """
        queued = len(self.unread)
        if not (queued >= READ_BATCH or (queued > 0 and not waiting and queued >= writing)):
            return [], []
        return self._read(at_once=not waiting and writing < NARROW_ROWS)

    def _read(self, at_once: bool) -> tuple[list[tuple[int, SampledLine]], list[tuple[int, int]]]:
        """Read every queued line (see :meth:`read_when_due`); ``at_once``: all a misread line may still get, else one."""
        unread, self.unread = self.unread, []
        reader = self.verification.reader
        readings = reader.check([line.offsets for _, line, _ in unread], [self.texts[text] for text, _, _ in unread])
        final: list[tuple[int, SampledLine]] = []
        redraw: list[tuple[int, int]] = []
        for (text, line, candidate), reading in zip(unread, readings):
            note_reading(line, reading, reader)
            if candidate is None:
                if line.reads_right or not self.verification.rewrites:
                    final.append((text, line))
                    continue
                rewrite = self.rewrites[text] = _Rewrite(line)
            else:
                rewrite = self.rewrites[text]
                rewrite.candidates[candidate] = line
                rewrite.pending -= 1
                if rewrite.pending:
                    continue
            kept = rewrite.choice()
            if kept.reads_right or 1 + rewrite.drawn == self.verification.candidates:
                del self.rewrites[text]
                final.append((text, kept))
                continue
            more = self.verification.candidates - 1 - rewrite.drawn if at_once else 1
            redraw += [(text, rewrite.drawn + number) for number in range(more)]
            rewrite.drawn, rewrite.pending = rewrite.drawn + more, more
        return final, redraw
