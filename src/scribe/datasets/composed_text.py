"""The texts of composed lines: what people write with digits, capitals and symbols in them.

:mod:`scribe.datasets.composed` sets real isolated characters side by side into
lines; this module decides what those lines say. Each line joins one to four
*tokens*: a word (as written, capitalized or in capitals), a number, a phone
number, a date, a time, a price, a percentage, a code such as a postcode or a
flat number, an ordinal, an address or a small sum. The kinds and their shares
are in :data:`TOKEN_KINDS`; the words come from the caller (the UNIPEN split's
own word labels), so no word list is shipped. Everything is drawn from one
``numpy.random.Generator``: the same seed gives the same texts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

MONTHS = "January February March April May June July August September October November December".split()
LONGEST_LINE = 32  # characters: about what IAM-OnDB's median line holds (29)
_CAPITALS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORDINAL_ENDS = {1: "st", 2: "nd", 3: "rd"}

Token = Callable[[np.random.Generator, Sequence[str]], str]


def _digits(rng: np.random.Generator, count: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, count))


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _word(rng: np.random.Generator, words: Sequence[str]) -> str:
    """A word as the source wrote it, or capitalized, or in capitals (names, signs, headings)."""
    word = _pick(rng, words)
    case = rng.random()
    return word.upper() if case < 0.2 else word.capitalize() if case < 0.6 else word


def _number(rng: np.random.Generator, _: Sequence[str]) -> str:
    return str(int(rng.integers(0, 10 ** int(rng.integers(1, 5)))))


def _phone(rng: np.random.Generator, _: Sequence[str]) -> str:
    groups = [(4, 3, 4), (3, 3, 4), (5, 6), (3, 4), (2, 4, 4)][int(rng.integers(5))]
    text = " ".join(_digits(rng, n) for n in groups)
    form = rng.random()
    if form < 0.2:
        return f"+{rng.integers(1, 99)} {text}"
    if form < 0.35 and len(groups) == 3:
        return f"({_digits(rng, 3)}) {_digits(rng, 3)}-{_digits(rng, 4)}"
    return text


def _date(rng: np.random.Generator, _: Sequence[str]) -> str:
    day, month, year = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(1900, 2040))
    form = int(rng.integers(5))
    if form == 0:
        return f"{day:02d}/{month:02d}/{year}"
    if form == 1:
        return f"{day}.{month}.{year % 100:02d}"
    if form == 2:
        return f"{year}-{month:02d}-{day:02d}"
    if form == 3:
        return f"{day} {MONTHS[month - 1]} {year}"
    return f"{MONTHS[month - 1][:3]} {day}, {year}"


def _time(rng: np.random.Generator, _: Sequence[str]) -> str:
    hour, minute = int(rng.integers(0, 24)), int(rng.integers(0, 12)) * 5
    return f"{hour}:{minute:02d}" if rng.random() < 0.6 else f"{hour % 12 + 1}.{minute:02d}{_pick(rng, ('am', 'pm'))}"


def _price(rng: np.random.Generator, _: Sequence[str]) -> str:
    whole = int(rng.integers(0, 10 ** int(rng.integers(1, 4))))
    return f"${whole}.{_digits(rng, 2)}" if rng.random() < 0.7 else f"${whole:,}"


def _percent(rng: np.random.Generator, _: Sequence[str]) -> str:
    return f"{rng.integers(0, 100)}%" if rng.random() < 0.7 else f"{rng.integers(0, 10)}.{rng.integers(0, 10)}%"


def _code(rng: np.random.Generator, _: Sequence[str]) -> str:
    """Postcodes, flat and room numbers, references: capitals and digits together."""
    caps = lambda n: "".join(_pick(rng, _CAPITALS) for _ in range(n))  # noqa: E731
    forms = (
        lambda: f"{caps(2)}{rng.integers(1, 20)} {rng.integers(0, 10)}{caps(2)}",
        lambda: f"No. {rng.integers(1, 200)}",
        lambda: f"#{rng.integers(1, 1000)}",
        lambda: f"{rng.integers(1, 99)}{caps(1)}",
        lambda: f"{caps(1)}-{rng.integers(1, 100)}",
        lambda: f"{caps(3)} {_digits(rng, 3)}",
        lambda: f"{_digits(rng, 5)}",
    )
    return str(forms[int(rng.integers(len(forms)))]())


def _ordinal(rng: np.random.Generator, _: Sequence[str]) -> str:
    n = int(rng.integers(1, 32))
    return f"{n}{'th' if 10 < n % 100 < 14 else _ORDINAL_ENDS.get(n % 10, 'th')}"


def _address(rng: np.random.Generator, words: Sequence[str]) -> str:
    street = _pick(rng, ("St", "Rd", "Ave", "Lane", "Road", "Street", "Square"))
    return f"{rng.integers(1, 300)} {_pick(rng, words).capitalize()} {street}"


def _sum(rng: np.random.Generator, _: Sequence[str]) -> str:
    a, b = int(rng.integers(0, 100)), int(rng.integers(0, 100))
    sign, result = [("+", a + b), ("-", a - b), ("x", a * b)][int(rng.integers(3))]
    return f"{a} {sign} {b} = {result}"


#: Every kind of token and its share of the draws. Words keep the lines readable as text;
#: the rest is what IAM-OnDB's prose lacks.
TOKEN_KINDS: dict[str, tuple[Token, float]] = {
    "word": (_word, 0.34),
    "number": (_number, 0.12),
    "phone": (_phone, 0.08),
    "date": (_date, 0.1),
    "time": (_time, 0.05),
    "price": (_price, 0.07),
    "percent": (_percent, 0.04),
    "code": (_code, 0.1),
    "ordinal": (_ordinal, 0.04),
    "address": (_address, 0.03),
    "sum": (_sum, 0.03),
}


def composed_text(rng: np.random.Generator, words: Sequence[str], longest: int = LONGEST_LINE) -> str:
    """One line's text: one to four tokens, some followed by punctuation, at most ``longest`` characters."""
    kinds = list(TOKEN_KINDS.values())
    shares = np.array([share for _, share in kinds])
    tokens: list[str] = []
    for _ in range(int(rng.integers(1, 5))):
        make = kinds[int(rng.choice(len(kinds), p=shares / shares.sum()))][0]
        token = make(rng, words)
        if rng.random() < 0.12:
            token += _pick(rng, (",", ".", ":", ";", "!", "?"))
        if tokens and len(" ".join([*tokens, token])) > longest:
            break
        tokens.append(token)
    return " ".join(tokens)[:longest].rstrip()
