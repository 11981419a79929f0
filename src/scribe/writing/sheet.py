"""A style sheet: the same text in several hands, one labelled row each, so that a user can pick one.

A Graves model's sheet shows every built-in style (``style 0``, ``style 1``, ...,
what ``--style`` takes), or ``count`` hands drawn from its learned styles; a VAE's
shows ``count`` hands sampled from its latent space (``style seed 1``, ...: what
``--style-seed`` takes). Each row is written as
:meth:`Scribe.write` writes it, at the page's x-height, so the rows compare the
hands and not their sizes; the rows are stacked on one page with their names
printed to their left.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scribe.errors import ScribeError
from scribe.ink.metrics import ADVANCE_PER_X_HEIGHT
from scribe.progress import ProgressFn, no_progress
from scribe.writing.document import Document, Scribe
from scribe.writing.layout import MAX_PAGE_MM, Label, Page, PageSetup, PlacedLine, estimated_line_width, fit_to_ink
from scribe.writing.sampling import DEFAULT_BIAS

#: What a sheet writes unless told otherwise: capitals, digits and punctuation beside small letters.
SHEET_TEXT = "Dear Quentin, see you on 12 May at 7:45 by the old bridge."
DEFAULT_SAMPLED_STYLES = 8  # rows of a VAE's sheet when not told
MAX_SAMPLED_STYLES = 64
LABEL_SIZE = 1.5  # the names' font size, in x-heights
ROW_GAP = 0.5  # blank space between rows, in line spacings
ROOM = 1.25  # paper width for a row, in estimated widths of its text: a hand varies


@dataclass(frozen=True)
class StyleChoice:
    """One row of a sheet: its name, and the style or style seed it writes with."""

    label: str
    style: int | None = None
    style_seed: int | None = None


def sheet_styles(scribe: Scribe, count: int | None = None) -> list[StyleChoice]:
    """Every built-in style of ``scribe``'s model, or ``count`` drawn hands (style seeds 1 to ``count``): a VAE's always."""
    if count is None and not scribe.model.is_vae:
        if not scribe.styles:
            return [StyleChoice("its only hand")]
        return [StyleChoice(f"style {number}", style=number) for number in range(len(scribe.styles))]
    count = DEFAULT_SAMPLED_STYLES if count is None else count
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SAMPLED_STYLES:
        raise ScribeError(f"a sheet shows 1 to {MAX_SAMPLED_STYLES} drawn hands, not {count!r}")
    return [StyleChoice(f"style seed {seed}", style_seed=seed) for seed in range(1, count + 1)]


def style_sheet(
    scribe: Scribe,
    choices: list[StyleChoice],
    text: str = SHEET_TEXT,
    *,
    setup: PageSetup | None = None,
    seed: int = 0,
    bias: float = DEFAULT_BIAS,
    progress: ProgressFn = no_progress,
) -> Document:
    """``text`` written once per choice, the rows stacked on one page cropped to them, each named on its left."""
    if not choices:
        raise ScribeError("a style sheet needs at least one style")
    setup = _one_line_wide(setup or PageSetup(), text, scribe)
    rows: list[tuple[StyleChoice, Document]] = []
    for done, choice in enumerate(choices, 1):
        written = scribe.write(text, setup=setup, style=choice.style, style_seed=choice.style_seed, seed=seed, bias=bias)
        if len(written.pages) > 1:
            raise ScribeError("the sheet's text fills more than a page; give a shorter text")
        rows.append((choice, written))
        progress(done, len(choices))
    page = _stacked(rows, setup)
    lines = [line for _, written in rows for line in written.lines]
    return Document([page], setup, lines, rows[0][1].substitutions)


def _one_line_wide(setup: PageSetup, text: str, scribe: Scribe) -> PageSetup:
    """``setup`` with paper wide enough for ``text`` on one line in the widest built-in hand (within the largest page)."""
    advance = max(scribe.model.style_advances or [ADVANCE_PER_X_HEIGHT])
    width = 2 * setup.margin + ROOM * estimated_line_width(len(text), setup, advance)
    return replace(setup, size=(min(max(width, setup.size[0]), MAX_PAGE_MM), setup.size[1]))


def _stacked(rows: list[tuple[StyleChoice, Document]], setup: PageSetup) -> Page:
    """One page holding every row's ink one under the other, its name level with its first baseline."""
    size = LABEL_SIZE * setup.x_height_mm
    indent = max(float(Label(0.0, 0.0, choice.label, size).box[1, 0]) for choice, _ in rows) + size  # the widest name
    placed: list[PlacedLine] = []
    labels: list[Label] = []
    widths: list[float] = []
    top = 0.0
    for choice, written in rows:
        ink = fit_to_ink(written.pages[0], 0.0)
        placed.extend(PlacedLine([stroke + (indent, top) for stroke in line.strokes]) for line in ink.lines)
        labels.append(Label(0.0, top + setup.baseline_y(0) - ink.origin[1], choice.label, size))
        widths.append(ink.width)
        top += ink.height + ROW_GAP * setup.line_spacing
    return Page(indent + max(widths), top, placed, labels=labels)
