"""What a reader would see is wrong with a sampled line, judged from its ink and the attention window's path.

A line can fail in ways a reader sees at once: it runs on past its text or adds a
mark after it, collapses into a scribble, skips letters or gets stuck on one, or
loses its place. :func:`line_problems` names these from the finished line;
:class:`RejectionWatch` sees the ones that are certain before the line is finished
(too many points, a window stuck on one letter or fallen back), so that sampling
can stop such a line at once and start it again (:mod:`scribe.writing.sampling`).
Thresholds are relative to the model's typical points per character.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scribe.ink.strokes import offsets_to_points
from scribe.writing.network import InferenceModel

SKIPPED_FRACTION = 0.2  # more unvisited letters than this fraction is a failure
DWELL_FACTOR = 5.0  # the window resting on one character this many times its usual time
WIDTH_RANGE = (0.35, 1.8)  # ink width per character, relative to the training data's
MAX_POINTS_FACTOR = 2.0  # points per character, relative to the training data's
MAX_FOCUS_SETBACK = 4  # characters the window's focus may fall back behind its furthest point
# The last stroke normally reaches the end-of-text position only as it finishes; one
# drawn past it for more points than this is cut off when it lies right of the ink
# (without_trailing_marks) and is an extra mark to resample when it goes back over it.
TRAILING_FACTOR = 0.75  # points of the last stroke past the text, in characters' worth
# A stroke begun on the last character after another already began on it, and drawn this
# far right of the ink, is a tick after a finished final mark ("nine. |"), not part of it.
AFTER_THE_LAST_GAP = 0.4  # blank before such a stroke, in characters' width of ink
NOWHERE = -(2**40)  # the furthest position of a window that has not moved yet


@dataclass
class SampledLine:
    """One generated line: offsets in dataset units (y up) and how sampling went."""

    offsets: np.ndarray  # float32 (T, 3) [dx, dy, pen_up], row 0 the origin
    text: str
    finished: bool  # True when the window passed the end of the text; False when the cap stopped it
    steps: int
    focus: np.ndarray  # int (steps,): the character the window weighed most at each step
    problems: list[str] = field(default_factory=list)
    reading: str | None = None  # what the recognizer read in the ink (verified writing only)
    misread: int = 0  # edits between the text and the reading, look-alikes folded (0 when not verified)
    likelihood: float = 0.0  # log P(text | ink) by the recognizer (0 when not verified; see scribe.writing.reader)

    @property
    def rank(self) -> tuple[int, bool, float]:
        """Lower is better: the window's objections, then whether it reads wrong, then how unlikely it is to say its text."""
        return len(self.problems), self.misread > 0, -self.likelihood

    @property
    def reads_right(self) -> bool:
        """The reader read its text (look-alikes folded) and the window has no objection (True when not verified)."""
        return not (self.misread or self.problems)


def _stroke_starts(line: SampledLine) -> np.ndarray:
    """The steps at which the line's strokes begin, in order (the first is 0)."""
    pen_up = line.offsets[1:-1, 2] > 0  # row k + 1 is step k; the last row always lifts the pen
    return np.concatenate([[0], np.flatnonzero(pen_up) + 1])


def _last_stroke_start(line: SampledLine) -> int:
    """The step at which the line's last stroke begins (0 when the line is one stroke)."""
    return int(_stroke_starts(line)[-1])


def _is_trailing_mark(line: SampledLine, model: InferenceModel) -> bool:
    """Whether the line's last stroke is a stray mark after the written text.

    Only a stroke wholly to the right of everything written can be one: one that goes
    back over the ink is a delayed part of a letter (the bar of a final "t") and stays.
    Of those, a stray mark (a tick after "dog.", the start of a letter after "fire.")
    begins once the window has passed the last character; or begins on it and is
    drawn mostly past the text, for more points than :func:`line_problems` allows (a
    shorter one is that character's own: an "i"'s dot, the last stroke of "ii"); or
    begins on it after the stroke before it did too, a clear gap to the right, with
    the window passing the end as it is drawn: the final full stop was that earlier
    stroke, and the window still weighed it when the tick began.
    """
    starts = _stroke_starts(line)
    if len(starts) < 2:
        return False
    start, end = int(starts[-1]), len(line.text)
    after = line.focus[start:]
    past = int((after >= end).sum())
    if past == 0:  # every stray mark is drawn at least partly past the text
        return False
    x = offsets_to_points(line.offsets)[:, 0]  # row k + 1 is where step k puts the pen
    gap = float(x[start + 1 :].min() - x[1 : start + 1].max())
    if gap <= 0:
        return False
    reached_the_last = line.focus[:start].max() >= end - 1  # before the stroke began
    most_past = TRAILING_FACTOR * model.points_per_char
    run_past = reached_the_last and after[0] >= end - 1 and past > most_past and 2 * past > len(after)
    last_already_begun = line.focus[starts[-2]] >= end - 1 and gap > AFTER_THE_LAST_GAP * model.char_width
    return past == len(after) or run_past or last_already_begun


def without_trailing_marks(line: SampledLine, model: InferenceModel) -> SampledLine:
    """``line`` without the stray marks after its text (:func:`_is_trailing_mark`).

    The window passed the end of the text during such a mark, so a line cut is
    finished, even if the mark itself ran on until sampling stopped it.
    """
    while _is_trailing_mark(line, model):
        start = _last_stroke_start(line)
        line = SampledLine(line.offsets[: start + 1], line.text, True, start, line.focus[:start])
    return line


def trailing_points(line: SampledLine) -> int:
    """Points of the line's last stroke drawn while the window was already past the text."""
    return int((line.focus[_last_stroke_start(line) :] >= len(line.text)).sum())


def dwell_limit(model: InferenceModel) -> float:
    """The most steps the window may rest on one character (:data:`DWELL_FACTOR`)."""
    return DWELL_FACTOR * model.points_per_char + 10


def points_cap(text: str, model: InferenceModel) -> int:
    """The most points a line of ``text`` may take (:data:`MAX_POINTS_FACTOR`)."""
    return int(MAX_POINTS_FACTOR * max(len(text), 1) * model.points_per_char)


def line_problems(line: SampledLine, model: InferenceModel) -> list[str]:
    """What a reader would see is wrong with ``line``, judged from its ink and the window's path."""
    problems = []
    if not line.finished:
        problems.append("did not reach the end of its text")
    letters = [i for i, ch in enumerate(line.text) if not ch.isspace()]
    visited = set(line.focus.tolist())
    skipped = [i for i in letters if i not in visited]
    if letters and len(skipped) > SKIPPED_FRACTION * len(letters):
        problems.append(f"skipped {len(skipped)} of {len(letters)} letters")
    if len(line.focus):
        dwell = np.bincount(np.clip(line.focus, 0, None)).max()
        if dwell > dwell_limit(model):
            problems.append(f"stuck on one letter for {dwell} points")
    trailing = trailing_points(line)
    if trailing > TRAILING_FACTOR * model.points_per_char:
        problems.append(f"drew {trailing} points past the end of its text")
    if line.steps > points_cap(line.text, model):
        problems.append(f"took {line.steps} points for {len(line.text)} characters")
    if len(line.focus) and (setback := int((np.maximum.accumulate(line.focus) - line.focus).max())) > MAX_FOCUS_SETBACK:
        problems.append(f"lost its place: the window fell back {setback} letters")
    width = np.ptp(offsets_to_points(line.offsets)[:, 0]) if len(line.offsets) else 0.0
    typical = max(len(line.text), 1) * model.char_width
    if typical > 0 and not WIDTH_RANGE[0] <= width / typical <= WIDTH_RANGE[1]:
        problems.append(f"ink {width / typical:.1f} times as wide as usual")
    return problems


class RejectionWatch:
    """For every row of a batch being sampled: whether its line is already certain to fail :func:`line_problems`.

    A line that has taken more points than its text may (:func:`points_cap`, checked
    by the sampler as it counts steps), or whose window has rested
    on one letter too long or fallen back behind its furthest point, fails whatever it
    draws next; sampling stops it at once instead of letting it hold up the batch.
    """

    def __init__(self, model: InferenceModel, rows: int, positions: int) -> None:
        self.dwell_limit = dwell_limit(model)
        self.visits = np.zeros((rows, positions), np.int32)  # steps the window's focus spent on each position
        self.furthest = np.full(rows, NOWHERE, np.int64)

    def reset(self, row: int) -> None:
        self.visits[row] = 0
        self.furthest[row] = NOWHERE

    def take(self, rows: np.ndarray) -> None:
        self.visits, self.furthest = self.visits[rows], self.furthest[rows]

    def grow(self, rows: int) -> None:
        """Make room for ``rows`` more lines, after the others (each is :meth:`reset` as it starts)."""
        self.visits = np.concatenate([self.visits, np.zeros((rows, self.visits.shape[1]), np.int32)])
        self.furthest = np.concatenate([self.furthest, np.full(rows, NOWHERE, np.int64)])

    def failing(self, focus: np.ndarray) -> np.ndarray:
        """Count this step's ``focus`` (position in each row's text) and say which rows can no longer pass."""
        index = np.arange(len(focus)), np.maximum(focus, 0)  # before the text is the priming ink's: counted on its first letter
        self.visits[index] += 1
        np.maximum(self.furthest, focus, out=self.furthest)
        return (self.visits[index] > self.dwell_limit) | (self.furthest - focus > MAX_FOCUS_SETBACK)
