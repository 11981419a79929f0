"""Composed lines: one UNIPEN writer's isolated characters set side by side into lines of text.

Why. Digits, capitals and symbols are rare in IAM-OnDB's prose, and UNIPEN has
thousands of them but written one per box: a writer trained on both draws
"0207" and then loses the shape of "946 0321", because it never saw a phone
number written. Composing lines from a writer's own isolated characters gives it
phone numbers, dates, prices and codes in context (texts:
:mod:`scribe.datasets.composed_text`).

How a character is placed. Cut out of its box, a character's ink has lost where
it stood, so it is placed by what it is (:func:`placement`): most sit on the
baseline; descenders hang from the x-height; dashes, plus signs and brackets are
centred; quotes hang from the capital height. Heights come from the writer's
own characters (the median height of their digits and capitals, and of their
x-height letters), so a writer's sizes stay their own. Gaps between characters
and words are drawn once per line, with a little jitter per character.

The output is a split dataset like any other (docs/data.md): its train, val and
test lines are composed from the characters of the UNIPEN split's train, val and
test writers, so the split stays writer-disjoint. NumPy only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scribe.atomic import cannot_write
from scribe.datasets.composed_text import composed_text
from scribe.datasets.meta import DatasetMeta, read_sample, sample_files
from scribe.datasets.preprocess import Kept
from scribe.datasets.split import check_out_dir, write_split_folders, written_fields
from scribe.datasets.unipen import CATEGORIES, sample_tags
from scribe.errors import ScribeError
from scribe.ink.strokes import offsets_stats, offsets_to_points, points_to_offsets, validate_offsets
from scribe.paths import SPLITS
from scribe.progress import ProgressFn, no_progress

#: UNIPEN categories whose samples are single characters written alone: all of the character
#: level but "3", whose characters were cut out of words and carry the joins of their word.
CHARACTER_CATEGORIES = frozenset(c.code for c in CATEGORIES.values() if c.level == "CHARACTER") - {"3"}
#: Word and text categories, whose labels give the composed lines their words.
WORD_CATEGORIES = frozenset(c.code for c in CATEGORIES.values() if c.level in ("WORD", "TEXT"))
#: The lines of val and test, each as a share of the training lines asked for.
HELD_OUT_SHARE = 0.1
_DESCENDERS = frozenset("gjpqy")
_X_LETTERS = frozenset("acemnorsuvwxz")
_CENTRED = frozenset("-+=*~<>")
_BRACKETS = frozenset("()[]{}|$")
_HANGING = frozenset("'\"`^")
_SMALL = frozenset(".,_'\"`-~:;")
#: The heights a character's ink may have, as shares of its hand's capital height (or x-height for
#: small letters): outside them a glyph was written at another scale (a different box or tablet
#: setting) or is not what its label says, and set beside the hand's others it would tower or vanish.
_CAP_RANGE = (0.5, 1.6)
_X_RANGE = (0.5, 1.8)
_DESCENDER_RANGE = (0.8, 2.8)
_SMALL_MAX = 1.0
_SYMBOL_RANGE = (0.3, 1.8)
_WIDEST = 2.5  # a character at most this many capital heights wide
#: Draws before giving up: of a text the writer can write whole (then the line borrows), of another
#: writer's glyph that fits (then the line is dropped), and, per line asked, of a line.
_TRIES = 20


@dataclass
class Hand:
    """One writer's isolated characters: character -> glyphs (offsets), and the heights they were written at."""

    writer: int
    source: str
    glyphs: dict[str, list[np.ndarray]] = field(default_factory=lambda: defaultdict(list))
    cap_height: float = 0.0
    x_height: float = 0.0


def _inked(text: str) -> list[str]:
    """The characters of ``text`` that take ink: all but spaces."""
    return [c for c in text if c != " "]


def _size(glyph: np.ndarray) -> tuple[float, float]:
    """The width and height of a glyph's ink (offsets)."""
    width, height = np.ptp(offsets_to_points(glyph)[:, :2], axis=0)
    return float(width), float(height)


def plausible(char: str, glyph: np.ndarray, cap_height: float, x_height: float) -> bool:
    """Whether ``glyph``'s size fits a ``char`` written by a hand of these heights (the ranges above)."""
    width, height = _size(glyph)
    if width > _WIDEST * cap_height:
        return False
    if char in _SMALL:
        return height <= _SMALL_MAX * cap_height
    if char in _DESCENDERS:
        low, high = _DESCENDER_RANGE[0] * x_height, _DESCENDER_RANGE[1] * x_height
    elif char in _X_LETTERS:
        low, high = _X_RANGE[0] * x_height, _X_RANGE[1] * x_height
    elif char.isalnum():
        low, high = _CAP_RANGE[0] * cap_height, _CAP_RANGE[1] * cap_height
    else:
        low, high = _SYMBOL_RANGE[0] * cap_height, _SYMBOL_RANGE[1] * cap_height
    return low <= height <= high


def _measure(hand: Hand) -> None:
    """The hand's capital height (digits and capitals) and x-height (letters without ascenders or descenders)."""
    caps = [_size(g)[1] for c, gs in hand.glyphs.items() if c.isdigit() or c.isupper() for g in gs]
    smalls = [_size(g)[1] for c, gs in hand.glyphs.items() if c in _X_LETTERS for g in gs]
    hand.cap_height = float(np.median(caps)) if caps else 0.0
    hand.x_height = float(np.median(smalls)) if smalls else 0.55 * hand.cap_height


def read_hands(split_dir: Path, split: str, progress: ProgressFn = no_progress) -> tuple[list[Hand], list[str]]:
    """The hands of one split of a UNIPEN split folder, and the words of its word and text labels.

    Only writers with digits or capitals (a capital height) are kept: the height is
    what every other character is placed by. Glyphs whose size does not fit their
    hand (:func:`plausible`) are left out.
    """
    hands: dict[tuple[str, int], Hand] = {}
    words: set[str] = set()
    files = sample_files(split_dir, split)
    for done, path in enumerate(files, 1):
        source, category = sample_tags(path.stem)
        if category in CHARACTER_CATEGORIES or category in WORD_CATEGORIES:
            offsets, text, writer = read_sample(path)
            if category in WORD_CATEGORIES:
                words.update(w for w in text.split() if w.isalpha() and 2 <= len(w) <= 12)
            elif len(text) == 1 and not text.isspace():
                hands.setdefault((source, writer), Hand(writer, source)).glyphs[text].append(offsets)
        if done % 1000 == 0 or done == len(files):
            progress(done, len(files))
    for hand in hands.values():
        _measure(hand)
        fitting = {c: [g for g in gs if plausible(c, g, hand.cap_height, hand.x_height)] for c, gs in hand.glyphs.items()}
        hand.glyphs = defaultdict(list, {c: gs for c, gs in fitting.items() if gs})
    kept = [hand for hand in hands.values() if hand.cap_height > 0]
    return sorted(kept, key=lambda h: (h.source, h.writer)), sorted(words)


def placement(char: str, cap_height: float, x_height: float) -> tuple[str, float]:
    """Where a character's ink goes: (``bottom``, ``top`` or ``centre``, the height that edge sits at).

    Heights are above the baseline, in the ink's units.
    """
    if char in _DESCENDERS:
        return "top", x_height
    if char in _CENTRED:
        return "centre", 0.5 * x_height
    if char in _BRACKETS:
        return "centre", 0.45 * cap_height
    if char in _HANGING:
        return "top", cap_height
    if char == ",":
        return "top", 0.25 * x_height
    if char == ";":
        return "top", x_height
    if char == "_":
        return "bottom", -0.15 * cap_height
    return "bottom", 0.0


def _placed(glyph: np.ndarray, char: str, hand: Hand, left: float, wobble: float) -> np.ndarray:
    """The glyph's absolute points ``[x, y_up, pen_up]`` with its left edge at ``left``, placed by :func:`placement`."""
    points = offsets_to_points(glyph)
    xs, ys = points[:, 0], points[:, 1]
    edge, height = placement(char, hand.cap_height, hand.x_height)
    anchor = {"bottom": ys.min(), "top": ys.max(), "centre": 0.5 * (ys.min() + ys.max())}[edge]
    points[:, 0] += left - xs.min()
    points[:, 1] += height + wobble - anchor
    return points


def compose(text: str, glyphs: Sequence[np.ndarray], hand: Hand, rng: np.random.Generator) -> np.ndarray:
    """The offsets of ``text`` written with ``glyphs`` (one per non-space character, in order) in ``hand``'s sizes."""
    gap = rng.uniform(0.12, 0.3) * hand.cap_height
    space = rng.uniform(0.45, 0.8) * hand.cap_height
    jitter = 0.04 * hand.cap_height
    placed: list[np.ndarray] = []
    left, pending_space = 0.0, False
    ink = iter(glyphs)
    for char in text:
        if char == " ":
            pending_space = True
            continue
        if placed:
            left += (space if pending_space else gap) + rng.normal(0.0, jitter)
        points = _placed(next(ink), char, hand, left, rng.normal(0.0, jitter))
        left = float(points[:, 0].max())
        placed.append(points)
        pending_space = False
    return points_to_offsets(np.concatenate(placed), y_down=False)


def _line(
    hand: Hand, pool: dict[str, list[np.ndarray]], words: Sequence[str], rng: np.random.Generator
) -> tuple[str, np.ndarray] | None:
    """One composed line in ``hand``: a text it can write whole if one of a few draws allows, else one that borrows.

    A character the writer never wrote alone is taken from ``pool`` (the same
    source's other writers), so a line may mix hands in a character or two; one
    nobody there wrote is left out of the text. None: nothing of the text was left.
    """
    for _ in range(_TRIES):
        text = composed_text(rng, words)
        if all(c in hand.glyphs for c in _inked(text)):
            break
    text = " ".join("".join(c for c in text if c == " " or c in hand.glyphs or c in pool).split())
    if not text:
        return None
    chosen = []
    for char in _inked(text):
        own = hand.glyphs.get(char)
        glyph = own[int(rng.integers(len(own)))] if own else _borrowed(char, pool, hand, rng)
        if glyph is None:
            return None
        chosen.append(glyph)
    return text, compose(text, chosen, hand, rng)


def _borrowed(char: str, pool: dict[str, list[np.ndarray]], hand: Hand, rng: np.random.Generator) -> np.ndarray | None:
    """A glyph of ``char`` by another writer whose size fits ``hand``: the first of a few drawn, or None."""
    options = pool.get(char, [])
    for index in rng.integers(len(options), size=_TRIES) if options else ():
        if plausible(char, options[index], hand.cap_height, hand.x_height):
            return options[index]
    return None


@dataclass
class ComposeReport:
    """What :func:`compose_lines` wrote."""

    out_dir: Path
    counts: dict[str, int]  # split -> lines written
    hands: dict[str, int]  # split -> writers whose characters were used
    alphabet: str
    borrowed: float  # share of characters taken from another writer of the same source


def _compose_split(
    split_dir: Path, split: str, count: int, rng: np.random.Generator, progress: ProgressFn
) -> tuple[list[Kept], int, int]:
    """``count`` composed lines from the hands of one split: the lines, the hands used, the characters borrowed."""
    hands, words = read_hands(split_dir, split, progress)
    if not hands or not words:
        raise ScribeError(
            f"{split_dir / split} holds no UNIPEN isolated characters or words to compose lines from; "
            "give a folder written by `scribe split unipen` with its default categories"
        )
    pools: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    for hand in hands:
        for char, glyphs in hand.glyphs.items():
            pools[hand.source][char] += glyphs
    lines: list[Kept] = []
    borrowed = 0
    for _ in range(_TRIES * count):
        if len(lines) == count:
            break
        hand = hands[int(rng.integers(len(hands)))]
        line = _line(hand, pools[hand.source], words, rng)
        if line is None or validate_offsets(line[1]) is not None:
            continue
        text, offsets = line
        borrowed += sum(c not in hand.glyphs for c in _inked(text))
        sample_id = f"composed-{split}-{len(lines):06d}"
        lines.append(Kept(sample_id, text, hand.writer, None, offsets, {}, {"source": hand.source}))
    if len(lines) < count:
        raise ScribeError(f"the characters in {split_dir / split} write too little of the composed texts; "
                          "give a UNIPEN split with digits and capitals (categories 1a, 1b)")
    return lines, len(hands), borrowed


def compose_lines(
    split_dir: Path, out_dir: Path, lines: int, *, seed: int = 0, force: bool = False, progress: ProgressFn = no_progress
) -> ComposeReport:
    """Write a split dataset of composed lines to ``out_dir`` from the UNIPEN split in ``split_dir``.

    ``lines`` lines go to training, a tenth as many each to val and test, each
    composed from its own split's writers. ``seed`` makes the texts, the hands and
    the spacing reproducible. ``out_dir`` is written as ``scribe split`` writes.
    """
    source = DatasetMeta.load(split_dir)
    if source.dataset != "unipen":
        raise ScribeError(f"{split_dir} holds a split of {source.dataset or 'an unnamed dataset'}, not of unipen; "
                          "compose lines from a folder written by `scribe split unipen`")
    if lines < 1:
        raise ScribeError(f"`lines` must be at least 1, not {lines}")
    check_out_dir(out_dir, force)
    rng = np.random.default_rng(seed)
    by_split: dict[str, list[Kept]] = {}
    hands: dict[str, int] = {}
    borrowed = 0
    for split in SPLITS:
        count = lines if split == "train" else max(1, round(lines * HELD_OUT_SHARE))
        by_split[split], hands[split], taken = _compose_split(split_dir, split, count, rng, progress)
        borrowed += taken
    meta = _meta(split_dir, source, by_split, lines, seed)
    try:
        write_split_folders(out_dir, by_split, meta, progress)
    except OSError as exc:
        raise cannot_write(out_dir, exc) from exc
    inked = sum(len(_inked(s.text)) for samples in by_split.values() for s in samples)
    return ComposeReport(out_dir, meta.counts, hands, meta.alphabet, borrowed / max(inked, 1))


def _meta(split_dir: Path, source: DatasetMeta, by_split: dict[str, list[Kept]], lines: int, seed: int) -> DatasetMeta:
    """meta.json of a composed dataset: statistics of its training lines, provenance of the UNIPEN split."""
    mean, std = offsets_stats([s.offsets for s in by_split["train"]])
    return DatasetMeta(
        dataset="unipen-composed",
        source=str(Path(split_dir).resolve()),
        source_format="scribe split of unipen",
        mean=mean,
        std=std,
        units=source.units,
        preprocessing={
            "composed": {"training_lines": lines, "seed": seed},
            "statistics": "the training lines",
            "simplify": source.preprocessing.get("simplify"),  # the characters' own, from the UNIPEN split
        },
        split_method=f"the UNIPEN split's writers ({source.split_method})",
        **written_fields(by_split),
    )
