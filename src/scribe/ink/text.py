"""Preparing the user's text for the model, before any sampling.

A model can only write the characters of its alphabet, and a page only holds so
many characters per line. The steps, in the order a caller runs them:

1. :func:`decode_input` turns the bytes of a file or stdin into text (UTF-8, with or
   without a byte order mark), naming the bad byte when it is not UTF-8.
2. :func:`check_text` rejects empty input with a message that says where text comes from.
3. :func:`fit_to_alphabet` replaces characters the model cannot write by near
   equivalents (``’`` -> ``'``, ``é`` -> ``e``, ``½`` -> ``1/2``), leaves out those that
   have none, and reports every change so the caller can warn about it
   (:func:`describe_substitutions`) or refuse (``strict=True``).
4. :func:`scribe.ink.wrapping.wrap_text` turns the text into the lines to write.

Fitting before wrapping matters: a substitution such as ``…`` -> ``...`` changes widths.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from scribe.errors import ScribeError

#: The characters that end a line: exactly those :meth:`str.splitlines` splits on, so
#: :func:`fit_to_alphabet` keeps every line break that :func:`scribe.ink.wrapping.split_paragraphs` sees.
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


# Typographic characters that mean what a plain ASCII character means: what a word
# processor or a web page puts into pasted text. Tried first, before decomposition.
_EQUIVALENTS: dict[str, str] = {
    # single quotes, apostrophes, primes (feet), accents used as apostrophes, single guillemets
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2035\u00b4`\u02bb\u02bc\u2039\u203a", "'"),
    # double quotes, double primes (inches), guillemets, CJK double quotes
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u301d\u301e", '"'),
    # hyphen, non-breaking hyphen, figure/en/em dash, horizontal bar, minus sign
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    # list bullets (U+F0B7 is the Symbol-font bullet of Word lists), middle dots
    **dict.fromkeys("\u2022\u2023\u2043\u25aa\u25cf\u25e6\u00b7\u2219\uf0b7", "-"),
    # tab, no-break, ogham, en/em/thin/hair/figure/narrow/math/ideographic spaces
    **dict.fromkeys(
        "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "
    ),
    "\u2026": "...",  # ellipsis
    "\u2025": "..",  # two-dot leader
    "\u00d7": "x",  # multiplication sign
    "\u00f7": "/",  # division sign
    "\u2044": "/",  # fraction slash (what NFKD makes of ½: 1⁄2)
    "\u2215": "/",  # division slash
    "\u00b1": "+/-",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
    "\u00b5": "u",  # micro sign, as in 5 µm
}

# Letters that Unicode decomposition leaves alone but that have a usual Latin spelling.
_LETTERS: dict[str, str] = {
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th",
    "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T", "ı": "i", "ƒ": "f",
}  # fmt: skip

# Stand-ins, best first, for characters a smaller alphabet may lack. Tried last; a
# stand-in the alphabet lacks is itself looked up, so chains like “ -> " -> ' work.
_FALLBACKS: dict[str, tuple[str, ...]] = {
    '"': ("'",),
    ";": (",",),
    ":": (".",),
    "!": (".",),
    "?": (".",),
    "(": ("[",),
    ")": ("]",),
    "[": ("(",),
    "]": (")",),
    "{": ("(", "["),
    "}": (")", "]"),
    "&": ("+",),
    "_": ("-",),
    "\\": ("/",),
    "|": ("/",),
}

# How many characters a strict-mode error lists before saying "and N more".
_MAX_LISTED = 10


@dataclass
class Substitution:
    """One kind of change :func:`fit_to_alphabet` made, and how often, for a warning."""

    original: str  # the character in the user's text
    replacement: str  # what is written instead ("" when dropped)
    count: int


def fit_to_alphabet(text: str, alphabet: str, *, strict: bool = False) -> tuple[str, list[Substitution]]:
    """Replace characters the model cannot write by near equivalents; report what changed.

    A model given a character outside its alphabet fails or scribbles, so every such
    character is replaced by the first of these that the alphabet can write: a
    typographic equivalent (``’`` -> ``'``, ``–`` -> ``-``, ``…`` -> ``...``, unusual
    spaces and tabs -> space), the base letters of its Unicode (NFKD) decomposition
    (``é`` -> ``e``, ``ﬁ`` -> ``fi``, ``½`` -> ``1/2``), a usual spelling (``ß`` -> ``ss``),
    the other case, a stand-in for alphabets without it (``;`` -> ``,``), and for
    whitespace a space. Each replacement must be writable as a whole, looked up the same
    way; a character with none is dropped. A character and the combining marks after
    it are one unit (``e`` + U+0301 is reported as ``é``). Characters of the alphabet and
    line breaks stay as they are; invisible format characters (soft hyphen, zero-width
    space and joiners, direction marks, a stray BOM) are removed without a report, as
    removing them changes nothing on the page.

    Returns the fitted text and the changes aggregated per (original, replacement), in
    order of first appearance. With ``strict=True`` any change raises ScribeError instead.
    """
    writable = frozenset(alphabet)
    resolved: dict[str, str] = {}
    changes: dict[tuple[str, str], Substitution] = {}
    pieces: list[str] = []
    for cluster in _clusters(text):
        if cluster in writable or cluster in LINE_BREAKS:
            pieces.append(cluster)
            continue
        if unicodedata.category(cluster[0]) == "Cf":
            continue
        original = unicodedata.normalize("NFC", cluster)
        if original not in resolved:
            resolved[original] = _write_as(original, writable) or ""
        replacement = resolved[original]
        if replacement != original:
            _count(changes, original, replacement)
        if replacement:
            pieces.append(_set_off(pieces, original, replacement))
    substitutions = list(changes.values())
    if strict and substitutions:
        raise _strict_error(substitutions)
    return "".join(pieces), substitutions


def describe_char(text: str) -> str:
    """``'é' (U+00E9)``: a character named so that spaces and invisible ones are unambiguous."""
    codes = " ".join(f"U+{ord(ch):04X}" for ch in text)
    return f"{text!r} ({codes})"


def describe_substitutions(substitutions: list[Substitution]) -> str:
    """One line for a warning, e.g. ``substituted: ’ -> ' (3), é -> e (1); dropped: ☃ (1)``; "" if none."""
    substituted = [
        f"{_shown(s.original)} -> {_shown(s.replacement)} ({s.count})" for s in substitutions if s.replacement
    ]
    dropped = [f"{_shown(s.original)} ({s.count})" for s in substitutions if not s.replacement]
    parts = []
    if substituted:
        parts.append("substituted: " + ", ".join(substituted))
    if dropped:
        parts.append("dropped: " + ", ".join(dropped))
    return "; ".join(parts)


def check_text(text: str) -> str:
    """Return ``text``, or raise ScribeError when there is nothing to write, before any work is done."""
    if not text.strip():
        raise ScribeError(
            "no text to write: the input is empty or only whitespace; "
            "give some `text`"
        )
    return text


def decode_input(data: bytes, source: str) -> str:
    """Decode the bytes of a file or stdin as UTF-8, dropping a leading byte order mark.

    Any other encoding is refused rather than guessed, naming ``source`` and the
    first bad byte, because a wrong guess would silently write the wrong letters.
    """
    head = data[:200]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or head.count(0) > len(head) // 4:
        raise ScribeError(
            f"{source} is UTF-16 text or binary data, not UTF-8; if it is text, re-save it as UTF-8, "
            "e.g. with `iconv -f utf-16 -t utf-8 OLD > NEW`"
        )
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    try:
        return data[len(bom) :].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = len(bom) + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise ScribeError(
            f"{source} is not UTF-8 text: byte 0x{data[offset]:02X} at offset {offset} (line {line}) is invalid; "
            "re-save it as UTF-8, e.g. with `iconv -f latin1 -t utf-8 OLD > NEW`"
        ) from exc


# --------------------------------------------------------------------------- fitting


def _clusters(text: str) -> Iterator[str]:
    """Each character with the combining marks that follow it, the unit a reader sees as one letter."""
    cluster = ""
    for ch in text:
        if cluster and cluster[0] not in LINE_BREAKS and unicodedata.category(ch).startswith("M"):
            cluster += ch
            continue
        if cluster:
            yield cluster
        cluster = ch
    if cluster:
        yield cluster


def _write_as(text: str, writable: frozenset[str], visiting: frozenset[str] = frozenset()) -> str | None:
    """What to write for one character (cluster), or None when the alphabet has nothing for it.

    ``visiting`` holds the characters being looked up further up, so that mutual
    stand-ins (``(`` <-> ``[``) end instead of going round in circles.
    """
    if text in writable:
        return text
    if text in visiting:
        return None
    inner = visiting | {text}
    for candidate in _candidates(text):
        written = _write_all(candidate, writable, inner)
        if written is not None:
            return written
    return None


def _write_all(candidate: str, writable: frozenset[str], visiting: frozenset[str]) -> str | None:
    """A candidate replacement, written character by character, or None if any of them cannot be."""
    pieces = []
    for ch in candidate:
        piece = _write_as(ch, writable, visiting)
        if piece is None:
            return None
        pieces.append(piece)
    return "".join(pieces)


def _candidates(text: str) -> Iterator[str]:
    """Replacements for a character the alphabet lacks, best first (see :func:`fit_to_alphabet`)."""
    if text in _EQUIVALENTS:
        yield _EQUIVALENTS[text]
    base = _base_letters(text)
    if base.strip() and base != text:
        yield base
    if text in _LETTERS:
        yield _LETTERS[text]
    if text.swapcase() != text:
        yield text.swapcase()
    yield from _FALLBACKS.get(text, ())
    if text.isspace():
        yield " "


def _base_letters(text: str) -> str:
    """NFKD without the combining marks: ``é`` -> ``e``, ``ﬁ`` -> ``fi``, ``²`` -> ``2``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.category(ch).startswith("M"))


def _set_off(written: list[str], original: str, replacement: str) -> str:
    """Put a space between a number and a fraction written out after it: ``1½`` -> ``1 1/2``, not ``11/2``."""
    is_fraction = "\u2044" in unicodedata.normalize("NFKD", original)
    after_digit = bool(written) and written[-1][-1].isdecimal()
    return " " + replacement if is_fraction and after_digit and replacement[0].isdecimal() else replacement


def _count(changes: dict[tuple[str, str], Substitution], original: str, replacement: str) -> None:
    """Add one occurrence to the aggregated changes, keeping the order of first appearance."""
    key = (original, replacement)
    if key in changes:
        changes[key].count += 1
    else:
        changes[key] = Substitution(original, replacement, 1)


def _strict_error(substitutions: list[Substitution]) -> ScribeError:
    """The one-line error of strict mode: which characters cannot be written, and the way out."""
    originals = [s.original for s in substitutions]  # one Substitution per original: replacements are fixed
    listed = ", ".join(describe_char(ch) for ch in originals[:_MAX_LISTED])
    more = f" and {len(originals) - _MAX_LISTED} more" if len(originals) > _MAX_LISTED else ""
    return ScribeError(
        f"the model cannot write {listed}{more}; edit the text, or drop `strict` "
        "to substitute near equivalents (characters without one are left out)"
    )


def _shown(text: str) -> str:
    """A character as a warning shows it: itself when visible, else quoted with escapes (``'\\xa0'``)."""
    return text if text.isprintable() and not any(ch.isspace() for ch in text) else repr(text)

