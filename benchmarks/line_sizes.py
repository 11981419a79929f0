"""Measure how evenly sized the lines of a written page are, and whether neighbouring lines touch.

Writes a letter (greeting, three paragraphs with names and numbers, sign-off) with the
shipped model over several seeds and, for every line of the page, measures its
x-height on the page in two ways:

- ``estimator``: :func:`scribe.ink.metrics.measure_strokes` on the placed ink, the
  same estimate the layout scales by (so it shows what the layout's clamp leaves);
- ``letters``: an independent, text-aware estimate. Every sampled point carries the
  character the attention window weighed most when it was written (``focus``); for
  each occurrence of a letter without ascender or descender (a c e m n o r s u v w x
  z) the highest point written for it above the line's baseline is its height, and
  the line's x-height is the median over those occurrences, converted to the page's
  millimetres by the ratio of placed to sampled ink width.

The spread of a page is the largest deviation of a line's x-height from the page's
median, in per cent. ``touching`` counts pairs of neighbouring lines whose inks come
closer than a tenth of an x-height (descenders of one line meeting the ascenders of
the next). ``--spread`` lays the same sampled lines out again with other values of
:data:`scribe.writing.layout.LINE_SCALE_SPREAD`, to choose it.

    python benchmarks/line_sizes.py [--seeds 8] [--spread 0 0.08 0.15 1]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace

import numpy as np

from scribe import Scribe
from scribe.ink.metrics import line_metrics, measure_strokes
from scribe.ink.strokes import flip_y, offsets_to_points, split_strokes
from scribe.writing import layout as layout_module
from scribe.writing.checks import SampledLine
from scribe.writing.document import Document
from scribe.writing.layout import Page, PageSetup, layout, line_clearance

LETTER = """Dear Margaret,

Thank you so much for the lovely flowers and the card you sent for my birthday. They
arrived on Tuesday morning and the whole house smells of spring. Quentin says hello and
hopes to see you at Easter.

We will be in York from 12 to 19 April, at 14 Kings Road. Call me on 0207 946 0321
when you know your plans, and we can meet for lunch by the river.

With love,
Anna"""

SHORT_LETTERS = set("acemnorsuvwxz")


def letter_x_height(line: SampledLine) -> float | None:
    """Median height above the baseline of the short lowercase letters of a sampled line (dataset units)."""
    points = offsets_to_points(line.offsets)[1:]
    focus = line.focus[: len(points)]
    points = points[: len(focus)]
    m = line_metrics(line.offsets)
    heights = []
    for index in np.unique(focus):
        if index < len(line.text) and line.text[index] in SHORT_LETTERS:
            mine = points[focus == index]
            heights.append(float(np.max(mine[:, 1] - m.baseline_at(mine[:, 0]))))
    return float(np.median(heights)) if len(heights) >= 3 else None


def ink_width(strokes: list[np.ndarray]) -> float:
    """Horizontal extent of a line's ink: the layout's scale is placed width over sampled width."""
    return float(np.ptp(np.concatenate(strokes)[:, 0]))


def spread(values: list[float]) -> float:
    """Largest deviation from the median, in per cent."""
    median = float(np.median(values))
    return 100 * max(abs(v / median - 1) for v in values)


def measure(page: Page, lines: list[SampledLine], x_height: float) -> tuple[float, float, int]:
    """(estimator spread %, letters spread %, touching pairs) of one page."""
    estimated, lettered = [], []
    for placed, sampled in zip(page.lines, lines):
        estimated.append(measure_strokes([flip_y(s) for s in placed.strokes]).x_height)
        raw = letter_x_height(sampled)
        if raw is not None:
            lettered.append(raw * ink_width(placed.strokes) / ink_width(split_strokes(sampled.offsets)))
    touching = sum(
        line_clearance(a, b) < 0.1 * x_height for a, b in zip(page.lines, page.lines[1:]) if a.strokes and b.strokes
    )
    return spread(estimated), spread(lettered), touching


def with_blank_lines(doc: Document) -> list[np.ndarray | None]:
    """The document's sampled lines with None where its page left a slot empty (a paragraph break).

    A line's slot is read off its ink: the median of its y lies above its own
    baseline and below the one before (``PageSetup.baseline_y``).
    """
    setup, items, slot = doc.setup, [], 0
    for placed, sampled in zip(doc.pages[0].lines, doc.lines):
        middle = float(np.median(np.concatenate(placed.strokes)[:, 1]))
        own = math.ceil((middle - setup.margin) / setup.line_spacing) - 1
        items += [None] * (own - slot) + [sampled.offsets]
        slot = own + 1
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--spread", type=float, nargs="*", default=[layout_module.LINE_SCALE_SPREAD])
    parser.add_argument("--model", default="graves-iam")
    args = parser.parse_args()
    scribe, setup = Scribe(args.model), PageSetup()
    docs = [scribe.write(LETTER, seed=seed, setup=setup) for seed in range(1, args.seeds + 1)]
    default = layout_module.LINE_SCALE_SPREAD
    for value in args.spread:
        layout_module.LINE_SCALE_SPREAD = value
        rows = []
        for doc in docs:
            page = layout(with_blank_lines(doc), replace(setup))[0]
            rows.append(measure(page, doc.lines, setup.x_height_mm))
        est, let, touch = (np.array(column) for column in zip(*rows))
        print(
            f"LINE_SCALE_SPREAD {value:.2f}: x-height spread, estimator median {np.median(est):.1f}% worst "
            f"{est.max():.1f}%; letters median {np.median(let):.1f}% worst {let.max():.1f}%; "
            f"touching line pairs {int(touch.sum())} in {len(docs)} pages"
        )
    layout_module.LINE_SCALE_SPREAD = default


if __name__ == "__main__":
    main()
