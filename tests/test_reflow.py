"""Reflowing text an editor wrapped: paragraphs join, greetings, signatures, addresses and lists keep their lines.

(scribe.ink.wrapping.split_paragraphs and wrap_text)
"""

from __future__ import annotations

from scribe.ink.wrapping import relative_char_width, split_paragraphs, wrap_text

LETTER = """\
Dear Margaret,

Thank you so much for the lovely parcel, which arrived on Tuesday just
as we were leaving for the coast. The children opened it in the car and
have not stopped talking about the kite since. We flew it on the beach
at Camber Sands until the wind dropped.

We hope to visit you in the spring, if the trains allow it. Could you
let us know which weekend suits you best?

Best wishes,
Anna
"""


def test_a_hard_wrapped_letter_reflows_and_keeps_its_greeting_blank_lines_and_signature() -> None:
    assert split_paragraphs(LETTER) == [
        "Dear Margaret,",
        None,
        "Thank you so much for the lovely parcel, which arrived on Tuesday just as we were leaving for the coast. "
        "The children opened it in the car and have not stopped talking about the kite since. We flew it on the "
        "beach at Camber Sands until the wind dropped.",
        None,
        "We hope to visit you in the spring, if the trains allow it. Could you let us know which weekend suits you best?",
        None,
        "Best wishes,",
        "Anna",
    ]


def test_the_reflowed_paragraph_fills_every_line_but_its_last() -> None:
    lines = wrap_text(LETTER, 45, relative_char_width)
    paragraph = lines[2 : lines.index(None, 2)]
    width = [sum(relative_char_width(ch) for ch in line) for line in paragraph]
    assert len(paragraph) >= 4
    assert min(width[:-1]) > 0.8 * 45  # no stub of two words in the middle
    kept = wrap_text(LETTER, 45, relative_char_width, reflow=False)
    ragged = kept[2 : kept.index(None, 2)]
    assert len(ragged) > len(paragraph)  # what reflow avoids: a full line, a stub, a full line, ...
    assert min(sum(relative_char_width(ch) for ch in line) for line in ragged[:-1]) < 0.7 * 45


def test_addresses_lists_and_short_lines_keep_their_lines() -> None:
    address = "Mrs M. Hughes\n14 Orchard Lane\nLittle Baddow\nChelmsford CM3 4SX"
    assert split_paragraphs(address) == address.splitlines()
    shopping = (
        "Things to bring for the weekend at the cottage by the lake, please:\n"
        "- two warm blankets and the big thermos flask for the walks we plan\n"
        "- the map of the northern hills, the one with the footpaths marked\n"
        "3. and the camera"
    )
    assert split_paragraphs(shopping) == shopping.splitlines()


def test_a_closing_right_under_the_last_sentence_is_not_joined_to_it() -> None:
    text = (
        "It was wonderful to see you all again after such a long time apart, and\n"
        "we are already looking forward to seeing you at the end of the spring.\n"
        "Love,\n"
        "Anna"
    )
    assert split_paragraphs(text)[1:] == ["Love,", "Anna"]


def test_a_line_broken_on_purpose_before_the_margin_stays_broken() -> None:
    text = (
        "The meeting is on Thursday at ten in the large room upstairs\n"  # "Bring" would have fitted here
        "Bring the report.\n"
        "The agenda and the minutes of the last meeting will be sent round later"
    )
    assert len(split_paragraphs(text)) == 3


def test_keeping_lines_keeps_every_input_line() -> None:
    assert split_paragraphs(LETTER, reflow=False) == [line or None for line in LETTER.strip().splitlines()]
