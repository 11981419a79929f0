"""Wrapping text to the page: paragraphs from the input's lines, and lines of words that fit.

:func:`wrap_text` is the one entry: :func:`split_paragraphs` decides which input
line breaks are meant (a greeting, an address, a list) and which an editor made
(hard-wrapped paragraphs, joined again), then :func:`wrap_line` breaks each
paragraph into lines no wider than the page, measured with the relative width of
handwritten characters (:func:`relative_char_width`).
"""

from __future__ import annotations

from collections.abc import Callable

from scribe.errors import ScribeError

#: Relative width of one character; ``max_chars`` of :func:`wrap_line` is in these units.
CharWidth = Callable[[str], float]

#: Narrowest page a line can be wrapped to: one letter and a hyphen.
MIN_LINE_WIDTH = 2.0

# Relative widths of handwritten characters, normalized so that the average over
# English prose is 1.0 (measured on the paragraphs of tests/test_text.py: 0.997 on
# ENGLISH_SAMPLE, 0.993 on ENGLISH_OTHER). They start from proportional-font widths
# pulled towards the middle, since handwriting is less proportional than type.
_NARROW, _SPACE, _SLIM, _ORDINARY, _CAPITAL, _BROAD, _BROAD_CAPITAL = 0.5, 0.8, 0.85, 1.15, 1.6, 1.7, 2.05
_WIDTHS: dict[str, float] = {
    **dict.fromkeys("ijl.,:;!'|", _NARROW),
    " ": _SPACE,
    **dict.fromkeys('frtI-()[]"', _SLIM),
    **dict.fromkeys("mw", _BROAD),
    **dict.fromkeys("MW", _BROAD_CAPITAL),
}


def split_paragraphs(text: str, reflow: bool = True) -> list[str | None]:
    """Input lines -> the paragraphs to wrap: one string per paragraph or kept line, None per blank line.

    Blank (or whitespace-only) lines are kept, one None each, except at the start
    and end of the text, where they only waste paper. Inside a line, runs of
    whitespace become one space and the ends are stripped, as they would not show
    in handwriting anyway. ``\\n``, ``\\r\\n``, ``\\r`` and the other line breaks of
    :meth:`str.splitlines` all end a line.

    With ``reflow``, the lines an editor or a mail program wrapped are joined again
    (:func:`_soft_break`), so a paragraph typed at 70 columns is rewrapped to the
    page instead of leaving a stub of two words after every full line; greetings,
    signatures, addresses and lists keep their lines. Without it every input line
    stays its own paragraph (poems).
    """
    lines = [" ".join(line.split()) for line in text.splitlines()]
    written = [i for i, line in enumerate(lines) if line]
    if not written:
        return []
    kept: list[str | None] = [line or None for line in lines[written[0] : written[-1] + 1]]
    return _reflow(kept) if reflow else kept


#: A block of lines is hard-wrapped prose only if its longest line has at least this many characters ...
REFLOW_MIN_COLUMNS = 40
#: ... and a line is a wrapped one only if it is at least this share of that longest line.
REFLOW_FULL_SHARE = 0.75
_LIST_MARKERS = ("- ", "* ", "+ ")


def _reflow(lines: list[str | None]) -> list[str | None]:
    """Join every soft line break of each block of consecutive lines (:func:`_soft_break`)."""
    joined: list[str | None] = []
    block: list[str] = []
    for line in [*lines, None]:
        if line is not None:
            block.append(line)
            continue
        columns = max((len(entry) for entry in block), default=0)
        for number, entry in enumerate(block):
            if number and _soft_break(block[number - 1], entry, columns):
                joined[-1] = f"{joined[-1]} {entry}"
            else:
                joined.append(entry)
        joined.append(None)
        block = []
    return joined[:-1]


def _soft_break(before: str, after: str, columns: int) -> bool:
    """Whether the break between two lines of a block (longest line ``columns``) was made by wrapping.

    The rule: the block is wide enough to be wrapped prose (:data:`REFLOW_MIN_COLUMNS`),
    the line before is nearly full (:data:`REFLOW_FULL_SHARE`), the next line's first
    word would not have fitted on it (else the writer broke the line on purpose),
    the next line does not start a list item, and it is not a short line after the
    end of a sentence (a closing such as "Love," under the last sentence).
    """
    if columns < REFLOW_MIN_COLUMNS or len(before) < REFLOW_FULL_SHARE * columns:
        return False
    if len(before) + 1 + len(after.split(" ")[0]) <= columns:
        return False
    if after.startswith(_LIST_MARKERS) or after.split(" ")[0].rstrip(".)").isdigit():
        return False
    return not (before.endswith((".", "!", "?", ":")) and len(after) < 0.5 * columns)


def relative_char_width(ch: str) -> float:
    """How wide a handwritten character is compared with an average one (English prose averages 1.0).

    For :func:`wrap_line`: with it, a line of ``max_chars`` holds many narrow ``i``, ``l``
    and ``.`` but fewer ``m``, ``w`` and capitals, so lines come out more even.
    """
    if ch in _WIDTHS:
        return _WIDTHS[ch]
    return _CAPITAL if ch.isupper() else _ORDINARY


def wrap_line(line: str, max_chars: float, char_width: CharWidth | None = None) -> list[str]:
    """Word-wrap one input line into lines of at most max_chars width units, keeping words whole.

    Words are placed greedily; a word wider than a whole line is split with a hyphen
    at the end of each piece (``extraordinarily`` at 10 -> ``extraordi-``, ``narily``),
    starting on the current line when at least two of its letters fit there. Each piece,
    hyphen included, fits; pieces have at least two letters and leave at least two where
    possible. Only when not even one letter and a hyphen fit (very wide characters on a
    page barely two units wide) does a piece run over. ``char_width`` gives each
    character's width (non-negative; default 1.0, so max_chars counts characters).
    A blank line gives ``[]``.
    """
    _check_line_width(max_chars)
    width = char_width or _unit_width
    lines: list[str] = []
    current = ""
    for word in line.split():
        joined = f"{current} {word}" if current else word
        if _fits(joined, max_chars, width):
            current = joined
        elif _fits(word, max_chars, width):
            lines.append(current)
            current = word
        else:
            *full, current = _break_word(word, current, max_chars, width)
            lines.extend(full)
    if current:
        lines.append(current)
    return lines


def wrap_text(
    text: str, max_chars: float, char_width: CharWidth | None = None, reflow: bool = True
) -> list[str | None]:
    """The lines to write: :func:`split_paragraphs`, each wrapped by :func:`wrap_line`; None is a blank line."""
    _check_line_width(max_chars)
    lines: list[str | None] = []
    for paragraph in split_paragraphs(text, reflow):
        if paragraph is None:
            lines.append(None)
        else:
            lines.extend(wrap_line(paragraph, max_chars, char_width))
    return lines



# --------------------------------------------------------------------------- wrapping


def _unit_width(ch: str) -> float:
    """The default width: every character is one unit, so max_chars counts characters."""
    return 1.0


def _fits(text: str, max_chars: float, width: CharWidth) -> bool:
    """Whether text is at most max_chars wide; stops adding at the first character past it.

    Stopping early keeps splitting a very long word linear. Widths are summed left to
    right, the order _fitting_lengths adds in, so both agree exactly.
    """
    used = 0.0
    for ch in text:
        used += width(ch)
        if used > max_chars:
            return False
    return True


def _check_line_width(max_chars: float) -> None:
    """Refuse a page on which not even one letter and a hyphen fit on a line."""
    if not max_chars >= MIN_LINE_WIDTH:
        raise ScribeError(
            f"the page is too narrow: a line holds only {max_chars:.1f} characters, at least "
            f"{MIN_LINE_WIDTH:.0f} are needed; use smaller margins or a smaller x-height"
        )


def _break_word(word: str, current: str, max_chars: float, width: CharWidth) -> list[str]:
    """The lines for a word wider than a whole line, after the text of the current line.

    All but the last are full; the last holds the end of the word and stays open for
    the words that follow.
    """
    lines: list[str] = []
    head = f"{current} " if current else ""
    rest = word
    while not _fits(head + rest, max_chars, width):
        length = _piece_length(rest, head, max_chars, width)
        if length == 0:
            lines.append(current)
        else:
            lines.append(head + _piece(rest, length))
            rest = rest[length:]
        head = ""
    return [*lines, head + rest]


def _piece(rest: str, length: int) -> str:
    """The first ``length`` characters of a word with a hyphen, unless they end in one already."""
    return rest[:length] if rest[length - 1] == "-" else rest[:length] + "-"


def _piece_length(rest: str, head: str, max_chars: float, width: CharWidth) -> int:
    """How many characters of a word go before the break after ``head``.

    The most that fit, at least two and leaving at least two where possible; 0 when
    that is not possible after ``head`` (the word then starts a new line), and one
    character when not even that fits on an empty line, so wrapping always advances.
    """
    fitting = _fitting_lengths(rest, head, max_chars, width)
    comfortable = [n for n in fitting if n >= 2 and len(rest) - n >= 2]
    if comfortable:
        return comfortable[-1]
    if head:
        return 0
    return fitting[-1] if fitting else 1


def _fitting_lengths(rest: str, head: str, max_chars: float, width: CharWidth) -> list[int]:
    """The lengths n < len(rest) for which ``head + _piece(rest, n)`` fits, in increasing order.

    Widths never shrink as n grows, so the search stops at the first prefix that is too wide.
    """
    lengths = []
    used = 0.0
    for ch in head:
        used += width(ch)
    hyphen = width("-")
    for n, ch in enumerate(rest[:-1], start=1):
        used += width(ch)
        if used > max_chars:
            break
        if ch == "-" or used + hyphen <= max_chars:
            lengths.append(n)
    return lengths
