"""Writing a text page by page: each page is laid out and handed on as soon as its lines are written.

All lines of a text go through one continuous batch
(:func:`~scribe.writing.sampling.sample_stream`), which takes them in order,
verifies them as they are written (:mod:`scribe.writing.verifying`) and lets the
lines of the next page start in the rows that the finished lines of this one leave.
A page is complete once all its lines are; it is then laid out
(:func:`~scribe.writing.layout.layout_page`) and yielded, so a caller saves the
first page of a long text before the last is sampled, and holds only the pages not
yet handed on. A caller that shows the writing as it happens (``scribe serve``) also
sees each line, placed alone on its page, as soon as it is written (:data:`DraftFn`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from scribe.progress import ProgressFn, no_progress
from scribe.writing.checks import SampledLine
from scribe.writing.layout import Page, PageSetup, PlacedLine, layout_page, page_count, page_slots
from scribe.writing.network import InferenceModel
from scribe.writing.reader import InkReader
from scribe.writing.sampling import SamplingOptions, sample_stream, verification_by

#: Sees each line as soon as it is written: its page (from 0) and the line placed alone on
#: its slot, sized by the lines so far. The finished page, laid out whole, is final.
DraftFn = Callable[[int, PlacedLine], object]


@dataclass(frozen=True)
class WritingPlan:
    """A text wrapped into lines and everything that decides how they are drawn."""

    items: list[str | None]  # the lines to write, in order; None for a blank line
    setup: PageSetup
    options: SamplingOptions
    seed: int
    attempts: int
    candidates: int = 1
    reader: InkReader | None = None  # verified writing, with ``candidates`` per misread line

    @functools.cached_property
    def places(self) -> list[tuple[int, int] | None]:
        """Where each item goes, as (page, slot); known before any ink is sampled."""
        return page_slots([item is None for item in self.items], self.setup.lines_per_page)

    @functools.cached_property
    def page_count(self) -> int:
        return page_count(self.places)


def written_pages(
    model: InferenceModel, plan: WritingPlan, progress: ProgressFn = no_progress, on_draft: DraftFn | None = None
) -> Iterator[tuple[Page, list[SampledLine]]]:
    """Each page of ``plan`` with the lines written on it, in page order, as soon as the page is complete."""
    texts = [item for item in plan.items if item is not None]
    entries: list[list[tuple[int | None, int]]] = [[] for _ in range(plan.page_count)]  # per page: (text index, slot)
    where: dict[int, tuple[int, int]] = {}  # text index: (page, slot)
    written = 0
    for item, place in zip(plan.items, plan.places):
        if place is not None:
            text = written if item is not None else None
            entries[place[0]].append((text, place[1]))
            if text is not None:
                where[text] = place
        written += item is not None
    found: dict[int, SampledLine] = {}
    scales: list[float] = []  # every line's x-height scale so far: the pages share one median
    page = 0
    verification = None if plan.reader is None else verification_by(plan.reader, plan.candidates, plan.attempts)
    stream = sample_stream(model, texts, plan.options, seed=plan.seed, attempts=plan.attempts, verification=verification,
                           progress=progress)
    for index, line in stream:
        found[index] = line
        if on_draft is not None:
            draft = layout_page([(line.offsets, where[index][1])], plan.setup, list(scales), [line.text])
            if draft.lines:  # a line with no ink has nothing to show
                on_draft(where[index][0], draft.lines[0])
        while page < len(entries) and all(text in found for text, _ in entries[page] if text is not None):
            yield _finish_page(plan, entries[page], found, scales)
            page += 1


def _finish_page(plan: WritingPlan, entries: list[tuple[int | None, int]],
                 found: dict[int, SampledLine], scales: list[float]) -> tuple[Page, list[SampledLine]]:
    """Lay the lines of one page (taken out of ``found``) out on their slots."""
    lines = [found.pop(text) for text, _ in entries if text is not None]
    written = iter(lines)
    placed: list[SampledLine | None] = [None if text is None else next(written) for text, _ in entries]
    page = layout_page([(None if line is None else line.offsets, slot) for line, (_, slot) in zip(placed, entries)],
                       plan.setup, scales, [None if line is None else line.text for line in placed])
    return page, lines
